"""What the catalog hands out: a Paper (one row across its versions), a DailyItem (a paper as
it stands on a daily list) and the filters that narrow lists and searches. Storage builds these;
pages, feeds, the JSON API, the CLI and jobs read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .records import VersionRecord

LOCAL_PREFIX = "local-"  # ids of papers that are not on arXiv (the demo's seed page)


@dataclass
class Paper:
    """A stored paper: the merged description of every source, its versions (ascending) and,
    when it is on the daily list, the raw submission row (`daily`)."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    primary_category: str | None
    categories: list[str]
    submitter: str | None
    comments: str | None
    journal_ref: str | None
    report_no: str | None
    license: str | None
    dois: list[str]
    github_repos: list[str]
    project_pages: list[str]
    has_code: bool
    organization: str | None
    published_at: datetime | None
    updated_at: datetime | None
    datestamp: date | None
    latest_version: int | None
    withdrawn: bool
    hidden: bool
    source: str
    source_rank: int
    created_at: datetime
    modified_at: datetime
    versions: list[VersionRecord] = field(default_factory=list)
    daily: dict[str, Any] | None = None

    @property
    def is_local(self) -> bool:
        """Not an arXiv paper (no arXiv page or PDF to link)."""
        return self.arxiv_id.startswith(LOCAL_PREFIX)


@dataclass(frozen=True)
class Thumbnail:
    """A rendered first page: the image's file name under `<data_dir>/thumbnails/` (its
    content hash and format, so its URL never needs to change) and its size in pixels."""

    file: str
    width: int
    height: int


@dataclass
class DailyItem:
    """A paper as it appears on a daily list: upvotes are those imported plus those cast here."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    primary_category: str | None
    categories: list[str]
    github_repos: list[str]
    project_pages: list[str]
    published_at: datetime | None
    updated_at: datetime | None
    latest_version: int | None
    withdrawn: bool
    day: date
    submitter_name: str | None
    submitter_username: str | None
    upvotes: int
    organization: str | None
    listed_at: datetime
    featured: bool = False
    comments: int = 0
    thumbnail: Thumbnail | None = None
    author_count: int | None = None  # the source's count where `authors` is empty


@dataclass(frozen=True)
class PaperFilter:
    """What narrows any list or search of papers. Empty categories means all; `years` is an
    inclusive range of publication years; `published` a window of publication times (naive
    UTC, the start included, the end not), which the search language has no words for: a
    Following page asks for it (services/follows.py). Adding a filter is adding a field here and its
    condition in storage/filters.py (and in the keyword index's query, search/keyword.py)."""

    categories: tuple[str, ...] = ()
    years: tuple[int, int] | None = None
    has_code: bool = False
    published: tuple[datetime, datetime] | None = None

    def __bool__(self) -> bool:
        return bool(self.categories or self.years or self.has_code or self.published)


NO_FILTER = PaperFilter()


@dataclass(frozen=True)
class ListFilter:
    """Which daily-list entries a view shows: days (inclusive), the paper filter, a submitter."""

    first_day: date | None = None
    last_day: date | None = None
    papers: PaperFilter = NO_FILTER
    submitter: str | None = None
