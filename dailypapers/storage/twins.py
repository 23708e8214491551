"""Twins in the catalog: a paper under a local id (the demo's) merges into its arXiv record, in
the transaction that wrote either of them. The rule (same title key, dates a week apart at
most) and what the merged paper keeps are domain/twins.py's; this module finds the twins and
moves everything keyed on the local id: the daily entry, votes, comments, library items,
"not interested" marks and links. The local
row is then deleted and `paper_aliases` maps its id to the arXiv id, for redirects and for
the search indexes to drop it.

A local paper with two arXiv twins is ambiguous: it stays apart, and a warning names them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.authors import indexed_names
from ..domain.ids import is_local_id
from ..domain.records import PaperRecord
from ..domain.twins import TWIN_WINDOW_DAYS, absorb_local, merge_daily_entries, title_key, twin_days
from .schema import (
    LOCAL_PAPERS,
    comments,
    daily_submissions,
    dismissals,
    library_items,
    paper_aliases,
    paper_authors,
    paper_categories,
    papers,
    votes,
)

log = logging.getLogger(__name__)

_JSON_LISTS = ("authors", "categories", "dois", "github_repos", "project_pages")


def without_merged(conn: Connection, records: list[PaperRecord]) -> list[PaperRecord]:
    """`records` less those under a local id that has merged into an arXiv paper: that paper
    is the arXiv twin now, and a source repeating the local one adds nothing to it."""
    local = [r.arxiv_id for r in records if is_local_id(r.arxiv_id)]
    if not local:
        return records
    query = sa.select(paper_aliases.c.alias_id).where(paper_aliases.c.alias_id.in_(local))
    merged = set(conn.execute(query).scalars())
    return [r for r in records if r.arxiv_id not in merged] if merged else records


def join_twins(conn: Connection, rows: Iterable[Mapping[str, Any]], now: datetime) -> int:
    """Merge the local papers among `rows`, and the local twins of the arXiv papers among
    them, into their arXiv twins; returns how many merged. `rows` are papers rows just
    written or found unchanged (arxiv_id, title, published_at and hidden are read); hidden
    and undated papers never merge. Costs one indexed query when no row is near a local
    paper's date, and a scan of the arXiv papers of a fortnight per local paper checked."""
    local: dict[str, tuple[str, date]] = {}
    arxiv: list[tuple[str, date]] = []
    for row in rows:
        if row["hidden"] or row["published_at"] is None:
            continue
        day = row["published_at"].date()
        if is_local_id(row["arxiv_id"]):
            local[row["arxiv_id"]] = (row["title"], day)
        else:
            arxiv.append((row["title"], day))
    if arxiv:
        local.update(_local_twins_of(conn, arxiv))
    merged = 0
    for local_id, (title, day) in sorted(local.items()):
        found = _arxiv_twins(conn, title, day)
        if len(found) == 1:
            _merge(conn, local_id, found[0], now)
            merged += 1
        elif found:
            log.warning(
                "%s (%r) has %d arXiv twins, %s: left apart",
                local_id,
                title,
                len(found),
                ", ".join(found),
            )
    return merged


def merge_existing_twins(conn: Connection, now: datetime) -> int:
    """Merge every local paper of the catalog that has an arXiv twin in it: for catalogs
    written before twins merged on write (migrate_store runs it once on the upgrade past
    migration 0008). Returns how many merged."""
    query = sa.select(
        papers.c.arxiv_id, papers.c.title, papers.c.published_at, papers.c.hidden
    ).where(LOCAL_PAPERS)
    return join_twins(conn, [dict(row) for row in conn.execute(query).mappings()], now)


def _day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of `first` to the end of `last`, as naive UTC (what papers store)."""
    return datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)


def _local_twins_of(conn: Connection, arxiv: list[tuple[str, date]]) -> dict[str, tuple[str, date]]:
    """The visible local papers with an arXiv twin among `arxiv` (title, first-version day)."""
    start, end = _day_bounds(
        twin_days(min(d for _, d in arxiv))[0], twin_days(max(d for _, d in arxiv))[1]
    )
    query = sa.select(papers.c.arxiv_id, papers.c.title, papers.c.published_at).where(
        LOCAL_PAPERS,  # as written in the partial index ix_papers_local_published_at
        papers.c.published_at >= start,
        papers.c.published_at < end,
        papers.c.hidden.is_(False),
    )
    candidates = [(r.arxiv_id, r.title, r.published_at.date()) for r in conn.execute(query)]
    if not candidates:
        return {}
    # Title keys only for the records dated near a local paper: a snapshot batch spans years.
    window = range(-TWIN_WINDOW_DAYS, TWIN_WINDOW_DAYS + 1)
    near = {day + timedelta(days=shift) for _, _, day in candidates for shift in window}
    by_key: dict[str, list[tuple[str, str, date]]] = {}
    for candidate in candidates:
        by_key.setdefault(title_key(candidate[1]), []).append(candidate)
    found: dict[str, tuple[str, date]] = {}
    for title, day in arxiv:
        if day not in near:
            continue
        for local_id, local_title, local_day in by_key.get(title_key(title), []):
            if abs((day - local_day).days) <= TWIN_WINDOW_DAYS:
                found[local_id] = (local_title, local_day)
    return found


def _arxiv_twins(conn: Connection, title: str, day: date) -> list[str]:
    """The visible arXiv papers that are twins of a local paper, by id."""
    key = title_key(title)
    if not key:
        return []
    start, end = _day_bounds(*twin_days(day))
    query = (
        sa.select(papers.c.arxiv_id, papers.c.title)
        .where(
            papers.c.published_at >= start,
            papers.c.published_at < end,
            papers.c.hidden.is_(False),
            sa.not_(LOCAL_PAPERS),
        )
        .order_by(papers.c.arxiv_id)
    )
    return [row.arxiv_id for row in conn.execute(query) if title_key(row.title) == key]


def _merge(conn: Connection, local_id: str, arxiv_id: str, now: datetime) -> None:
    """Move everything keyed on `local_id` to `arxiv_id`, then delete the local paper and
    leave an alias. Votes are per person: one who voted for both keeps one vote."""
    _absorb_row(conn, local_id, arxiv_id, now)
    theirs = sa.select(votes.c.user_id).where(votes.c.arxiv_id == arxiv_id)
    conn.execute(
        sa.update(votes)
        .where(votes.c.arxiv_id == local_id, votes.c.user_id.not_in(theirs))
        .values(arxiv_id=arxiv_id)
    )
    _merge_daily(conn, local_id, arxiv_id)
    _merge_library(conn, local_id, arxiv_id)
    mine = sa.select(dismissals.c.user_id).where(dismissals.c.arxiv_id == arxiv_id)
    conn.execute(  # "not interested" moves like a vote
        sa.update(dismissals)
        .where(dismissals.c.arxiv_id == local_id, dismissals.c.user_id.not_in(mine))
        .values(arxiv_id=arxiv_id)
    )
    conn.execute(
        sa.update(comments).where(comments.c.arxiv_id == local_id).values(arxiv_id=arxiv_id)
    )
    conn.execute(
        sa.insert(paper_aliases).values(alias_id=local_id, arxiv_id=arxiv_id, created_at=now)
    )
    # The foreign keys cascade: the votes, library items and marks left (the same people's,
    # on both), the vector, versions and categories go with the row.
    conn.execute(sa.delete(papers).where(papers.c.arxiv_id == local_id))
    log.info("%s merged into its arXiv twin %s", local_id, arxiv_id)


def _merge_library(conn: Connection, local_id: str, arxiv_id: str) -> None:
    """Library items move like votes; a reader who kept both keeps the arXiv paper's item,
    dated when they first kept either (the local one goes with its paper row)."""
    local = library_items.alias("local_item")
    earlier = sa.select(local.c.added_at).where(
        local.c.arxiv_id == local_id,
        local.c.user_id == library_items.c.user_id,
        local.c.added_at < library_items.c.added_at,
    )
    conn.execute(
        sa.update(library_items)
        .where(library_items.c.arxiv_id == arxiv_id, earlier.exists())
        .values(added_at=earlier.scalar_subquery())
    )
    theirs = sa.select(library_items.c.user_id).where(library_items.c.arxiv_id == arxiv_id)
    conn.execute(
        sa.update(library_items)
        .where(library_items.c.arxiv_id == local_id, library_items.c.user_id.not_in(theirs))
        .values(arxiv_id=arxiv_id)
    )


def _paper_row(conn: Connection, arxiv_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(papers).where(papers.c.arxiv_id == arxiv_id)).mappings().one()
    return {k: json.loads(v) if k in _JSON_LISTS else v for k, v in row.items()}


def _absorb_row(conn: Connection, local_id: str, arxiv_id: str, now: datetime) -> None:
    """Write the arXiv paper's row with what its local twin adds (domain/twins.py's rule),
    stamped `now` in any case so the keyword index reads it again."""
    before = _paper_row(conn, arxiv_id)
    after = absorb_local(before, _paper_row(conn, local_id))
    changed: dict[str, Any] = {k: v for k, v in after.items() if v != before[k]}
    for name in _JSON_LISTS:
        if name in changed:
            changed[name] = json.dumps(changed[name], ensure_ascii=False) if changed[name] else "[]"
    changed["modified_at"] = now
    conn.execute(sa.update(papers).where(papers.c.arxiv_id == arxiv_id).values(**changed))
    if after["authors"] != before["authors"]:
        conn.execute(sa.delete(paper_authors).where(paper_authors.c.arxiv_id == arxiv_id))
        rows = [
            {"arxiv_id": arxiv_id, **indexed._asdict()}
            for indexed in indexed_names(after["authors"])
        ]
        if rows:
            conn.execute(sa.insert(paper_authors), rows)
    if after["categories"] != before["categories"]:
        conn.execute(sa.delete(paper_categories).where(paper_categories.c.arxiv_id == arxiv_id))
        conn.execute(
            sa.insert(paper_categories),
            [
                {"arxiv_id": arxiv_id, "category": category, "is_primary": index == 0}
                for index, category in enumerate(dict.fromkeys(after["categories"]))
            ],
        )


def _merge_daily(conn: Connection, local_id: str, arxiv_id: str) -> None:
    """One daily entry for the pair (domain/twins.py merge_daily_entries when both have one),
    its `vote_count` recounted from the votes now on the arXiv paper."""
    query = sa.select(daily_submissions).where(
        daily_submissions.c.arxiv_id.in_([local_id, arxiv_id])
    )
    entries = {row["arxiv_id"]: dict(row) for row in conn.execute(query).mappings()}
    local, kept = entries.get(local_id), entries.get(arxiv_id)
    if local is None:
        return
    if kept is None:
        conn.execute(
            sa.update(daily_submissions)
            .where(daily_submissions.c.arxiv_id == local_id)
            .values(arxiv_id=arxiv_id)
        )
    else:
        names = [k for k in kept if k not in ("id", "arxiv_id", "vote_count")]
        merged = merge_daily_entries({k: kept[k] for k in names}, {k: local[k] for k in names})
        conn.execute(sa.delete(daily_submissions).where(daily_submissions.c.arxiv_id == local_id))
        conn.execute(
            sa.update(daily_submissions)
            .where(daily_submissions.c.arxiv_id == arxiv_id)
            .values(**merged)
        )
    count = (
        sa.select(sa.func.count())
        .select_from(votes)
        .where(votes.c.arxiv_id == arxiv_id)
        .scalar_subquery()
    )
    conn.execute(
        sa.update(daily_submissions)
        .where(daily_submissions.c.arxiv_id == arxiv_id)
        .values(vote_count=count)
    )


def merged_into(conn: Connection, paper_id: str) -> str | None:
    """The arXiv id a local paper merged into; None for any other id (no query for those)."""
    if not is_local_id(paper_id):
        return None
    query = sa.select(paper_aliases.c.arxiv_id).where(paper_aliases.c.alias_id == paper_id)
    found: str | None = conn.execute(query).scalar()
    return found


def merged_since(conn: Connection, since: datetime) -> list[str]:
    """The local ids merged away at or after `since` (naive UTC), oldest first: what an index
    built before then must drop."""
    query = (
        sa.select(paper_aliases.c.alias_id)
        .where(paper_aliases.c.created_at >= since)
        .order_by(paper_aliases.c.created_at, paper_aliases.c.alias_id)
    )
    return list(conn.execute(query).scalars())
