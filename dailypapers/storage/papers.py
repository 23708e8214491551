"""Writing and reading papers: merge each incoming PaperRecord with what the catalog holds,
then write only what changed, a batch per transaction.

Merge rule (ARXIV.md 6.4): one row per version-less id. Each record has a rank (latest version,
OAI datestamp, source priority); the higher-ranked side's non-empty fields win, the other side
fills gaps. Versions are the union by number. The datestamp and the version only move forward.
So any order of routes, sets and repeats converges on the same row, and a repeat changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from ..ingest.records import SOURCE_PRIORITY, DailyEntry, PaperRecord
from ..ingest.text import find_links
from .schema import daily_submissions, paper_categories, paper_versions, papers

# Columns that describe the paper (compared to decide "updated" vs "unchanged").
_CONTENT = [
    c.name for c in papers.columns if c.name not in ("arxiv_id", "created_at", "modified_at")
]
_JSON_LISTS = ("authors", "categories", "dois", "github_repos", "project_pages")
# Bound parameters per IN (...) query; SQLite allows 32766, PostgreSQL 65535.
_IN_CHUNK = 5000


@dataclass
class BatchCounts:
    """What one write did. `changed` lists the ids written (new or updated)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    daily_new: int = 0
    daily_updated: int = 0
    changed: list[str] = field(default_factory=list)

    def add(self, other: BatchCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.daily_new += other.daily_new
        self.daily_updated += other.daily_updated


def naive_utc(moment: datetime | None) -> datetime | None:
    """Aware -> naive UTC, microseconds dropped: what both databases store and return alike."""
    if moment is None:
        return None
    if moment.tzinfo is not None and moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.tzinfo is None and not moment.microsecond:
        return moment
    return moment.replace(tzinfo=None, microsecond=0)


def _rank(latest_version: int | None, datestamp: date | None, source_rank: int) -> tuple:
    return (latest_version or 0, datestamp or date.min, source_rank)


def _record_row(record: PaperRecord) -> dict[str, Any]:
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


def _version_rows(record: PaperRecord) -> dict[int, dict[str, Any]]:
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
    for name in _CONTENT:
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
    _derive_from_versions(merged, versions)
    return merged, versions


def _derive_from_versions(row: dict[str, Any], versions: dict[int, dict[str, Any]]) -> None:
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
        row["updated_at"] = max(dated)


@dataclass
class _Folded:
    row: dict[str, Any]
    versions: dict[int, dict[str, Any]]
    daily: DailyEntry | None
    source: str
    deleted: bool


def _fold_batch(records: Iterable[PaperRecord]) -> dict[str, _Folded]:
    """Records -> one entry per id, merging repeats of an id within the batch in order."""
    folded: dict[str, _Folded] = {}
    for record in records:
        earlier = folded.get(record.arxiv_id)
        if record.deleted:
            if earlier is None:
                folded[record.arxiv_id] = _Folded({}, {}, None, record.source, True)
            else:
                earlier.row = {**earlier.row, "hidden": True} if earlier.row else {}
                earlier.deleted = True
            continue
        row, versions = _record_row(record), _version_rows(record)
        _derive_from_versions(row, versions)
        if earlier is not None and earlier.row:
            row, versions = merge_rows(earlier.row, earlier.versions, row, versions)
        daily = record.daily or (earlier.daily if earlier else None)
        folded[record.arxiv_id] = _Folded(row, versions, daily, record.source, False)
    return folded


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _load_rows(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        for row in conn.execute(sa.select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings():
            item = dict(row)
            for name in _JSON_LISTS:
                item[name] = json.loads(item[name])
            item["has_code"] = bool(item["has_code"])
            item["withdrawn"] = bool(item["withdrawn"])
            item["hidden"] = bool(item["hidden"])
            rows[item["arxiv_id"]] = item
    return rows


def _load_versions(conn: Connection, ids: list[str]) -> dict[str, dict[int, dict[str, Any]]]:
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for chunk in _chunks(ids):
        query = sa.select(paper_versions).where(paper_versions.c.arxiv_id.in_(chunk))
        for row in conn.execute(query).mappings():
            item = dict(row)
            paper = item.pop("arxiv_id")
            item["withdrawn"] = bool(item["withdrawn"])
            found.setdefault(paper, {})[item["version"]] = item
    return found


def _dump(row: dict[str, Any], now: datetime, created: datetime | None) -> dict[str, Any]:
    out = dict(row)
    for name in _JSON_LISTS:
        value = out[name]
        out[name] = json.dumps(value, ensure_ascii=False) if value else "[]"
    out["created_at"] = created or now
    out["modified_at"] = now
    return out


def _sqlite_datetime(value: datetime) -> str:
    # Byte-for-byte what SQLAlchemy's SQLite DateTime writes, so reads parse it back.
    return value.isoformat(" ", "microseconds")


def _sqlite_date(value: date) -> str:
    return value.isoformat()


@lru_cache(maxsize=32)
def _insert_plan(
    dialect: Dialect, table: sa.Table, names: tuple[str, ...], conflict: tuple[str, ...]
) -> tuple[str, Callable[[dict[str, Any]], tuple], list[tuple[int, Callable[[Any], Any]]]]:
    """SQL text, a row -> tuple getter, and (position, converter) pairs for a bulk write.

    Bulk writes bypass SQLAlchemy's per-row parameter handling (the hot path of a snapshot
    import) and hand tuples straight to the driver's executemany. `INSERT ... ON CONFLICT ...
    DO UPDATE SET x = excluded.x` is the same SQL on SQLite and PostgreSQL. Only SQLite needs
    converters (dates as text); both drivers take Python booleans, ints and strings as they are.
    Columns not in `names` keep their defaults on insert and their values on update.
    """
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(mark for _ in names)})"
    if conflict:
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n not in conflict)
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    if dialect.name == "sqlite":
        for index, name in enumerate(names):
            kind = table.c[name].type
            if isinstance(kind, sa.DateTime):
                converters.append((index, _sqlite_datetime))
            elif isinstance(kind, sa.Date):
                converters.append((index, _sqlite_date))
    getter = itemgetter(*names)
    return sql, getter, converters


def _write_rows(
    conn: Connection, table: sa.Table, rows: list[dict[str, Any]], conflict: tuple[str, ...] = ()
) -> None:
    if not rows:
        return
    sql, getter, converters = _insert_plan(conn.dialect, table, tuple(rows[0]), conflict)
    params: list[Any] = list(map(getter, rows))
    if converters:
        for position, values in enumerate(params):
            values = list(values)
            for index, convert in converters:
                if values[index] is not None:
                    values[index] = convert(values[index])
            params[position] = tuple(values)
    conn.exec_driver_sql(sql, params)


def write_papers(
    conn: Connection,
    records: Iterable[PaperRecord],
    now: datetime | None = None,
) -> BatchCounts:
    """Merge `records` into the catalog inside the caller's transaction; return the counts.

    A record with `deleted` hides a paper the catalog has and is ignored otherwise. Records
    carrying a `daily` entry also upsert the paper's daily submission (one per paper).
    An empty input gives zero counts and touches nothing.
    """
    now = naive_utc(now or datetime.now(UTC))
    assert now is not None
    records = list(records)
    folded = _fold_batch(records)
    # A repeat of an id within the batch is merged into the first; it adds no paper.
    counts = BatchCounts(unchanged=len(records) - len(folded))
    if not folded:
        return counts
    ids = list(folded)
    existing = _load_rows(conn, ids)
    existing_versions = _load_versions(conn, list(existing)) if existing else {}

    paper_rows: list[dict[str, Any]] = []
    version_rows: list[dict[str, Any]] = []
    category_rows: list[dict[str, Any]] = []
    for arxiv_id, item in folded.items():
        old = existing.get(arxiv_id)
        if old is None:
            if not item.row:  # deleted upstream and never in the catalog
                counts.unchanged += 1
                continue
            merged, merged_versions, created = item.row, item.versions, None
            counts.new += 1
        else:
            old_versions = existing_versions.get(arxiv_id, {})
            if not item.row:
                merged, merged_versions = {**old, "hidden": True}, old_versions
            else:
                merged, merged_versions = merge_rows(old, old_versions, item.row, item.versions)
                if item.deleted:
                    merged["hidden"] = True
            if all(merged[c] == old[c] for c in _CONTENT) and merged_versions == old_versions:
                counts.unchanged += 1
                continue
            created = old["created_at"]
            counts.updated += 1
        counts.changed.append(arxiv_id)
        paper_rows.append(_dump(merged, now, created))
        version_rows.extend({"arxiv_id": arxiv_id, **v} for v in merged_versions.values())
        category_rows.extend(
            {"arxiv_id": arxiv_id, "category": category, "is_primary": index == 0}
            for index, category in enumerate(dict.fromkeys(merged["categories"]))
        )

    _write_rows(conn, papers, paper_rows, ("arxiv_id",))
    updated_ids = [r["arxiv_id"] for r in paper_rows if r["arxiv_id"] in existing]
    for chunk in _chunks(updated_ids):
        conn.execute(sa.delete(paper_versions).where(paper_versions.c.arxiv_id.in_(chunk)))
        conn.execute(sa.delete(paper_categories).where(paper_categories.c.arxiv_id.in_(chunk)))
    _write_rows(conn, paper_versions, version_rows)
    _write_rows(conn, paper_categories, category_rows)

    daily = [(i, f.daily, f.source) for i, f in folded.items() if f.daily and f.row]
    if daily:
        _write_daily(conn, daily, now, counts)
    return counts


def _write_daily(
    conn: Connection, entries: list[tuple[str, DailyEntry, str]], now: datetime, counts: BatchCounts
) -> None:
    ids = [arxiv_id for arxiv_id, _, _ in entries]
    existing: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        query = sa.select(daily_submissions).where(daily_submissions.c.arxiv_id.in_(chunk))
        existing.update({row.arxiv_id: dict(row._mapping) for row in conn.execute(query)})
    rows = []
    for arxiv_id, entry, source in entries:
        row = {
            "arxiv_id": arxiv_id,
            "day": entry.day,
            "submitter_name": entry.submitter_name,
            "submitter_username": entry.submitter_username,
            "upvotes": entry.upvotes,
            "organization": entry.organization,
            "source": source,
        }
        old = existing.get(arxiv_id)
        if old is not None and all(old[k] == v for k, v in row.items()):
            continue
        if old is None:
            counts.daily_new += 1
        else:
            counts.daily_updated += 1
        row["created_at"] = old["created_at"] if old else now
        rows.append(row)
    _write_rows(conn, daily_submissions, rows, ("arxiv_id",))


def get_paper(conn: Connection, arxiv_id: str) -> dict[str, Any] | None:
    """The stored paper (lists decoded) with `versions` (ascending) and `daily` (or None)."""
    row = _load_rows(conn, [arxiv_id]).get(arxiv_id)
    if row is None:
        return None
    versions = _load_versions(conn, [arxiv_id]).get(arxiv_id, {})
    row["versions"] = [versions[n] for n in sorted(versions)]
    daily = conn.execute(
        sa.select(daily_submissions).where(daily_submissions.c.arxiv_id == arxiv_id)
    ).first()
    row["daily"] = dict(daily._mapping) if daily else None
    return row
