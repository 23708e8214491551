"""Accounts: password hashing (argon2id via argon2-cffi) and the rules for usernames, emails
and passwords. No storage here: storage/users.py keeps accounts, services/accounts.py signs
people up and in."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import BadParameter, Conflict

_hasher = PasswordHasher()
# Verifying against this when no account matches makes a failed login take as long either
# way, so response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not a real password, only here for timing")

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$")
# No whitespace, quotes or angle brackets, and no control characters (NUL among them).
EMAIL = re.compile(
    r"^[^@\s<>\"'\x00-\x1f\x7f]{1,64}@[^@\s<>\"'\x00-\x1f\x7f]{1,185}"
    r"\.[^@\s<>\"'.\x00-\x1f\x7f]{2,}$"
)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


class InvalidAccount(BadParameter):
    """A username, email or password that breaks the rules; the message says which rule."""


class EmailTaken(Conflict):
    """Another account has this email. Usernames are public (on comments), emails are not:
    the sign-up page answers this like a sign-up that worked (docs/accounts.md)."""


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise InvalidAccount(
            "usernames are 3-32 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return username


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL.match(email):
        raise InvalidAccount("that does not look like an email address")
    return email


def check_password(password: str, username: str = "") -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidAccount(f"passwords need at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidAccount(f"passwords are at most {MAX_PASSWORD} characters")
    if username and password.lower() == username.lower():
        raise InvalidAccount("the password must not be the username")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash (unknown user) it still spends the time."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
