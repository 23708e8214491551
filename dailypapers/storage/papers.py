"""Writing and reading papers: merge each incoming PaperRecord with what the catalog holds (the
rule is domain/merge.py's), then write only what changed, a batch per transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from ..domain.authors import indexed_names
from ..domain.merge import CONTENT_FIELDS, Folded, fold_batch, merge_rows, naive_utc
from ..domain.papers import Paper, PaperFilter
from ..domain.records import DailyEntry, PaperRecord, VersionRecord
from .filters import paper_conditions
from .schema import daily_submissions, paper_authors, paper_categories, paper_versions, papers
from .twins import join_twins, without_merged

JSON_LISTS = ("authors", "categories", "dois", "github_repos", "project_pages")
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
    merged: int = 0
    changed: list[str] = field(default_factory=list)

    def add(self, other: BatchCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.daily_new += other.daily_new
        self.daily_updated += other.daily_updated
        self.merged += other.merged


def id_chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    """`items` in slices of at most `size`, one IN (...) query each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _load_rows(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for chunk in id_chunks(ids):
        for row in conn.execute(sa.select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings():
            item = dict(row)
            for name in JSON_LISTS:
                item[name] = json.loads(item[name])
            item["has_code"] = bool(item["has_code"])
            item["withdrawn"] = bool(item["withdrawn"])
            item["hidden"] = bool(item["hidden"])
            rows[item["arxiv_id"]] = item
    return rows


def _load_versions(conn: Connection, ids: list[str]) -> dict[str, dict[int, dict[str, Any]]]:
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for chunk in id_chunks(ids):
        query = sa.select(paper_versions).where(paper_versions.c.arxiv_id.in_(chunk))
        for row in conn.execute(query).mappings():
            item = dict(row)
            paper = item.pop("arxiv_id")
            item["withdrawn"] = bool(item["withdrawn"])
            found.setdefault(paper, {})[item["version"]] = item
    return found


def dump_list(value: list[str]) -> str:
    """A list column as stored: JSON text, `[]` when empty."""
    return _ENCODER.encode(value) if value else "[]"


# json.dumps(value, ensure_ascii=False), without building an encoder for every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _dump(row: dict[str, Any], now: datetime, created: datetime | None) -> dict[str, Any]:
    out = dict(row)
    for name in JSON_LISTS:
        out[name] = dump_list(out[name])
    out["created_at"] = created or now
    out["modified_at"] = now
    return out


def _sqlite_datetime(value: datetime) -> str:
    # Byte-for-byte what SQLAlchemy's SQLite DateTime writes, so reads parse it back.
    return value.isoformat(" ", "microseconds")


def _sqlite_date(value: date) -> str:
    return value.isoformat()


@lru_cache(maxsize=32)
def insert_plan(
    dialect: Dialect, table: sa.Table, names: tuple[str, ...], conflict: tuple[str, ...]
) -> tuple[
    str, Callable[[dict[str, Any]], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]]
]:
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
    getter = itemgetter(*names)
    return sql, getter, value_converters(dialect.name, table, names)


def value_converters(
    dialect: str, table: sa.Table, names: Sequence[str]
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position, converter) for the values of `names` the driver cannot take as they are:
    dates and times on SQLite, none on PostgreSQL. Converters never see None."""
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    if dialect == "sqlite":
        for index, name in enumerate(names):
            kind = table.c[name].type
            if isinstance(kind, sa.DateTime):
                converters.append((index, _sqlite_datetime))
            elif isinstance(kind, sa.Date):
                converters.append((index, _sqlite_date))
    return converters


def _write_rows(
    conn: Connection, table: sa.Table, rows: list[dict[str, Any]], conflict: tuple[str, ...] = ()
) -> None:
    if not rows:
        return
    sql, getter, converters = insert_plan(conn.dialect, table, tuple(rows[0]), conflict)
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
    Then local papers and their arXiv twins among the batch merge (storage/twins.py;
    `merged` counts them); a record under a local id merged before counts as unchanged.
    An empty input gives zero counts and touches nothing.
    """
    records = list(records)
    kept = without_merged(conn, records)
    return write_folded(conn, fold_batch(kept), len(records), now)


def write_folded(
    conn: Connection,
    folded: dict[str, Folded],
    seen: int,
    now: datetime | None = None,
    written: Sequence[Mapping[str, Any]] = (),
) -> BatchCounts:
    """write_papers after the fold: `folded` holds one entry per id of `seen` descriptions
    (domain/merge.py's fold_batch or fold_row); merge each with the catalog and write.
    `written` are papers rows the caller wrote in this transaction itself (a bulk load's new
    papers: arxiv_id, title, published_at and hidden): they join twins with the others."""
    now = naive_utc(now or datetime.now(UTC))
    assert now is not None
    # A repeat of an id within the batch is merged into the first, and a record of a local
    # paper merged before is dropped (write_papers): neither adds a paper.
    counts = BatchCounts(unchanged=seen - len(folded))
    if not folded and not written:
        return counts
    ids = list(folded)
    existing = _load_rows(conn, ids)
    existing_versions = _load_versions(conn, list(existing)) if existing else {}

    paper_rows: list[dict[str, Any]] = []
    versions_out: list[dict[str, Any]] = []
    category_rows: list[dict[str, Any]] = []
    author_lists: dict[str, list[str]] = {}
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
            if all(merged[c] == old[c] for c in CONTENT_FIELDS) and merged_versions == old_versions:
                counts.unchanged += 1
                continue
            created = old["created_at"]
            counts.updated += 1
        counts.changed.append(arxiv_id)
        paper_rows.append(_dump(merged, now, created))
        versions_out.extend({"arxiv_id": arxiv_id, **v} for v in merged_versions.values())
        category_rows.extend(
            {"arxiv_id": arxiv_id, "category": category, "is_primary": index == 0}
            for index, category in enumerate(dict.fromkeys(merged["categories"]))
        )
        if old is None or merged["authors"] != old["authors"]:
            author_lists[arxiv_id] = merged["authors"]

    _write_rows(conn, papers, paper_rows, ("arxiv_id",))
    updated_ids = [r["arxiv_id"] for r in paper_rows if r["arxiv_id"] in existing]
    for chunk in id_chunks(updated_ids):
        conn.execute(sa.delete(paper_versions).where(paper_versions.c.arxiv_id.in_(chunk)))
        conn.execute(sa.delete(paper_categories).where(paper_categories.c.arxiv_id.in_(chunk)))
    _write_rows(conn, paper_versions, versions_out)
    _write_rows(conn, paper_categories, category_rows)
    write_author_rows(conn, author_lists, [i for i in author_lists if i in existing])

    daily = [(i, f.daily, f.source) for i, f in folded.items() if f.daily and f.row]
    if daily:
        _write_daily(conn, daily, now, counts)
    # Each paper of the batch as it stands now: rewritten, or unchanged as it was read.
    current = {i: existing[i] for i in folded if i in existing}
    current.update((row["arxiv_id"], row) for row in paper_rows)
    counts.merged = join_twins(conn, [*written, *current.values()], now)
    return counts


def write_author_rows(
    conn: Connection, lists: Mapping[str, Sequence[str]], stored: Sequence[str] = ()
) -> None:
    """Write the paper_authors rows of each paper in `lists` (arxiv_id -> its author list),
    first deleting those of the papers in `stored` (ones that had rows before), inside the
    caller's transaction."""
    for chunk in id_chunks(list(stored)):
        conn.execute(sa.delete(paper_authors).where(paper_authors.c.arxiv_id.in_(chunk)))
    rows = [
        {"arxiv_id": arxiv_id, **indexed._asdict()}
        for arxiv_id, names in lists.items()
        for indexed in indexed_names(list(names))
    ]
    _write_rows(conn, paper_authors, rows)


def _write_daily(
    conn: Connection, entries: list[tuple[str, DailyEntry, str]], now: datetime, counts: BatchCounts
) -> None:
    ids = [arxiv_id for arxiv_id, _, _ in entries]
    existing: dict[str, dict[str, Any]] = {}
    for chunk in id_chunks(ids):
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
            "author_count": entry.author_count,
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


def get_paper(conn: Connection, arxiv_id: str) -> Paper | None:
    """The stored paper (hidden ones too: callers decide) with its versions and daily row."""
    row = _load_rows(conn, [arxiv_id]).get(arxiv_id)
    if row is None:
        return None
    versions = _load_versions(conn, [arxiv_id]).get(arxiv_id, {})
    daily = conn.execute(
        sa.select(daily_submissions).where(daily_submissions.c.arxiv_id == arxiv_id)
    ).first()
    return Paper(
        **row,
        versions=[VersionRecord(**versions[n]) for n in sorted(versions)],
        daily=dict(daily._mapping) if daily else None,
    )


def get_papers(conn: Connection, arxiv_ids: Sequence[str]) -> list[Paper]:
    """The visible papers among `arxiv_ids`, in the order given (unknown and hidden ids left
    out), without versions or daily rows: what lists of search results show."""
    rows = _load_rows(conn, list(arxiv_ids))
    return [
        Paper(**rows[i]) for i in dict.fromkeys(arxiv_ids) if i in rows and not rows[i]["hidden"]
    ]


def count_papers(conn: Connection) -> int:
    """How many papers the catalog has, hidden ones included (~30 ms at 1M papers)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())


def count_changed(conn: Connection, since: datetime | None) -> int:
    """How many papers were written at or after `since` (all of them for None)."""
    condition = papers.c.modified_at >= since if since else sa.true()
    query = sa.select(sa.func.count()).select_from(papers).where(condition)
    return int(conn.execute(query).scalar_one())


def changed_papers(
    conn: Connection,
    since: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` papers written at or after `since`, oldest change first (ties by id) and
    past the (modified_at, arxiv_id) mark `after`: pages of what an index must (re)read.
    Each row has arxiv_id, title, abstract, authors and categories (lists), published_at,
    has_code, hidden and modified_at."""
    columns = [
        papers.c.arxiv_id,
        papers.c.title,
        papers.c.abstract,
        papers.c.authors,
        papers.c.categories,
        papers.c.published_at,
        papers.c.has_code,
        papers.c.hidden,
        papers.c.modified_at,
    ]
    query = sa.select(*columns).order_by(papers.c.modified_at, papers.c.arxiv_id)
    if since is not None:
        query = query.where(papers.c.modified_at >= since)
    if after is not None:  # a row-value comparison, so ix_papers_modified_at serves it
        query = query.where(sa.tuple_(papers.c.modified_at, papers.c.arxiv_id) > after)
    rows = []
    for row in conn.execute(query.limit(limit)).mappings():
        item = dict(row)
        item["authors"] = json.loads(item["authors"])
        item["categories"] = json.loads(item["categories"])
        item["has_code"], item["hidden"] = bool(item["has_code"]), bool(item["hidden"])
        rows.append(item)
    return rows


def paper_standing(conn: Connection, arxiv_ids: Sequence[str]) -> dict[str, tuple[int, list[str]]]:
    """The latest version (0 when none is known) and the categories (primary first) of the
    stored papers among `arxiv_ids`; ids the catalog lacks are left out."""
    found: dict[str, tuple[int, list[str]]] = {}
    query = sa.select(papers.c.arxiv_id, papers.c.latest_version, papers.c.categories)
    for chunk in id_chunks(list(dict.fromkeys(arxiv_ids))):
        for row in conn.execute(query.where(papers.c.arxiv_id.in_(chunk))):
            found[row.arxiv_id] = (row.latest_version or 0, json.loads(row.categories))
    return found


def paper_exists(conn: Connection, arxiv_id: str) -> bool:
    return (
        conn.execute(
            sa.select(papers.c.arxiv_id).where(
                papers.c.arxiv_id == arxiv_id, papers.c.hidden.is_(False)
            )
        ).first()
        is not None
    )


def find_papers_containing(
    conn: Connection, terms: Sequence[str], where: PaperFilter, limit: int
) -> list[str]:
    """Papers passing `where` whose title, abstract or authors contain every term
    (case-insensitive), titles matching first, then papers on the daily list, then newest. A
    plain substring search that stands in until the search index exists; it reads at most
    `limit` rows. No terms and an empty filter find nothing."""
    if not terms and not where:
        return []
    conditions = []
    title_hits = []
    for term in terms:
        pattern = (
            "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        fields = [
            sa.func.lower(c).like(pattern, escape="\\")
            for c in (papers.c.title, papers.c.abstract, papers.c.authors)
        ]
        conditions.append(sa.or_(*fields))
        title_hits.append(sa.case((fields[0], 1), else_=0))
    query = (
        sa.select(papers.c.arxiv_id)
        .select_from(papers.outerjoin(daily_submissions))
        .where(papers.c.hidden.is_(False), *conditions, *paper_conditions(where))
        .order_by(
            sum(title_hits, sa.literal(0)).desc(),
            (daily_submissions.c.upvotes + daily_submissions.c.vote_count).desc().nulls_last(),
            papers.c.published_at.desc().nulls_last(),
            papers.c.arxiv_id,
        )
        .limit(limit)
    )
    return list(conn.execute(query).scalars())
