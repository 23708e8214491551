"""Logged-in sessions: one row per session, keyed by the sha256 of the id its cookie holds.
Creating, finding (with its account), touching and deleting them; services/sessions.py makes
the ids and decides lifetimes. Times are naive UTC like every stored time (storage/schema.py).

Writes use `store.begin(counted=False)`: a login or a logout changes no page
an anonymous reader sees, so it must not empty the page cache.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from ..domain.people import User
from . import Store
from .schema import sessions, users
from .users import user_from


def _stored(moment: datetime) -> datetime:
    """Naive UTC, as stored; an aware time is converted, a naive one is taken as UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def add_session(
    store: Store, id_hash: str, user_id: int, now: datetime, expires_at: datetime
) -> None:
    """Record a session of `user_id`, seen `now`, valid until `expires_at`."""
    with store.begin(counted=False) as conn:
        conn.execute(
            sa.insert(sessions).values(
                id_hash=id_hash,
                user_id=user_id,
                created_at=_stored(now),
                last_seen_at=_stored(now),
                expires_at=_stored(expires_at),
            )
        )


# Built once: every request of a signed-in reader runs it, and building the statement (and
# its cache key) each time cost about as much as running it.
_SESSION_USER = (
    sa.select(users, sessions.c.last_seen_at.label("session_last_seen"))
    .join(sessions, sessions.c.user_id == users.c.id)
    .where(
        sessions.c.id_hash == sa.bindparam("id_hash"),
        sessions.c.expires_at > sa.bindparam("now", type_=sessions.c.expires_at.type),
        users.c.disabled.is_(False),
    )
)


def session_user(store: Store, id_hash: str, now: datetime) -> tuple[User, datetime] | None:
    """The account of the session `id_hash` and when the session was last seen (UTC, aware);
    None when there is no such session, it expired (`expires_at` <= `now`), or the account is
    disabled."""
    with store.connect() as conn:
        row = conn.execute(_SESSION_USER, {"id_hash": id_hash, "now": _stored(now)}).first()
    if row is None:
        return None
    columns = dict(row._mapping)
    last_seen: datetime = columns.pop("session_last_seen")
    return user_from(columns), last_seen.replace(tzinfo=UTC)


def touch_session(store: Store, id_hash: str, now: datetime) -> None:
    """Set the session's `last_seen_at` to `now`."""
    with store.begin(counted=False) as conn:
        conn.execute(
            sa.update(sessions)
            .where(sessions.c.id_hash == id_hash)
            .values(last_seen_at=_stored(now))
        )


def delete_session(store: Store, id_hash: str) -> int:
    """Delete one session; returns 1, or 0 when it was already gone."""
    with store.begin(counted=False) as conn:
        result = conn.execute(sa.delete(sessions).where(sessions.c.id_hash == id_hash))
    return int(result.rowcount or 0)


def delete_user_sessions(store: Store, user_id: int) -> int:
    """Delete every session of `user_id`; returns how many."""
    with store.begin(counted=False) as conn:
        result = conn.execute(sa.delete(sessions).where(sessions.c.user_id == user_id))
    return int(result.rowcount or 0)


def delete_expired_sessions(store: Store, now: datetime) -> int:
    """Delete the sessions that expired by `now`; returns how many. Uses the index on
    `expires_at`, so it costs next to nothing when none did."""
    with store.begin(counted=False) as conn:
        result = conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= _stored(now)))
    return int(result.rowcount or 0)
