"""Follows (adding, listing, removing one reader's) and the reads that find new papers for
them: papers of a publication window in some categories, and the window's author lists and
organisations, newest first. Which follows a paper matches is decided by the caller
(services/follows.py, with domain/follows.py's rules); these queries only keep each read to
the window, so its cost follows the window's size, not the catalog's.

Every read orders by (published_at, arxiv_id) descending, the same total order everywhere,
so lists from different reads merge without gaps or repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.errors import Conflict
from ..domain.follows import Follow, NewFollow
from ..domain.papers import PaperFilter
from .filters import paper_conditions
from .papers import id_chunks
from .schema import daily_submissions, follows, now, paper_categories, papers

Mark = tuple[datetime, str]  # (published_at, arxiv_id) of the last row a page of rows ended on


def _follow(row: Any) -> Follow:
    return Follow(**row._mapping)


def list_follows(conn: Connection, user_id: int) -> list[Follow]:
    """The reader's follows, oldest first."""
    query = sa.select(follows).where(follows.c.user_id == user_id).order_by(follows.c.id)
    return [_follow(row) for row in conn.execute(query)]


def count_follows(conn: Connection, user_id: int, kind: str | None = None) -> int:
    """How many follows the reader has (of `kind`, when given)."""
    query = sa.select(sa.func.count()).select_from(follows).where(follows.c.user_id == user_id)
    if kind is not None:
        query = query.where(follows.c.kind == kind)
    return int(conn.execute(query).scalar_one())


def find_follow(conn: Connection, user_id: int, kind: str, value: str) -> Follow | None:
    row = conn.execute(
        sa.select(follows).where(
            follows.c.user_id == user_id, follows.c.kind == kind, follows.c.value == value
        )
    ).first()
    return None if row is None else _follow(row)


def add_follow(
    conn: Connection, user_id: int, new: NewFollow, at: datetime | None = None
) -> Follow:
    """Insert a follow, made now or `at` (a restored export's time); Conflict when the reader
    already follows that kind and value (the unique key decides, so two requests at once
    leave one row)."""
    try:
        with conn.begin_nested():  # a savepoint: the refused insert leaves the transaction usable
            follow_id = conn.execute(
                sa.insert(follows)
                .values(
                    user_id=user_id,
                    kind=new.kind,
                    value=new.value,
                    label=new.label,
                    created_at=at or now(),
                )
                .returning(follows.c.id)
            ).scalar_one()
    except sa.exc.IntegrityError:
        raise Conflict(f"already following {new.label}") from None
    row = conn.execute(sa.select(follows).where(follows.c.id == follow_id)).one()
    return _follow(row)


def delete_follow(conn: Connection, user_id: int, follow_id: int) -> Follow | None:
    """Delete the reader's follow `follow_id`; None when the reader has no such follow
    (another reader's id included)."""
    row = conn.execute(
        sa.select(follows).where(follows.c.id == follow_id, follows.c.user_id == user_id)
    ).first()
    if row is None:
        return None
    conn.execute(sa.delete(follows).where(follows.c.id == follow_id))
    return _follow(row)


def catalog_spelling(conn: Connection, candidates: Sequence[str]) -> str | None:
    """The first of `candidates` that some paper of the catalog is filed under (one indexed
    look-up each); None when the catalog has none of them."""
    for candidate in dict.fromkeys(candidates):
        found = conn.execute(
            sa.select(paper_categories.c.category)
            .where(paper_categories.c.category == candidate)
            .limit(1)
        ).first()
        if found is not None:
            return str(found.category)
    return None


def _window(since: datetime, until: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        papers.c.hidden.is_(False),
        *paper_conditions(PaperFilter(published=(since, until))),
    ]


_NEWEST = (papers.c.published_at.desc(), papers.c.arxiv_id.desc())


def _after(mark: Mark | None) -> list[sa.ColumnElement[bool]]:
    # A row-value comparison: ix_papers_published_at serves it.
    return [] if mark is None else [sa.tuple_(papers.c.published_at, papers.c.arxiv_id) < mark]


def recent_in_categories(
    conn: Connection, categories: Sequence[str], since: datetime, until: datetime, limit: int
) -> list[tuple[str, datetime, list[str]]]:
    """Up to `limit` visible papers published in [since, until) and filed under any of
    `categories` (primary or cross-list), newest first: (arxiv_id, published_at, the
    categories of `categories` it has). No categories find nothing."""
    if not categories:
        return []
    where = PaperFilter(tuple(categories), published=(since, until))
    query = (
        sa.select(papers.c.arxiv_id, papers.c.published_at)
        .where(papers.c.hidden.is_(False), *paper_conditions(where))
        .order_by(*_NEWEST)
        .limit(limit)
    )
    found = [(row.arxiv_id, row.published_at) for row in conn.execute(query)]
    filed: dict[str, list[str]] = {}
    for chunk in id_chunks([arxiv_id for arxiv_id, _ in found]):
        rows = conn.execute(
            sa.select(paper_categories.c.arxiv_id, paper_categories.c.category).where(
                paper_categories.c.arxiv_id.in_(chunk),
                paper_categories.c.category.in_(list(categories)),
            )
        )
        for row in rows:
            filed.setdefault(row.arxiv_id, []).append(row.category)
    return [(arxiv_id, published, sorted(filed[arxiv_id])) for arxiv_id, published in found]


def recent_author_lists(
    conn: Connection, since: datetime, until: datetime, after: Mark | None, limit: int
) -> list[tuple[str, datetime, str]]:
    """A page of the window's visible papers, newest first and older than `after`:
    (arxiv_id, published_at, authors as stored: JSON text). The caller reads the text only
    where a followed surname occurs in it."""
    query = (
        sa.select(papers.c.arxiv_id, papers.c.published_at, papers.c.authors)
        .where(*_window(since, until), *_after(after))
        .order_by(*_NEWEST)
        .limit(limit)
    )
    return [(row.arxiv_id, row.published_at, row.authors) for row in conn.execute(query)]


def recent_organizations(
    conn: Connection, since: datetime, until: datetime, after: Mark | None, limit: int
) -> list[tuple[str, datetime, list[str]]]:
    """A page of the window's visible papers that name an organisation (the paper's own, or
    its daily-list entry's), newest first and older than `after`: (arxiv_id, published_at,
    the names)."""
    listed = daily_submissions.c.organization
    query = (
        sa.select(papers.c.arxiv_id, papers.c.published_at, papers.c.organization, listed)
        .select_from(papers.outerjoin(daily_submissions))
        .where(
            *_window(since, until),
            *_after(after),
            sa.or_(papers.c.organization.is_not(None), listed.is_not(None)),
        )
        .order_by(*_NEWEST)
        .limit(limit)
    )
    return [
        (row[0], row[1], [name for name in (row[2], row[3]) if name]) for row in conn.execute(query)
    ]


def published_times(conn: Connection, arxiv_ids: Sequence[str]) -> dict[str, datetime]:
    """When each visible paper among `arxiv_ids` was published (papers without a time, hidden
    and unknown ones left out)."""
    found: dict[str, datetime] = {}
    for chunk in id_chunks(list(dict.fromkeys(arxiv_ids))):
        rows = conn.execute(
            sa.select(papers.c.arxiv_id, papers.c.published_at).where(
                papers.c.arxiv_id.in_(chunk),
                papers.c.hidden.is_(False),
                papers.c.published_at.is_not(None),
            )
        )
        found.update((row.arxiv_id, row.published_at) for row in rows)
    return found


def popular_categories(conn: Connection, limit: int, newest: int = 5000) -> list[tuple[str, int]]:
    """The categories filed most often among the `newest` visible papers: (category, papers),
    most first; what a reader who follows nothing is offered. The newest papers rather than a
    window of days, so a catalog that stopped growing still offers something."""
    recent = (
        sa.select(papers.c.arxiv_id)
        .where(papers.c.hidden.is_(False), papers.c.published_at.is_not(None))
        .order_by(*_NEWEST)
        .limit(newest)
        .subquery()
    )
    count = sa.func.count().label("papers")
    query = (
        sa.select(paper_categories.c.category, count)
        .select_from(
            paper_categories.join(recent, recent.c.arxiv_id == paper_categories.c.arxiv_id)
        )
        .group_by(paper_categories.c.category)
        .order_by(count.desc(), paper_categories.c.category)
        .limit(limit)
    )
    return [(row.category, int(row.papers)) for row in conn.execute(query)]
