"""Accounts: creating them, finding them by id, username or email, and changing their password,
admin flag and disabled flag."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.accounts import EmailTaken
from ..domain.errors import Conflict
from ..domain.people import User
from .schema import now, users


def _stamp() -> datetime:
    # Sessions remember this to the microsecond, so a password changed within the same
    # second as the login still ends that session.
    return now(microseconds=True)


def user_from(columns: Mapping[str, Any]) -> User:
    """A User from the columns of a `users` row (SQLite gives its booleans as 0 and 1)."""
    data = dict(columns)
    data["is_admin"], data["disabled"] = bool(data["is_admin"]), bool(data["disabled"])
    return User(**data)


def _user(row: Any) -> User | None:
    return None if row is None else user_from(row._mapping)


def create_user(
    conn: Connection, username: str, email: str, password_hash: str, *, is_admin: bool = False
) -> User:
    """Insert an account. Raises Conflict when the username is taken, else EmailTaken (a
    Conflict) when the email is; both compared case-insensitively."""
    _check_free(conn, username, email)
    try:
        # A savepoint: when another transaction takes the name between the check and the
        # insert (PostgreSQL; SQLite's writers take turns), the unique index refuses the
        # row and the check, run again, says which field was taken.
        with conn.begin_nested():
            new_id = _insert_user(conn, username, email, password_hash, is_admin)
    except sa.exc.IntegrityError:
        _check_free(conn, username, email)
        raise Conflict("that username is already registered") from None
    user = get_user(conn, new_id)
    assert user is not None
    return user


def _check_free(conn: Connection, username: str, email: str) -> None:
    taken = conn.execute(
        sa.select(users.c.username).where(
            sa.or_(
                sa.func.lower(users.c.username) == username.lower(),
                sa.func.lower(users.c.email) == email.lower(),
            )
        )
    ).scalars()
    # Username first: when both are taken, the (public) username is the answer, and the
    # email is not mentioned.
    names = [name.lower() for name in taken]
    if username.lower() in names:
        raise Conflict("that username is already registered")
    if names:
        raise EmailTaken("that email is already registered")


def _insert_user(
    conn: Connection, username: str, email: str, password_hash: str, is_admin: bool
) -> int:
    created = now()
    new_id = conn.execute(
        sa.insert(users)
        .values(
            username=username,
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            disabled=False,
            created_at=created,
            password_changed_at=_stamp(),
        )
        .returning(users.c.id)
    ).scalar_one()
    return int(new_id)


def get_user(conn: Connection, user_id: int) -> User | None:
    return _user(conn.execute(sa.select(users).where(users.c.id == user_id)).first())


def find_user(conn: Connection, login: str) -> User | None:
    """By username or email, case-insensitively. A login with a NUL matches nobody (no
    account can hold one, and PostgreSQL text refuses it: the query would fail)."""
    key = login.strip().lower()
    if "\x00" in key:
        return None
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
