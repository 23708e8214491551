"""The merge rule (ARXIV.md 6.4): how the descriptions of one paper from several sources, and
repeats of the same source, become one catalog row.

Each description has a rank (latest version, OAI datestamp, source priority); the higher-ranked
side's non-empty fields win, the other side fills gaps. Versions are the union by number. The
datestamp and the version only move forward. So any order of routes, sets and repeats converges
on the same row, and a repeat changes nothing. Rows here are plain dicts with the columns of the
`papers` table (lists still as lists); storage/papers.py reads and writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .links import find_links
from .records import SOURCE_PRIORITY, DailyEntry, PaperRecord

# The fields that describe the paper, compared to decide "updated" or "unchanged": every
# column of `papers` but the id and our own timestamps (tests/test_merge.py checks the schema),
# in two parts: what any source may describe, then what the record itself holds.
DESCRIPTION_FIELDS = (
    "title",
    "abstract",
    "authors",
    "primary_category",
    "categories",
    "submitter",
    "comments",
    "journal_ref",
    "report_no",
    "license",
    "dois",
    "github_repos",
    "project_pages",
    "has_code",
    "organization",
)
# What only the arXiv record of a paper can say: its dates, versions and standing, and where
# the row came from. A local twin never overrides these (domain/twins.py).
RECORD_FIELDS = (
    "published_at",
    "updated_at",
    "datestamp",
    "latest_version",
    "withdrawn",
    "hidden",
    "source",
    "source_rank",
)
CONTENT_FIELDS = DESCRIPTION_FIELDS + RECORD_FIELDS


def naive_utc(moment: datetime | None) -> datetime | None:
    """Aware -> naive UTC, microseconds dropped: what both databases store and return alike."""
    if moment is None:
        return None
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.tzinfo is None and not moment.microsecond:
        return moment
    return moment.replace(tzinfo=None, microsecond=0)


def _rank(
    latest_version: int | None, datestamp: date | None, source_rank: int
) -> tuple[int, date, int]:
    return (latest_version or 0, datestamp or date.min, source_rank)


def record_row(record: PaperRecord) -> dict[str, Any]:
    """A record as a papers row (without timestamps of our own)."""
    repos, pages = find_links(record.abstract, record.comments)
    # Links a source names directly (HF's githubRepo/projectPage) go through the same
    # parser, so only real http(s) GitHub repositories and pages are kept.
    named_repos, named_pages = find_links(record.github_repo, record.project_page)
    repos = list(dict.fromkeys([*named_repos, *repos]))
    pages = list(dict.fromkeys([*named_pages, *pages]))
    versions = record.versions
    first_date = versions[0].submitted_at if versions and versions[0].version == 1 else None
    return {
        "arxiv_id": record.arxiv_id,
        "title": record.title,
        "abstract": record.abstract,
        "authors": record.authors,
        "primary_category": record.categories[0] if record.categories else None,
        "categories": record.categories,
        "submitter": record.submitter,
        "comments": record.comments,
        "journal_ref": record.journal_ref,
        "report_no": record.report_no,
        "license": record.license,
        "dois": record.dois,
        "github_repos": repos,
        "project_pages": pages,
        "has_code": bool(repos),
        "organization": record.organization,
        "published_at": naive_utc(first_date or record.published_at),
        "updated_at": naive_utc(record.updated_at),
        "datestamp": record.datestamp,
        "latest_version": record.latest_version,
        "withdrawn": bool(versions and versions[-1].withdrawn),
        "hidden": record.deleted,
        "source": record.source,
        "source_rank": SOURCE_PRIORITY.get(record.source, 0),
    }


def version_rows(record: PaperRecord) -> dict[int, dict[str, Any]]:
    return {
        v.version: {
            "version": v.version,
            "submitted_at": naive_utc(v.submitted_at),
            "size_kb": v.size_kb,
            "source_type": v.source_type,
            "withdrawn": v.withdrawn,
        }
        for v in record.versions
    }


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def merge_rows(
    old: dict[str, Any],
    old_versions: dict[int, dict[str, Any]],
    new: dict[str, Any],
    new_versions: dict[int, dict[str, Any]],
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """Merge two rows of the same paper (see the module docstring). Pure; inputs untouched."""
    old_rank = _rank(old["latest_version"], old["datestamp"], old["source_rank"])
    new_rank = _rank(new["latest_version"], new["datestamp"], new["source_rank"])
    winner, loser = (new, old) if new_rank >= old_rank else (old, new)
    merged = {}
    for name in CONTENT_FIELDS:
        value = winner[name]
        merged[name] = loser[name] if _is_empty(value) else value
    merged["arxiv_id"] = old["arxiv_id"]
    merged["latest_version"] = max(old["latest_version"] or 0, new["latest_version"] or 0) or None
    stamps = [d for d in (old["datestamp"], new["datestamp"]) if d]
    merged["datestamp"] = max(stamps) if stamps else None
    merged["hidden"] = new["hidden"] if winner is new else old["hidden"]

    versions = {n: dict(v) for n, v in old_versions.items()}
    for number, row in new_versions.items():
        if number not in versions:
            versions[number] = dict(row)
            continue
        current = versions[number]
        prefer_new = winner is new
        for key, value in row.items():
            if _is_empty(current[key]) or (prefer_new and not _is_empty(value)):
                current[key] = value
        current["withdrawn"] = bool(current["withdrawn"] or row["withdrawn"])
    derive_from_versions(merged, versions)
    return merged, versions


def derive_from_versions(row: dict[str, Any], versions: dict[int, dict[str, Any]]) -> None:
    """Fields the version list decides when it knows them: v1 date, newest date, withdrawn."""
    row["has_code"] = bool(row["github_repos"])
    if not versions:
        return
    ordered = sorted(versions)
    row["latest_version"] = max(ordered[-1], row["latest_version"] or 0)
    first = versions.get(1, {}).get("submitted_at")
    if first:
        row["published_at"] = first
    row["withdrawn"] = bool(versions[ordered[-1]]["withdrawn"])
    dated = [v["submitted_at"] for v in versions.values() if v["submitted_at"]]
    if dated:
        newest = max(dated)
        # A version an announcement feed named has no submission time yet: the announcement
        # time the feed gave (the row's updated_at) stands until a route that knows it says.
        announced = row["updated_at"]
        if versions[ordered[-1]]["submitted_at"] is None and announced and announced > newest:
            newest = announced
        row["updated_at"] = newest


@dataclass
class Folded:
    row: dict[str, Any]
    versions: dict[int, dict[str, Any]]
    daily: DailyEntry | None
    source: str
    deleted: bool


def fold_batch(records: Iterable[PaperRecord]) -> dict[str, Folded]:
    """Records -> one entry per id, merging repeats of an id within the batch in order."""
    folded: dict[str, Folded] = {}
    for record in records:
        earlier = folded.get(record.arxiv_id)
        if record.deleted:
            if earlier is None:
                folded[record.arxiv_id] = Folded({}, {}, None, record.source, True)
            else:
                earlier.row = {**earlier.row, "hidden": True} if earlier.row else {}
                earlier.deleted = True
            continue
        row, versions = record_row(record), version_rows(record)
        derive_from_versions(row, versions)
        fold_row(folded, row, versions, record.source, record.daily)
    return folded


def fold_row(
    folded: dict[str, Folded],
    row: dict[str, Any],
    versions: dict[int, dict[str, Any]],
    source: str,
    daily: DailyEntry | None = None,
) -> None:
    """Fold one description of a paper, as record_row and version_rows give it (derived),
    into `folded`: merged with an earlier one of the same id, or added."""
    earlier = folded.get(row["arxiv_id"])
    if earlier is not None and earlier.row:
        row, versions = merge_rows(earlier.row, earlier.versions, row, versions)
    daily = daily or (earlier.daily if earlier else None)
    folded[row["arxiv_id"]] = Folded(row, versions, daily, source, False)
