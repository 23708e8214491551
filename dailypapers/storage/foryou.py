"""What the For you ranking reads and writes: a reader's "not interested" papers, their pasted
abstract and the moment they started over (`foryou_profiles`), their upvotes since then, and
the window of recently published papers with their vectors and texts. The ranking itself is
search/recommend.py's; services/foryou.py puts the two together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection as Connection  # services hand it on, typed

from .papers import id_chunks
from .schema import dismissals, foryou_profiles, library_items, now, paper_vectors, papers, votes

DIMENSIONS = 384


@dataclass(frozen=True)
class WindowPaper:
    """A candidate of the ranking: a visible paper published in the window, with a vector."""

    arxiv_id: str
    title: str
    abstract: str
    published_at: datetime
    vector: np.ndarray


def _insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert


# --- dismissals --------------------------------------------------------------------------


def add_dismissal(
    conn: Connection, user_id: int, arxiv_id: str, at: datetime | None = None
) -> bool:
    """Mark a paper "not interested" for the user (now, or `at` for a restored mark);
    whether it was not marked before."""
    statement = (
        _insert(conn)(dismissals)
        .values(user_id=user_id, arxiv_id=arxiv_id, created_at=at or now())
        .on_conflict_do_nothing()
        .returning(dismissals.c.arxiv_id)
    )
    return conn.execute(statement).first() is not None


def remove_dismissal(conn: Connection, user_id: int, arxiv_id: str) -> bool:
    """Take a "not interested" back; whether there was one."""
    statement = (
        sa.delete(dismissals)
        .where(dismissals.c.user_id == user_id, dismissals.c.arxiv_id == arxiv_id)
        .returning(dismissals.c.arxiv_id)
    )
    return conn.execute(statement).first() is not None


def list_dismissals(conn: Connection, user_id: int) -> list[tuple[str, str, datetime]]:
    """(arxiv_id, title, when) of the user's "not interested" papers, newest first."""
    query = (
        sa.select(dismissals.c.arxiv_id, papers.c.title, dismissals.c.created_at)
        .join(papers, papers.c.arxiv_id == dismissals.c.arxiv_id)
        .where(dismissals.c.user_id == user_id)
        .order_by(dismissals.c.created_at.desc(), dismissals.c.arxiv_id)
    )
    return [(row.arxiv_id, row.title, row.created_at) for row in conn.execute(query)]


def clear_dismissals(conn: Connection, user_id: int) -> int:
    """Forget all of the user's "not interested" papers; how many there were."""
    statement = (
        sa.delete(dismissals)
        .where(dismissals.c.user_id == user_id)
        .returning(dismissals.c.arxiv_id)
    )
    return len(conn.execute(statement).all())


# --- the profile row ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileRow:
    abstract: str | None
    abstract_model: str | None
    abstract_vector: np.ndarray | None
    started_at: datetime | None


def get_profile(conn: Connection, user_id: int) -> ProfileRow:
    """The user's pasted abstract and start-over moment (all None when never set)."""
    row = conn.execute(
        sa.select(foryou_profiles).where(foryou_profiles.c.user_id == user_id)
    ).first()
    if row is None:
        return ProfileRow(None, None, None, None)
    vector = row.abstract_vector
    return ProfileRow(
        row.abstract,
        row.abstract_model,
        None if vector is None else np.frombuffer(vector, dtype="<f4").copy(),
        row.started_at,
    )


def _upsert_profile(conn: Connection, user_id: int, **values: Any) -> None:
    values["updated_at"] = now()
    statement = _insert(conn)(foryou_profiles).values(user_id=user_id, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["user_id"], set_=values))


def set_abstract(
    conn: Connection, user_id: int, text: str | None, model: str | None, vector: np.ndarray | None
) -> None:
    """Keep (or, with None, forget) the user's pasted abstract and its vector."""
    blob = None if vector is None else np.asarray(vector, dtype="<f4").tobytes()
    _upsert_profile(conn, user_id, abstract=text, abstract_model=model, abstract_vector=blob)


def set_started(conn: Connection, user_id: int, at: datetime | None = None) -> None:
    """The user starts over now (or at `at`, restored from an export): signals from before
    no longer count. (The database's clock, the one votes are stamped with, to the second: a
    vote of the same second before counts as before.)"""
    _upsert_profile(conn, user_id, started_at=at or now(microseconds=True))


def delete_profile(conn: Connection, user_id: int) -> bool:
    """Forget the user's pasted abstract and start-over moment; whether there were any."""
    statement = (
        sa.delete(foryou_profiles)
        .where(foryou_profiles.c.user_id == user_id)
        .returning(foryou_profiles.c.user_id)
    )
    return conn.execute(statement).first() is not None


# --- signals -----------------------------------------------------------------------------


def upvoted_papers(
    conn: Connection, user_id: int, since: datetime | None, limit: int
) -> list[tuple[str, datetime]]:
    """(arxiv_id, when) of the user's upvotes after `since` (all when None), newest first."""
    query = (
        sa.select(votes.c.arxiv_id, votes.c.created_at)
        .join(papers, papers.c.arxiv_id == votes.c.arxiv_id)
        .where(votes.c.user_id == user_id, papers.c.hidden.is_(False))
        .order_by(votes.c.created_at.desc(), votes.c.arxiv_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(votes.c.created_at >= since)
    return [(row.arxiv_id, row.created_at) for row in conn.execute(query)]


def library_papers(
    conn: Connection, user_id: int, since: datetime | None, limit: int
) -> list[tuple[str, datetime, str]]:
    """(arxiv_id, added_at, how) of the visible papers of the user's library added after
    `since` (all when None), newest first. `how` is "saved", "imported" or what an import of
    an export kept."""
    query = (
        sa.select(library_items.c.arxiv_id, library_items.c.added_at, library_items.c.how)
        .join(papers, papers.c.arxiv_id == library_items.c.arxiv_id)
        .where(library_items.c.user_id == user_id, papers.c.hidden.is_(False))
        .order_by(library_items.c.added_at.desc(), library_items.c.arxiv_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(library_items.c.added_at >= since)
    return [(row.arxiv_id, row.added_at, row.how) for row in conn.execute(query)]


def _vector_column(conn: Connection) -> Any:
    # pgvector's text form on PostgreSQL; float32 bytes on SQLite.
    if conn.dialect.name == "postgresql":
        return sa.literal_column("paper_vectors.embedding::text").label("embedding")
    return paper_vectors.c.embedding


def _vector(value: Any) -> np.ndarray:
    if isinstance(value, str):
        return np.array(value.strip("[]").split(","), dtype=np.float32)
    return np.frombuffer(value, dtype="<f4")


def papers_with_vectors(
    conn: Connection, arxiv_ids: Sequence[str], model: str
) -> dict[str, tuple[str, str, np.ndarray]]:
    """(title, abstract, vector) of those of `arxiv_ids` that are visible and have a vector
    from `model`."""
    found: dict[str, tuple[str, str, np.ndarray]] = {}
    for chunk in id_chunks(list(dict.fromkeys(arxiv_ids))):
        query = (
            sa.select(papers.c.arxiv_id, papers.c.title, papers.c.abstract, _vector_column(conn))
            .join(paper_vectors, paper_vectors.c.arxiv_id == papers.c.arxiv_id)
            .where(
                papers.c.arxiv_id.in_(list(chunk)),
                papers.c.hidden.is_(False),
                paper_vectors.c.model == model,
            )
        )
        for row in conn.execute(query):
            found[row.arxiv_id] = (row.title, row.abstract, _vector(row.embedding))
    return found


# --- the window --------------------------------------------------------------------------


def _in_window(since: datetime, until: datetime, model: str) -> list[sa.ColumnElement[bool]]:
    return [
        papers.c.published_at >= since,
        papers.c.published_at < until,
        papers.c.hidden.is_(False),
        paper_vectors.c.model == model,
    ]


def newest_published(conn: Connection, at_most: datetime) -> datetime | None:
    """When the newest visible paper published by `at_most` was published."""
    query = sa.select(sa.func.max(papers.c.published_at)).where(
        papers.c.hidden.is_(False), papers.c.published_at <= at_most
    )
    value = conn.execute(query).scalar_one()
    return None if value is None else _as_datetime(value)


def window_fingerprint(
    conn: Connection, since: datetime, until: datetime, model: str
) -> tuple[int, str, str]:
    """What changes when the window's candidates change (one more paper, a new vector, an
    edited paper): how many there are, the latest vector save and the latest paper change."""
    query = (
        sa.select(
            sa.func.count(),
            sa.func.max(paper_vectors.c.created_at),
            sa.func.max(papers.c.modified_at),
        )
        .select_from(papers.join(paper_vectors, paper_vectors.c.arxiv_id == papers.c.arxiv_id))
        .where(*_in_window(since, until, model))
    )
    count, saved, modified = conn.execute(query).one()
    return int(count), str(saved), str(modified)


def window_papers(
    conn: Connection, since: datetime, until: datetime, model: str
) -> list[WindowPaper]:
    """Visible papers published from `since` up to (not including) `until` that have a
    vector from `model`, oldest first (ties by id)."""
    query = (
        sa.select(
            papers.c.arxiv_id,
            papers.c.title,
            papers.c.abstract,
            papers.c.published_at,
            _vector_column(conn),
        )
        .select_from(papers.join(paper_vectors, paper_vectors.c.arxiv_id == papers.c.arxiv_id))
        .where(*_in_window(since, until, model))
        .order_by(papers.c.published_at, papers.c.arxiv_id)
    )
    return [
        WindowPaper(
            row.arxiv_id,
            row.title,
            row.abstract,
            _as_datetime(row.published_at),
            _vector(row.embedding),
        )
        for row in conn.execute(query)
    ]


def earlier_texts(conn: Connection, before: datetime, limit: int) -> list[tuple[str, str, str]]:
    """(arxiv_id, title, abstract) of up to `limit` visible papers published before
    `before`, newest first: the reference the window's word frequencies are counted on."""
    query = (
        sa.select(papers.c.arxiv_id, papers.c.title, papers.c.abstract)
        .where(papers.c.published_at < before, papers.c.hidden.is_(False))
        .order_by(papers.c.published_at.desc(), papers.c.arxiv_id)
        .limit(limit)
    )
    return [(row.arxiv_id, row.title, row.abstract) for row in conn.execute(query)]


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.fromisoformat(str(value))
