"""PaperRecord: the one shape every source yields, DailyEntry for a paper's place on a daily
list, and ParseProblem for what a parser skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# When two sources disagree about the same version of a paper, the richer one wins. arXiv's
# announcement feeds rank with HF daily: they name no submission times, comments or submitter.
SOURCE_PRIORITY = {
    "oai": 4,
    "snapshot": 3,
    "arxiv-api": 2,
    "arxiv-rss": 1,
    "hf-daily": 1,
    "demo": 0,
}


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One arXiv version: v1 is the first submission. Sizes are in kilobytes as arXiv states them."""

    version: int
    submitted_at: datetime | None = None
    size_kb: int | None = None
    source_type: str | None = None
    withdrawn: bool = False


@dataclass(slots=True)
class DailyEntry:
    """A paper's appearance on a daily list (Hugging Face or ours): the day and who put it there."""

    day: date
    submitter_name: str | None = None
    submitter_username: str | None = None
    upvotes: int = 0
    organization: str | None = None
    # How many authors the source counted where it names none (the seed page's "16 authors").
    author_count: int | None = None


@dataclass(slots=True)
class PaperRecord:
    """A paper as one source describes it; text already normalised (see ingest/text.py).

    `categories` lists the primary category first. `versions` may be partial (the query API
    names only v1 and the current version; HF JSON names none).
    """

    arxiv_id: str
    title: str
    abstract: str
    source: str
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    versions: list[VersionRecord] = field(default_factory=list)
    submitter: str | None = None
    comments: str | None = None
    journal_ref: str | None = None
    report_no: str | None = None
    license: str | None = None
    dois: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    updated_at: datetime | None = None
    datestamp: date | None = None
    latest_version: int | None = None
    deleted: bool = False
    organization: str | None = None
    github_repo: str | None = None
    project_page: str | None = None
    daily: DailyEntry | None = None


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """A record a parser skipped: where it was (file:line, URL, record id) and why."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"
