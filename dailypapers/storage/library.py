"""Readers' libraries: the papers each account keeps (`library_items`, one row per reader and
paper) and the imports that filled them (`library_imports`, with each entry's outcome as JSON
text), plus the catalog lookups an import matches its references with: papers by id, by DOI
and by title key.

DOIs and titles are looked up with one pass over the visible papers, computing each title's
key in Python (domain/twins.py's rule has no SQL form): seconds at a million papers, and only
for the references that named no arXiv id the catalog has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as Connection  # services hand it on, typed

from ..domain.library import Candidate, LibraryImport, LibraryItem, Outcome
from ..domain.papers import Paper
from ..domain.query import ParsedQuery
from ..domain.twins import title_key
from .filters import paper_conditions
from .papers import JSON_LISTS, id_chunks
from .schema import library_imports, library_items, paper_aliases, papers

# Titles made of ASCII letters, digits, spaces and punctuation have the key
# re.sub("[^a-z0-9]", "", title.lower()): the fast path of the scan below.
_PLAIN = re.compile(r"^[ -\[\]-~]*$")  # printable ASCII without a backslash
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def _upsert(conn: Connection) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


# --- items ---------------------------------------------------------------------------------


def add_items(
    conn: Connection, user_id: int, rows: Sequence[tuple[str, datetime, str, int | None]]
) -> set[str]:
    """Add (arxiv_id, added_at, how, import_id) rows to a library; a paper already there keeps
    its row. Returns the ids that were added. The papers must exist."""
    added: set[str] = set()
    for start in range(0, len(rows), 1000):
        values = [
            {"user_id": user_id, "arxiv_id": a, "added_at": t, "how": h, "import_id": i}
            for a, t, h, i in rows[start : start + 1000]
        ]
        statement = (
            _upsert(conn)(library_items)
            .values(values)
            .on_conflict_do_nothing()
            .returning(library_items.c.arxiv_id)
        )
        added.update(conn.execute(statement).scalars())
    return added


def remove_item(conn: Connection, user_id: int, arxiv_id: str) -> bool:
    """Take a paper out of a library; False when it was not there."""
    statement = (
        sa.delete(library_items)
        .where(library_items.c.user_id == user_id, library_items.c.arxiv_id == arxiv_id)
        .returning(library_items.c.arxiv_id)
    )
    return conn.execute(statement).first() is not None


def item_of(conn: Connection, user_id: int, arxiv_id: str) -> tuple[datetime, str] | None:
    """(added_at, how) of a paper in a library, None when it is not there."""
    row = conn.execute(
        sa.select(library_items.c.added_at, library_items.c.how).where(
            library_items.c.user_id == user_id, library_items.c.arxiv_id == arxiv_id
        )
    ).first()
    return None if row is None else (row.added_at, row.how)


def saved_among(conn: Connection, user_id: int, arxiv_ids: Sequence[str]) -> set[str]:
    """Which of `arxiv_ids` are in the reader's library (for the "saved" state of cards)."""
    found: set[str] = set()
    for chunk in id_chunks(list(arxiv_ids)):
        query = sa.select(library_items.c.arxiv_id).where(
            library_items.c.user_id == user_id, library_items.c.arxiv_id.in_(chunk)
        )
        found.update(conn.execute(query).scalars())
    return found


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_conditions(query: ParsedQuery | None) -> list[sa.ColumnElement[bool]]:
    """A parsed search (domain/query.py) over the saved papers: every word and phrase in the
    title, abstract or authors (as substrings, case-insensitive), no excluded one, author:
    in the authors, cat: and year: as the catalog's filters, id: that paper."""
    if query is None:
        return []
    text = [sa.func.lower(c) for c in (papers.c.title, papers.c.abstract, papers.c.authors)]

    def anywhere(term: str) -> sa.ColumnElement[bool]:
        return sa.or_(*(column.like(_like(term), escape="\\") for column in text))

    conditions: list[sa.ColumnElement[bool]] = []
    conditions += [anywhere(word) for word in query.words]
    conditions += [anywhere(" ".join(phrase)) for phrase in query.phrases]
    conditions += [sa.not_(anywhere(word)) for word in query.excluded_words]
    conditions += [sa.not_(anywhere(" ".join(p))) for p in query.excluded_phrases]
    conditions += [text[2].like(_like(name), escape="\\") for name in query.authors]
    if query.paper_id:
        conditions.append(papers.c.arxiv_id == query.paper_id)
    conditions += paper_conditions(query.filter())
    return conditions


def count_items(conn: Connection, user_id: int, query: ParsedQuery | None = None) -> int:
    statement = (
        sa.select(sa.func.count())
        .select_from(library_items.join(papers))
        .where(library_items.c.user_id == user_id, *_search_conditions(query))
    )
    return int(conn.execute(statement).scalar_one())


def list_items(
    conn: Connection,
    user_id: int,
    query: ParsedQuery | None = None,
    *,
    offset: int = 0,
    limit: int | None = 50,
) -> list[LibraryItem]:
    """A reader's library, newest first (papers added together: newest published first),
    narrowed by a parsed search. Hidden papers stay listed: the reader kept them."""
    statement = (
        sa.select(papers, library_items.c.added_at.label("library_added_at"), library_items.c.how)
        .select_from(library_items.join(papers))
        .where(library_items.c.user_id == user_id, *_search_conditions(query))
        .order_by(
            library_items.c.added_at.desc(),
            papers.c.published_at.desc().nulls_last(),
            papers.c.arxiv_id,
        )
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    items = []
    for row in conn.execute(statement).mappings():
        data = dict(row)
        added, how = data.pop("library_added_at"), data.pop("how")
        for name in JSON_LISTS:
            data[name] = json.loads(data[name])
        for name in ("has_code", "withdrawn", "hidden"):
            data[name] = bool(data[name])
        items.append(LibraryItem(Paper(**data), added, how))
    return items


def item_rows(conn: Connection, user_id: int) -> list[tuple[str, datetime, str]]:
    """(arxiv_id, added_at, how) of a whole library, oldest first (what an export holds)."""
    query = (
        sa.select(library_items.c.arxiv_id, library_items.c.added_at, library_items.c.how)
        .where(library_items.c.user_id == user_id)
        .order_by(library_items.c.added_at, library_items.c.arxiv_id)
    )
    return [(row.arxiv_id, row.added_at, row.how) for row in conn.execute(query)]


def remove_all_items(conn: Connection, user_id: int) -> int:
    """Empty a library; returns how many papers it held."""
    return int(
        conn.execute(sa.delete(library_items).where(library_items.c.user_id == user_id)).rowcount
    )


# --- the catalog, as an import sees it ----------------------------------------------------


def catalog_state(conn: Connection, arxiv_ids: Iterable[str]) -> dict[str, bool]:
    """{id: hidden} for the ids the catalog has; absent ids it lacks."""
    found: dict[str, bool] = {}
    for chunk in id_chunks(list(dict.fromkeys(arxiv_ids))):
        query = sa.select(papers.c.arxiv_id, papers.c.hidden).where(papers.c.arxiv_id.in_(chunk))
        found.update((row.arxiv_id, bool(row.hidden)) for row in conn.execute(query))
    return found


def aliases_of(conn: Connection, local_ids: Iterable[str]) -> dict[str, str]:
    """{local id: arXiv id} for the local papers among `local_ids` that merged into their
    arXiv twins (storage/twins.py)."""
    found: dict[str, str] = {}
    for chunk in id_chunks([i for i in dict.fromkeys(local_ids) if i.startswith("local-")]):
        query = sa.select(paper_aliases.c.alias_id, paper_aliases.c.arxiv_id).where(
            paper_aliases.c.alias_id.in_(chunk)
        )
        found.update((row.alias_id, row.arxiv_id) for row in conn.execute(query))
    return found


def find_by_doi_and_title(
    conn: Connection, dois: set[str], keys: set[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """({doi: [arxiv ids]}, {title key: [arxiv ids]}) of the visible papers that list one of
    `dois` (lower case) or whose title has one of `keys`; ids in catalog order. One pass over
    the visible papers; none when both sets are empty."""
    by_doi: dict[str, list[str]] = {}
    by_key: dict[str, list[str]] = {}
    if not dois and not keys:
        return by_doi, by_key
    query = (
        sa.select(papers.c.arxiv_id, papers.c.title, papers.c.dois)
        .where(papers.c.hidden.is_(False))
        .order_by(papers.c.arxiv_id)
        .execution_options(yield_per=10_000)
    )
    for arxiv_id, title, doi_text in conn.execute(query):
        if dois and doi_text != "[]":
            for doi in json.loads(doi_text):
                if doi.lower() in dois:
                    by_doi.setdefault(doi.lower(), []).append(arxiv_id)
        if keys:
            key = _NOT_KEY.sub("", title.lower()) if _PLAIN.match(title) else title_key(title)
            if key in keys:
                by_key.setdefault(key, []).append(arxiv_id)
    return by_doi, by_key


def candidates(conn: Connection, arxiv_ids: Sequence[str]) -> dict[str, Candidate]:
    """The papers `arxiv_ids` with their authors, for the title rule."""
    found: dict[str, Candidate] = {}
    for chunk in id_chunks(list(dict.fromkeys(arxiv_ids))):
        query = sa.select(papers.c.arxiv_id, papers.c.authors).where(papers.c.arxiv_id.in_(chunk))
        for row in conn.execute(query):
            found[row.arxiv_id] = Candidate(row.arxiv_id, json.loads(row.authors))
    return found


# --- imports -------------------------------------------------------------------------------


def _report(outcomes: Sequence[Outcome], notes: Sequence[str]) -> str:
    return json.dumps(
        {"outcomes": [o.to_json() for o in outcomes], "notes": list(notes)}, ensure_ascii=False
    )


def create_import(
    conn: Connection,
    user_id: int,
    created_at: datetime,
    status: str,
    fmt: str,
    filename: str,
    outcomes: Sequence[Outcome],
    notes: Sequence[str] = (),
) -> int:
    """Record an import and its outcomes; returns its id."""
    return int(
        conn.execute(
            sa.insert(library_imports)
            .values(
                user_id=user_id,
                created_at=created_at,
                finished_at=created_at if status == "done" else None,
                status=status,
                format=fmt,
                filename=filename[:300],
                entries=len(outcomes),
                report=_report(outcomes, notes),
                lease_until=None,
            )
            .returning(library_imports.c.id)
        ).scalar_one()
    )


def _import(row: Any) -> LibraryImport:
    report = json.loads(row.report)
    return LibraryImport(
        id=row.id,
        user_id=row.user_id,
        created_at=row.created_at,
        finished_at=row.finished_at,
        status=row.status,
        format=row.format,
        filename=row.filename,
        entries=row.entries,
        outcomes=[Outcome.from_json(item) for item in report["outcomes"]],
        notes=report.get("notes", []),
    )


def get_import(conn: Connection, import_id: int) -> LibraryImport | None:
    row = conn.execute(sa.select(library_imports).where(library_imports.c.id == import_id)).first()
    return None if row is None else _import(row)


def recent_imports(conn: Connection, user_id: int, limit: int = 5) -> list[LibraryImport]:
    """A reader's latest imports, newest first."""
    query = (
        sa.select(library_imports)
        .where(library_imports.c.user_id == user_id)
        .order_by(library_imports.c.created_at.desc(), library_imports.c.id.desc())
        .limit(limit)
    )
    return [_import(row) for row in conn.execute(query)]


def claim_import(conn: Connection, import_id: int, now: datetime, until: datetime) -> bool:
    """Take (or renew) the lease on a "fetching" import: True when this caller now holds it,
    False when it is done or another holder's lease runs past `now`. One conditional UPDATE,
    so two processes never both win (PostgreSQL re-reads the row after the first commits;
    SQLite has one writer)."""
    statement = (
        sa.update(library_imports)
        .where(
            library_imports.c.id == import_id,
            library_imports.c.status == "fetching",
            sa.or_(library_imports.c.lease_until.is_(None), library_imports.c.lease_until < now),
        )
        .values(lease_until=until)
        .returning(library_imports.c.id)
    )
    return conn.execute(statement).first() is not None


def renew_lease(conn: Connection, import_id: int, until: datetime) -> None:
    conn.execute(
        sa.update(library_imports)
        .where(library_imports.c.id == import_id, library_imports.c.status == "fetching")
        .values(lease_until=until)
    )


def set_report(
    conn: Connection, import_id: int, outcomes: Sequence[Outcome], notes: Sequence[str]
) -> None:
    """Write an import's outcomes (its state stays as it is)."""
    conn.execute(
        sa.update(library_imports)
        .where(library_imports.c.id == import_id)
        .values(entries=len(outcomes), report=_report(outcomes, notes))
    )


def finish_import(
    conn: Connection,
    import_id: int,
    outcomes: Sequence[Outcome],
    notes: Sequence[str],
    finished_at: datetime,
) -> None:
    """Write an import's final outcomes and mark it done (its lease goes)."""
    conn.execute(
        sa.update(library_imports)
        .where(library_imports.c.id == import_id)
        .values(
            status="done",
            finished_at=finished_at,
            entries=len(outcomes),
            report=_report(outcomes, notes),
            lease_until=None,
        )
    )


def unfinished_imports(conn: Connection, now: datetime) -> list[int]:
    """The "fetching" imports nobody holds a live lease on, oldest first."""
    query = (
        sa.select(library_imports.c.id)
        .where(
            library_imports.c.status == "fetching",
            sa.or_(library_imports.c.lease_until.is_(None), library_imports.c.lease_until < now),
        )
        .order_by(library_imports.c.id)
    )
    return list(conn.execute(query).scalars())
