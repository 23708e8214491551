"""The first admin from the environment: `admin_user`, `admin_email` and the password from
`admin_password_file` (or `admin_password`) make an admin account when `serve` starts, so a
container or a systemd unit needs no interactive `dailypapers user create --admin`.

An account that already has the name is never changed (not its password, not its role): the
outcome is logged and start-up goes on. The rules and the hashing are those of every other
account (services/accounts.py `register`), and whatever would stop `user create` stops
start-up here, with the setting named.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Config
from ..domain.accounts import InvalidAccount
from ..domain.errors import Conflict
from ..storage import Store
from ..storage.users import find_user
from .accounts import register

log = logging.getLogger(__name__)


class FirstAdminError(ValueError):
    """The admin settings cannot be used; the message names the setting and the problem."""


def admin_password(config: Config) -> str:
    """The first line of `admin_password_file` (a trailing newline is not part of it), else
    `admin_password`."""
    if not config.admin_password_file:
        if not config.admin_password:
            raise FirstAdminError(
                f"admin_user is {config.admin_user!r} but there is no password: set "
                "admin_password_file (a file holding it) or admin_password"
            )
        return config.admin_password
    path = Path(config.admin_password_file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise FirstAdminError(f"cannot read admin_password_file {path}: {error}") from None
    if not lines or not lines[0]:
        raise FirstAdminError(f"admin_password_file {path} is empty (the first line is used)")
    return lines[0]


def ensure_first_admin(store: Store, config: Config) -> str | None:
    """Create the admin `admin_user` unless an account has that name; returns what happened
    (also logged), None when `admin_user` is not set. Raises FirstAdminError."""
    username = config.admin_user.strip()
    if not username:
        return None
    password = admin_password(config)  # a broken file is an error even if the admin exists
    with store.connect() as conn:
        existing = find_user(conn, username)
    if existing is not None and existing.username.lower() == username.lower():
        return _left_alone(existing.username, existing.is_admin)
    if not config.admin_email.strip():
        raise FirstAdminError(f"admin_email is needed to create the admin {username!r}")
    try:
        account = register(store, username, config.admin_email, password, is_admin=True)
    except InvalidAccount as error:
        raise FirstAdminError(f"cannot create the admin {username!r}: {error}") from None
    except Conflict as error:
        with store.connect() as conn:
            existing = find_user(conn, username)
        if existing is not None and existing.username.lower() == username.lower():
            # Another process starting at the same moment made it first.
            return _left_alone(existing.username, existing.is_admin)
        raise FirstAdminError(f"cannot create the admin {username!r}: {error}") from None
    message = f"created the admin {account.username} <{account.email}> from admin_user"
    log.info(message)
    return message


def _left_alone(username: str, is_admin: bool) -> str:
    if is_admin:
        message = f"the admin {username} exists; left as it is (its password is not changed)"
        log.info(message)
    else:
        message = (
            f"the account {username} exists but is not an admin; left as it is (admin_user "
            "never changes an existing account)"
        )
        log.warning(message)
    return message
