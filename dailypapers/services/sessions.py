"""Logged-in sessions kept by the server: starting one at login, finding the account behind a
cookie, ending one (logout), or all of an account's (log out everywhere, a new password).

The cookie carries only a random id (32 bytes from `secrets`); the database keeps its sha256,
so a copy of the table holds no id that works, and deleting a row ends the session even for
a copy of the cookie. A session lasts 30 days from login, whatever its use; a disabled
account's sessions are ignored. Every `now` is an aware datetime (the site's clock).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from ..domain.people import User
from ..storage import Store
from ..storage.sessions import (
    add_session,
    delete_expired_sessions,
    delete_session,
    delete_user_sessions,
    session_user,
    touch_session,
)

LIFETIME = timedelta(days=30)
# last_seen_at is for people reading the table (is this session in use?); writing it on
# every request would make each page view of a logged-in reader a write.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(store: Store, user: User, now: datetime) -> str:
    """A new session for `user`, valid for LIFETIME; returns its id, for the cookie only.
    Also deletes every expired session (an indexed DELETE, once per login)."""
    delete_expired_sessions(store, now)
    session_id = secrets.token_urlsafe(32)
    add_session(store, _hash(session_id), user.id, now, now + LIFETIME)
    return session_id


def resume_session(store: Store, session_id: str, now: datetime) -> User | None:
    """The enabled account whose live session has this id, else None; marks the session
    seen when it was last seen TOUCH_EVERY ago or more."""
    user, stale = peek_session(store, session_id, now)
    if stale:
        touch_session(store, _hash(session_id), now)
    return user


def peek_session(store: Store, session_id: str, now: datetime) -> tuple[User | None, bool]:
    """resume_session without its write: the account (None: no live session) and whether
    the session is due to be marked seen (then call resume_session, which writes)."""
    found = session_user(store, _hash(session_id), now)
    if found is None:
        return None, False
    user, last_seen = found
    return user, now - last_seen >= TOUCH_EVERY


def end_session(store: Store, session_id: str) -> None:
    """Log one session out (nothing happens when it already ended)."""
    delete_session(store, _hash(session_id))


def end_all_sessions(store: Store, user_id: int) -> int:
    """Log every session of the account out; returns how many there were."""
    return delete_user_sessions(store, user_id)
