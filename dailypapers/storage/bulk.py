"""Bulk loads: a snapshot written into a (near-)empty catalog with the secondary indexes of
papers, versions and categories dropped for the load and built once at the end (all but those
the load itself reads), from rows the parse workers already put in the shape the database
takes. The merge rule, the twins, the counts and the resulting rows are write_papers'.

Nothing is left half-done: each batch is one transaction, an index is dropped in the transaction
that records its statement in `deferred_indexes` (migration 0009), and created again in the one
that deletes the record. A load killed between the two leaves the catalog loaded up to its last
committed batch, and the next `open_store` builds the missing indexes (unless another bulk load
is running: PostgreSQL's advisory lock, or a lock on the empty file `<database>-bulkload` beside
a SQLite catalog, tells). Session settings for the load (SQLite's WAL checkpoint interval) live
on the load's own connection and end with it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.authors import indexed_names
from ..domain.ids import is_local_id
from ..domain.merge import (
    Folded,
    derive_from_versions,
    fold_row,
    naive_utc,
    record_row,
    version_rows,
)
from ..domain.records import PaperRecord
from . import Store
from .locks import file_lock
from .papers import (
    JSON_LISTS,
    BatchCounts,
    dump_list,
    id_chunks,
    insert_plan,
    value_converters,
    write_folded,
)
from .schema import (
    LOCAL_PAPERS,
    deferred_indexes,
    paper_authors,
    paper_categories,
    paper_versions,
    papers,
)

# (arxiv_id, the papers row without its two timestamps, version rows, category rows, author
# rows), every value as the driver takes it: a plain tuple, cheap to send back from a parse
# worker, which also did the work (the authors' normalised keys, storage/authors.py).
PreparedPaper = tuple[
    str, tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]
]

_STAMPS = ("created_at", "modified_at")
PAPER_COLUMNS = tuple(c.name for c in papers.columns if c.name not in _STAMPS)
_VERSION_COLUMNS = tuple(c.name for c in paper_versions.columns)
_CATEGORY_COLUMNS = tuple(c.name for c in paper_categories.columns)
_AUTHOR_COLUMNS = tuple(c.name for c in paper_authors.columns)
_LOADED_TABLES = ("papers", "paper_versions", "paper_categories", "paper_authors")
# Kept while the catalog holds local papers: storage/twins.py looks up the arXiv twins of each
# by date, in the same transaction as the batch that brings them.
_TWIN_LOOKUPS = {"ix_papers_published_at"}

# Other sessions' advisory lock on PostgreSQL says a bulk load is running (migrations use 7240411).
_PG_LOCK = 7240412
# On the load's own SQLite connection, set back when it ends: WAL checkpoints every 64 MiB
# instead of every 4 MiB (a sixth off the writing time at 100k papers). synchronous=OFF was
# measured too and gained nothing over NORMAL, which keeps the file safe from a power cut.
_LOAD_PRAGMAS = {"wal_autocheckpoint": "16384"}


def prepare_paper(record: PaperRecord, dialect: str) -> PreparedPaper:
    """A snapshot record as rows for `dialect` ("sqlite" or "postgresql"): what write_papers
    would write for it alone in an empty catalog. Pure, so parse workers run it.

    Records that hide a paper, carry a daily entry or have a local id need the catalog to be
    written (storage/papers.py, storage/twins.py); they are refused (ValueError). Example: `0704.0001` with two versions and categories `hep-ph` gives
    two version rows and one category row `("0704.0001", "hep-ph", True)`.
    """
    if record.deleted or record.daily is not None or is_local_id(record.arxiv_id):
        raise ValueError(
            f"{record.arxiv_id}: a bulk load takes arXiv papers, no deletions or daily entries"
        )
    row, versions = record_row(record), version_rows(record)
    derive_from_versions(row, versions)
    return _prepare(row, versions, dialect)


def _prepare(
    row: dict[str, Any], versions: dict[int, dict[str, Any]], dialect: str
) -> PreparedPaper:
    arxiv_id = row["arxiv_id"]
    values = list(_ROW_VALUES(row))
    for index in _LIST_POSITIONS:
        values[index] = dump_list(values[index])
    for index, convert in _converters(dialect, "papers"):
        if values[index] is not None:
            values[index] = convert(values[index])
    to_stored = stored_time(dialect)
    version_values = [
        (
            arxiv_id,
            number,
            None if v["submitted_at"] is None else to_stored(v["submitted_at"]),
            v["size_kb"],
            v["source_type"],
            v["withdrawn"],
        )
        for number, v in versions.items()
    ]
    categories = [
        (arxiv_id, category, index == 0)
        for index, category in enumerate(dict.fromkeys(row["categories"]))
    ]
    return (
        arxiv_id,
        tuple(values),
        version_values,
        categories,
        author_rows(arxiv_id, row["authors"]),
    )


def author_rows(arxiv_id: str, names: list[str]) -> list[tuple[Any, ...]]:
    """The paper_authors rows of a paper whose author list is `names`."""
    return [(arxiv_id, *fields) for fields in indexed_names(names)]


_ROW_VALUES = itemgetter(*PAPER_COLUMNS)
_LIST_POSITIONS = [PAPER_COLUMNS.index(name) for name in JSON_LISTS]
_TITLE, _PUBLISHED, _HIDDEN = (PAPER_COLUMNS.index(n) for n in ("title", "published_at", "hidden"))
# Version rows are built by hand, in this column order.
assert _VERSION_COLUMNS == (
    "arxiv_id",
    "version",
    "submitted_at",
    "size_kb",
    "source_type",
    "withdrawn",
)


@cache
def stored_time(dialect: str) -> Callable[[datetime], Any]:
    """A time as `dialect`'s driver takes it (what value_converters does for DateTime)."""
    converters = value_converters(dialect, paper_versions, ("submitted_at",))
    return converters[0][1] if converters else _same


@cache
def stored_day(dialect: str) -> Callable[[date], Any]:
    """A day as `dialect`'s driver takes it (what value_converters does for Date)."""
    converters = value_converters(dialect, papers, ("datestamp",))
    return converters[0][1] if converters else _same


def _same(value: Any) -> Any:
    return value


@cache
def _converters(dialect: str, table: str) -> list[tuple[int, Callable[[Any], Any]]]:
    columns = {"papers": PAPER_COLUMNS, "paper_versions": _VERSION_COLUMNS}[table]
    return value_converters(dialect, papers.metadata.tables[table], columns)


def _unprepare(item: PreparedPaper, dialect: str) -> tuple[dict[str, Any], dict[int, Any]]:
    """A prepared paper back as the row and versions record_row and version_rows gave."""
    arxiv_id, values, version_values, _, _ = item
    row = dict(zip(PAPER_COLUMNS, values, strict=True))
    for name in JSON_LISTS:
        row[name] = json.loads(row[name])
    versions = {}
    for fields in version_values:
        version = dict(zip(_VERSION_COLUMNS[1:], fields[1:], strict=True))
        versions[version["version"]] = version
    if dialect == "sqlite":  # dates and times were text (storage/papers.py value_converters)
        for column in papers.columns:
            if column.name in row and row[column.name] is not None:
                row[column.name] = _from_text(column, row[column.name])
        for version in versions.values():
            if version["submitted_at"] is not None:
                version["submitted_at"] = datetime.fromisoformat(version["submitted_at"])
    return row, versions


def _from_text(column: sa.Column[Any], value: Any) -> Any:
    if isinstance(column.type, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(value)
    return value


def write_prepared(
    conn: Connection, batch: list[PreparedPaper], now: datetime | None = None
) -> BatchCounts:
    """Write one batch of prepared papers inside the caller's transaction; the counts and rows
    are those write_papers gives for the same records. Papers new to the catalog and named once
    in the batch are inserted as they are; the others (already stored, or repeated within the
    batch) go through write_papers' merge. An empty batch touches nothing."""
    now = naive_utc(now or datetime.now(UTC))
    assert now is not None
    if not batch:
        return BatchCounts()
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Nobody else may add one of these papers between the look-up and the COPY; readers,
        # and writers of other tables, go on.
        conn.exec_driver_sql("LOCK TABLE papers IN SHARE ROW EXCLUSIVE MODE")
    first: dict[str, PreparedPaper] = {}
    merged_ids: set[str] = set()
    for item in batch:
        if item[0] in first:
            merged_ids.add(item[0])
        else:
            first[item[0]] = item
    merged_ids.update(_stored_ids(conn, list(first)))
    fresh = [item for item in first.values() if item[0] not in merged_ids]
    stored_now = stored_time(dialect)(now)
    stamp = (stored_now, stored_now)
    _insert(conn, papers, PAPER_COLUMNS + _STAMPS, [item[1] + stamp for item in fresh])
    _insert(conn, paper_versions, _VERSION_COLUMNS, [v for item in fresh for v in item[2]])
    _insert(conn, paper_categories, _CATEGORY_COLUMNS, [c for item in fresh for c in item[3]])
    _insert(conn, paper_authors, _AUTHOR_COLUMNS, [a for item in fresh for a in item[4]])
    folded: dict[str, Folded] = {}
    seen = 0
    for item in batch:
        if item[0] in merged_ids:
            row, versions = _unprepare(item, dialect)
            fold_row(folded, row, versions, row["source"])
            seen += 1
    # The rest of write_papers: the merge of the others, then twins among all of the batch
    # (the new papers can only be twins of local papers, which a snapshot rarely meets).
    written = [_twin_fields(item, dialect) for item in fresh] if _has_local(conn) else []
    counts = write_folded(conn, folded, seen, now, written)
    counts.new += len(fresh)
    counts.changed[:0] = [item[0] for item in fresh]
    return counts


def _twin_fields(item: PreparedPaper, dialect: str) -> dict[str, Any]:
    """What storage/twins.py join_twins reads of a papers row, from a prepared paper."""
    published = item[1][_PUBLISHED]
    if dialect == "sqlite" and published is not None:
        published = datetime.fromisoformat(published)
    return {
        "arxiv_id": item[0],
        "title": item[1][_TITLE],
        "published_at": published,
        "hidden": item[1][_HIDDEN],
    }


def _has_local(conn: Connection) -> bool:
    """Whether the catalog holds a dated paper under a local id (the only kind that joins an
    arXiv twin): a look-up in the partial index ix_papers_local_published_at."""
    query = sa.select(papers.c.arxiv_id).where(LOCAL_PAPERS, papers.c.published_at.is_not(None))
    return conn.execute(query.limit(1)).first() is not None


def _stored_ids(conn: Connection, ids: list[str]) -> set[str]:
    # Driver SQL: SQLAlchemy's IN (...) costs ~10 us an id to render, more than the look-up.
    found: set[str] = set()
    params: tuple[Any, ...]
    for chunk in id_chunks(ids):
        if conn.dialect.name == "postgresql":
            sql, params = "SELECT arxiv_id FROM papers WHERE arxiv_id = ANY(%s)", (list(chunk),)
        else:
            marks = ", ".join("?" * len(chunk))
            sql, params = f"SELECT arxiv_id FROM papers WHERE arxiv_id IN ({marks})", tuple(chunk)
        found.update(row[0] for row in conn.exec_driver_sql(sql, params))
    return found


def _insert(
    conn: Connection, table: sa.Table, names: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        # COPY: the fastest way in, and the rows are known to be new.
        raw: Any = conn.connection.dbapi_connection
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    sql, _, _ = insert_plan(conn.dialect, table, names, ())
    conn.exec_driver_sql(sql, rows)


@contextmanager
def bulk_load(store: Store) -> Iterator[Callable[[list[PreparedPaper]], BatchCounts]]:
    """A bulk load into `store`: yields `write(batch) -> BatchCounts`, one transaction per
    batch. Secondary indexes of papers, their versions and categories are dropped first and
    built again when the block ends, however it ends; one bulk load at a time (a second waits).
    """
    with store.engine.connect() as conn, _load_lock(store, conn, wait=True):
        with store.transaction(conn) as tx:
            _defer_indexes(tx)
        previous: dict[str, Any] = {}
        try:
            if store.dialect == "sqlite":
                _set_pragmas(conn, _LOAD_PRAGMAS, previous)

            def write(batch: list[PreparedPaper]) -> BatchCounts:
                with store.transaction(conn) as tx:
                    return write_prepared(tx, batch)

            yield write
        finally:
            _set_pragmas(conn, previous, {})
            with store.transaction(conn) as tx:
                restore_indexes(tx)
                if store.dialect == "postgresql":
                    # Fresh statistics for the planner now, not whenever autovacuum comes:
                    # a just-loaded catalog otherwise read a day's list at ~0.5 s a page.
                    tx.exec_driver_sql(f"ANALYZE {', '.join(_LOADED_TABLES)}")
            if store.dialect == "sqlite":
                _shrink_wal(conn)


def _defer_indexes(conn: Connection) -> None:
    recorded = set(conn.execute(sa.select(deferred_indexes.c.name)).scalars())
    local = conn.execute(sa.select(papers.c.arxiv_id).where(LOCAL_PAPERS).limit(1)).first()
    quote = conn.dialect.identifier_preparer.quote
    for name, definition in _secondary_indexes(conn):
        if name in recorded or (local is not None and name in _TWIN_LOOKUPS):
            continue
        conn.execute(
            deferred_indexes.insert().values(
                name=name, definition=definition, deferred_at=naive_utc(datetime.now(UTC))
            )
        )
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")


def _secondary_indexes(conn: Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes on the loaded tables that are neither unique
    (a primary key or a unique index checks what is written) nor partial (small by design,
    and the load reads them: ix_papers_local_published_at finds local twins)."""
    tables = ", ".join(f"'{t}'" for t in _LOADED_TABLES)
    if conn.dialect.name == "sqlite":
        query = (
            "SELECT m.name, m.sql FROM sqlite_master m"
            " JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name"
            f" WHERE m.type = 'index' AND m.tbl_name IN ({tables})"
            " AND l.origin = 'c' AND NOT l.\"unique\" AND NOT l.partial ORDER BY m.name"
        )
    else:
        query = (
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relnamespace = current_schema()::regnamespace"
            f" AND t.relname IN ({tables}) AND NOT i.indisunique AND i.indpred IS NULL"
            " ORDER BY c.relname"
        )
    return [(str(name), str(sql)) for name, sql in conn.exec_driver_sql(query)]


_CREATE_INDEX = re.compile(r"^\s*CREATE\s+INDEX\s+(?!IF\s+NOT\s+EXISTS\b)", re.IGNORECASE)


def restore_indexes(conn: Connection) -> int:
    """Create the indexes `deferred_indexes` lists (those still missing) and forget them;
    return how many were listed. Inside the caller's transaction."""
    listed = conn.execute(sa.select(deferred_indexes.c.definition)).scalars().all()
    for definition in listed:
        conn.exec_driver_sql(_CREATE_INDEX.sub("CREATE INDEX IF NOT EXISTS ", definition, 1))
    if listed:
        conn.execute(sa.delete(deferred_indexes))
    return len(listed)


def restore_after_crash(store: Store, conn: Connection) -> int:
    """At opening: build the indexes a killed bulk load left dropped, unless a bulk load is
    running now. Inside the caller's transaction; returns how many were listed (0 if none
    or a load is running)."""
    if not sa.inspect(conn).has_table("deferred_indexes"):
        return 0  # before migration 0009
    if conn.execute(sa.select(sa.func.count()).select_from(deferred_indexes)).scalar_one() == 0:
        return 0
    with _load_lock(store, conn, wait=False) as free:
        return restore_indexes(conn) if free else 0


@contextmanager
def _load_lock(store: Store, conn: Connection, *, wait: bool) -> Iterator[bool]:
    """The bulk-load lock: PostgreSQL's advisory lock (for the session when waiting, else for
    the caller's transaction), a lock on `<database>-bulkload` beside a SQLite file. Yields
    whether it is held; it dies with its process, so a killed load leaves it free."""
    if store.dialect == "postgresql":
        if not wait:
            query = f"SELECT pg_try_advisory_xact_lock({_PG_LOCK})"
            yield bool(conn.exec_driver_sql(query).scalar())
            return
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_LOCK})")
        conn.commit()
        try:
            yield True
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_LOCK})")
            conn.commit()
        return
    path = _lock_path(store)
    if path is None:  # an in-memory database: no other process can see it
        yield True
        return
    with file_lock(path, wait=wait) as held:
        yield held


def _lock_path(store: Store) -> Path | None:
    database = store.engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(os.path.expanduser(database) + "-bulkload")


def _set_pragmas(conn: Connection, values: dict[str, Any], previous: dict[str, Any]) -> None:
    """Set SQLite PRAGMAs on the connection (outside any transaction, as SQLite wants), noting
    in `previous` the value each replaces, so a failure halfway still sets back what it set."""
    raw: Any = conn.connection.dbapi_connection
    for name, value in values.items():
        previous[name] = raw.execute(f"PRAGMA {name}").fetchone()[0]
        raw.execute(f"PRAGMA {name}={int(value)}")


def _shrink_wal(conn: Connection) -> None:
    """Give back the WAL file the load's long checkpoint interval grew (up to 64 MiB): a
    checkpoint that truncates it, skipped at once (busy_timeout 0) if a reader is in its way."""
    raw: Any = conn.connection.dbapi_connection
    timeout = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(timeout)}")
