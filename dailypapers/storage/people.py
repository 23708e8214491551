"""Accounts, votes, comments and daily submissions made on this site.

Vote counts: `daily_submissions.vote_count` moves by exactly one in the same transaction that
inserts or deletes a vote row, and only when that insert or delete changed a row, so the count
equals the number of vote rows even with many voters at once (PostgreSQL serialises the
UPDATEs on the row lock; SQLite has one writer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import comments, daily_submissions, papers, users, votes


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _stamp() -> datetime:
    # Sessions remember this to the microsecond, so a password changed within the same
    # second as the login still ends that session.
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class User:
    id: int
    username: str
    email: str
    password_hash: str
    is_admin: bool
    disabled: bool
    created_at: datetime
    password_changed_at: datetime


class Conflict(ValueError):
    """A write that would break a uniqueness rule (taken username, paper already listed)."""


def _user(row: Any) -> User | None:
    if row is None:
        return None
    data = dict(row._mapping)
    data["is_admin"], data["disabled"] = bool(data["is_admin"]), bool(data["disabled"])
    return User(**data)


def create_user(
    conn: Connection, username: str, email: str, password_hash: str, *, is_admin: bool = False
) -> User:
    """Insert an account; raises Conflict naming the taken field (username or email)."""
    taken = conn.execute(
        sa.select(users.c.username, users.c.email).where(
            sa.or_(
                sa.func.lower(users.c.username) == username.lower(),
                sa.func.lower(users.c.email) == email.lower(),
            )
        )
    ).first()
    if taken is not None:
        field = "username" if taken.username.lower() == username.lower() else "email"
        raise Conflict(f"that {field} is already registered")
    now = _now()
    new_id = conn.execute(
        sa.insert(users)
        .values(
            username=username,
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            disabled=False,
            created_at=now,
            password_changed_at=_stamp(),
        )
        .returning(users.c.id)
    ).scalar_one()
    user = get_user(conn, new_id)
    assert user is not None
    return user


def get_user(conn: Connection, user_id: int) -> User | None:
    return _user(conn.execute(sa.select(users).where(users.c.id == user_id)).first())


def find_user(conn: Connection, login: str) -> User | None:
    """By username or email, case-insensitively."""
    key = login.strip().lower()
    query = sa.select(users).where(
        sa.or_(sa.func.lower(users.c.username) == key, sa.func.lower(users.c.email) == key)
    )
    return _user(conn.execute(query).first())


def set_password(conn: Connection, user_id: int, password_hash: str) -> datetime:
    now = _stamp()
    conn.execute(
        sa.update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, password_changed_at=now)
    )
    return now


def set_admin(conn: Connection, user_id: int, is_admin: bool) -> None:
    conn.execute(sa.update(users).where(users.c.id == user_id).values(is_admin=is_admin))


def set_disabled(conn: Connection, user_id: int, disabled: bool) -> None:
    conn.execute(sa.update(users).where(users.c.id == user_id).values(disabled=disabled))


# --- votes -------------------------------------------------------------------------------


def upvotes_of(conn: Connection, arxiv_id: str) -> int | None:
    """Upvotes shown for a listed paper (imported + cast here), None when it is not listed."""
    row = conn.execute(
        sa.select(daily_submissions.c.upvotes + daily_submissions.c.vote_count).where(
            daily_submissions.c.arxiv_id == arxiv_id, daily_submissions.c.removed.is_(False)
        )
    ).first()
    return None if row is None else int(row[0])


def set_vote(conn: Connection, user_id: int, arxiv_id: str, voted: bool) -> bool:
    """Make the user's vote on a listed paper be `voted`; idempotent. Returns whether the
    stored state changed. The caller checks the paper is listed."""
    statement: sa.Executable
    if voted:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        statement = (
            insert(votes)
            .values(user_id=user_id, arxiv_id=arxiv_id, created_at=_now())
            .on_conflict_do_nothing()
            .returning(votes.c.user_id)
        )
    else:
        statement = (
            sa.delete(votes)
            .where(votes.c.user_id == user_id, votes.c.arxiv_id == arxiv_id)
            .returning(votes.c.user_id)
        )
    # RETURNING says for certain whether a row changed (driver rowcounts differ here).
    if conn.execute(statement).first() is None:
        return False
    step = 1 if voted else -1
    conn.execute(
        sa.update(daily_submissions)
        .where(daily_submissions.c.arxiv_id == arxiv_id)
        .values(vote_count=daily_submissions.c.vote_count + step)
    )
    return True


def voted_papers(conn: Connection, user_id: int, arxiv_ids: list[str]) -> set[str]:
    if not arxiv_ids:
        return set()
    query = sa.select(votes.c.arxiv_id).where(
        votes.c.user_id == user_id, votes.c.arxiv_id.in_(arxiv_ids)
    )
    return set(conn.execute(query).scalars())


def vote_rows(conn: Connection, arxiv_id: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(votes).where(votes.c.arxiv_id == arxiv_id)
        ).scalar_one()
    )


# --- daily submissions -------------------------------------------------------------------


def list_submission(conn: Connection, arxiv_id: str, user: User, day: date) -> None:
    """Put a catalogued paper on `day`'s list, submitted by `user`; Conflict if listed."""
    existing = conn.execute(
        sa.select(daily_submissions.c.day, daily_submissions.c.removed).where(
            daily_submissions.c.arxiv_id == arxiv_id
        )
    ).first()
    if existing is not None:
        raise Conflict(f"already on the daily list of {existing.day}")
    conn.execute(
        sa.insert(daily_submissions).values(
            arxiv_id=arxiv_id,
            day=day,
            submitter_name=user.username,
            submitter_username=user.username,
            upvotes=0,
            organization=None,
            source="site",
            created_at=_now(),
            submitted_by=user.id,
        )
    )


def submissions_on(conn: Connection, user_id: int, day: date) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(daily_submissions)
            .where(daily_submissions.c.submitted_by == user_id, daily_submissions.c.day == day)
        ).scalar_one()
    )


def set_entry_flags(conn: Connection, arxiv_id: str, **flags: bool) -> bool:
    """Admin: set `featured` and/or `removed` on a daily entry; False when there is none."""
    result = conn.execute(
        sa.update(daily_submissions).where(daily_submissions.c.arxiv_id == arxiv_id).values(**flags)
    )
    return result.rowcount == 1


# --- comments ----------------------------------------------------------------------------


@dataclass
class Comment:
    id: int
    arxiv_id: str
    user_id: int
    username: str
    parent_id: int | None
    body: str
    body_html: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool
    replies: list[Comment]


_COMMENT_COLUMNS = [*comments.c, users.c.username]


def _comment(row: Any) -> Comment:
    data = dict(row._mapping)
    data["deleted"], data["hidden"] = bool(data["deleted"]), bool(data["hidden"])
    return Comment(**data, replies=[])


def get_comment(conn: Connection, comment_id: int) -> Comment | None:
    row = conn.execute(
        sa.select(*_COMMENT_COLUMNS)
        .select_from(comments.join(users))
        .where(comments.c.id == comment_id)
    ).first()
    return _comment(row) if row else None


def thread(conn: Connection, arxiv_id: str, *, include_hidden: bool = False) -> list[Comment]:
    """Top-level comments, oldest first, each with its replies (oldest first). Hidden ones
    are left out unless `include_hidden` (for admins); deleted ones stay as placeholders when
    they have replies."""
    query = (
        sa.select(*_COMMENT_COLUMNS)
        .select_from(comments.join(users))
        .where(comments.c.arxiv_id == arxiv_id)
        .order_by(comments.c.created_at, comments.c.id)
    )
    found = [_comment(row) for row in conn.execute(query)]
    if not include_hidden:
        found = [c for c in found if not c.hidden]
    top = {c.id: c for c in found if c.parent_id is None}
    for item in found:
        if item.parent_id is not None and item.parent_id in top and not item.deleted:
            top[item.parent_id].replies.append(item)
    return [c for c in top.values() if not c.deleted or c.replies]


def add_comment(
    conn: Connection, arxiv_id: str, user_id: int, body: str, body_html: str, parent_id: int | None
) -> int:
    return int(
        conn.execute(
            sa.insert(comments)
            .values(
                arxiv_id=arxiv_id,
                user_id=user_id,
                parent_id=parent_id,
                body=body,
                body_html=body_html,
                created_at=_now(),
                edited_at=None,
                deleted=False,
                hidden=False,
            )
            .returning(comments.c.id)
        ).scalar_one()
    )


def edit_comment(conn: Connection, comment_id: int, body: str, body_html: str) -> None:
    conn.execute(
        sa.update(comments)
        .where(comments.c.id == comment_id)
        .values(body=body, body_html=body_html, edited_at=_now())
    )


def delete_comment(conn: Connection, comment_id: int) -> None:
    conn.execute(
        sa.update(comments)
        .where(comments.c.id == comment_id)
        .values(deleted=True, body="", body_html="")
    )


def hide_comment(conn: Connection, comment_id: int, hidden: bool) -> None:
    conn.execute(sa.update(comments).where(comments.c.id == comment_id).values(hidden=hidden))


def comment_counts(conn: Connection, arxiv_ids: list[str]) -> dict[str, int]:
    """Visible comments per paper (deleted and hidden ones not counted)."""
    if not arxiv_ids:
        return {}
    query = (
        sa.select(comments.c.arxiv_id, sa.func.count())
        .where(
            comments.c.arxiv_id.in_(arxiv_ids),
            comments.c.deleted.is_(False),
            comments.c.hidden.is_(False),
        )
        .group_by(comments.c.arxiv_id)
    )
    return {arxiv_id: int(n) for arxiv_id, n in conn.execute(query)}


def paper_exists(conn: Connection, arxiv_id: str) -> bool:
    return (
        conn.execute(
            sa.select(papers.c.arxiv_id).where(
                papers.c.arxiv_id == arxiv_id, papers.c.hidden.is_(False)
            )
        ).first()
        is not None
    )
