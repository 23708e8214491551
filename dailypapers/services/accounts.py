"""Accounts: signing up (or an admin creating one from the CLI), logging in, changing a
password. The rules for names and passwords and the hashing are domain/accounts.py's."""

from __future__ import annotations

import hashlib

from ..domain.accounts import (
    check_email,
    check_password,
    check_username,
    hash_password,
    verify_password,
)
from ..domain.errors import BadParameter
from ..domain.people import User
from ..storage import Store
from ..storage.users import create_user, find_user, get_user, set_password
from .sessions import end_all_sessions

MAX_LOGIN = 254
MAX_PASSWORD_INPUT = 1024


def register(
    store: Store, username: str, email: str, password: str, *, is_admin: bool = False
) -> User:
    """A new account. Raises InvalidAccount (a BadParameter) naming the broken rule,
    Conflict when the username is taken, or EmailTaken (a Conflict) when the email is. The
    password is hashed before any of the checks against the database, so a taken email
    takes about as long as a free one."""
    check_username(username)
    email = check_email(email)
    check_password(password, username)
    # Hashed first, for both answers, and outside the transaction (SQLite's one writer
    # should not wait on argon2).
    password_hash = hash_password(password)
    with store.begin() as conn:
        return create_user(conn, username, email, password_hash, is_admin=is_admin)


def budget_key(store: Store, login: str) -> str:
    """What a login attempt counts against: `account:<id>` for an account, whichever of its
    username or email was typed, else `name:<digest of the login, lowercased>`, so an unknown
    login is counted (and answered) the same way and does not reveal who has an account. (A
    digest: lowercasing can lengthen text, and the key column is bounded.)"""
    login = login.strip()[:MAX_LOGIN]
    with store.connect() as conn:
        user = find_user(conn, login) if login else None
    if user is not None:
        return f"account:{user.id}"
    return "name:" + hashlib.sha256(login.lower().encode("utf-8", "replace")).hexdigest()[:32]


def authenticate(store: Store, login: str, password: str) -> User | None:
    """The enabled account with this username or email and password, else None. Takes as
    long whether or not the account exists, so timing does not reveal who has one."""
    login = login.strip()[:MAX_LOGIN]
    with store.connect() as conn:
        user = find_user(conn, login) if login else None
    ok = verify_password(user.password_hash if user else None, password[:MAX_PASSWORD_INPUT])
    if not ok or user is None or user.disabled:
        return None
    return user


def change_password(store: Store, user: User, current: str, new: str) -> User:
    """Set a new password after checking the current one and end every session of the
    account (the caller starts a new one for the person who changed it); returns the account
    as stored."""
    if not verify_password(user.password_hash, current):
        raise BadParameter("The current password is wrong.")
    check_password(new, user.username)
    with store.begin() as conn:
        set_password(conn, user.id, hash_password(new))
        refreshed = get_user(conn, user.id)
    assert refreshed is not None
    end_all_sessions(store, user.id)
    return refreshed
