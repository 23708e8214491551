"""Public profiles: an account found by its username, what it chose to show (`profiles`), and
the reads of its page: the papers it put on the daily list (or, for a Hugging Face username
without an account here, the entries imported under that name), its upvotes and its comments,
newest first. Hidden papers, removed entries and deleted or hidden comments never appear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.people import User
from .schema import comments, daily_submissions, now, papers, profiles, users, votes
from .users import user_from


@dataclass(frozen=True)
class ProfilePaper:
    """A paper on a profile and when it got there (submitted, upvoted)."""

    arxiv_id: str
    title: str
    authors: list[str]
    at: datetime | date


@dataclass(frozen=True)
class ProfileComment:
    id: int
    arxiv_id: str
    title: str
    body: str
    created_at: datetime


def user_by_username(conn: Connection, username: str) -> User | None:
    """The account with this username, case-insensitively (never by email: a profile URL must
    not tell whether an address has an account)."""
    if "\x00" in username:
        return None
    row: Any = conn.execute(
        sa.select(users).where(sa.func.lower(users.c.username) == username.lower())
    ).first()
    return None if row is None else user_from(row._mapping)


def shows_upvotes(conn: Connection, user_id: int) -> bool:
    """Whether the account lets its profile list its upvotes (off unless it said so)."""
    found = conn.execute(
        sa.select(profiles.c.show_upvotes).where(profiles.c.user_id == user_id)
    ).scalar()
    return bool(found)


def set_shows_upvotes(conn: Connection, user_id: int, show: bool) -> None:
    """Record the account's choice, inside the caller's transaction."""
    updated = conn.execute(
        sa.update(profiles)
        .where(profiles.c.user_id == user_id)
        .values(show_upvotes=show, updated_at=now())
    ).rowcount
    if not updated:
        conn.execute(
            sa.insert(profiles).values(user_id=user_id, show_upvotes=show, updated_at=now())
        )


def _paper(row: Any) -> ProfilePaper:
    return ProfilePaper(row[0], row[1], json.loads(row[2]), row[3])


_LISTED = (daily_submissions.c.removed.is_(False), papers.c.hidden.is_(False))


def submitted_by(conn: Connection, user_id: int, limit: int) -> list[ProfilePaper]:
    """The newest `limit` papers the account put on the daily list, newest day first."""
    query = (
        sa.select(papers.c.arxiv_id, papers.c.title, papers.c.authors, daily_submissions.c.day)
        .select_from(daily_submissions.join(papers))
        .where(daily_submissions.c.submitted_by == user_id, *_LISTED)
        .order_by(daily_submissions.c.day.desc(), daily_submissions.c.id.desc())
        .limit(limit)
    )
    return [_paper(row) for row in conn.execute(query)]


def imported_submissions(conn: Connection, username: str, limit: int) -> list[ProfilePaper]:
    """The newest `limit` entries an import recorded as submitted by `username` on Hugging
    Face (no account of this site submitted them), newest day first."""
    query = (
        sa.select(papers.c.arxiv_id, papers.c.title, papers.c.authors, daily_submissions.c.day)
        .select_from(daily_submissions.join(papers))
        .where(
            daily_submissions.c.submitter_username == username,
            daily_submissions.c.submitted_by.is_(None),
            *_LISTED,
        )
        .order_by(daily_submissions.c.day.desc(), daily_submissions.c.id.desc())
        .limit(limit)
    )
    return [_paper(row) for row in conn.execute(query)]


def upvoted_by(conn: Connection, user_id: int, limit: int) -> list[ProfilePaper]:
    """The newest `limit` papers the account upvoted, the latest vote first."""
    query = (
        sa.select(papers.c.arxiv_id, papers.c.title, papers.c.authors, votes.c.created_at)
        .select_from(votes.join(papers))
        .where(votes.c.user_id == user_id, papers.c.hidden.is_(False))
        .order_by(votes.c.created_at.desc(), votes.c.arxiv_id)
        .limit(limit)
    )
    return [_paper(row) for row in conn.execute(query)]


def comments_by(conn: Connection, user_id: int, limit: int) -> list[ProfileComment]:
    """The account's newest `limit` visible comments (not deleted, not hidden, on a visible
    paper), newest first."""
    query = (
        sa.select(
            comments.c.id,
            comments.c.arxiv_id,
            papers.c.title,
            comments.c.body,
            comments.c.created_at,
        )
        .select_from(comments.join(papers))
        .where(
            comments.c.user_id == user_id,
            comments.c.deleted.is_(False),
            comments.c.hidden.is_(False),
            papers.c.hidden.is_(False),
        )
        .order_by(comments.c.created_at.desc(), comments.c.id.desc())
        .limit(limit)
    )
    return [ProfileComment(*row) for row in conn.execute(query)]
