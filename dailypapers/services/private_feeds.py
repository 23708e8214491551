"""Private feed URLs: a reader's Following feed is at a URL holding a random token, which
works without a login (feed readers have none) and can be replaced at any time, the old one
then answering 404.

The token is 32 random bytes (`secrets`); the database keeps only its sha256
(storage/feed_tokens.py), so the URL is shown once, when it is made: the settings page then
says when it was made and offers a new one. A presented token is looked up by its hash and
the hashes compared again with `hmac.compare_digest`; the look-up itself compares hashes,
whose timing tells nothing about a token that works.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from ..domain.people import User
from ..storage import Store
from ..storage.feed_tokens import delete_token, replace_token, token_made, token_owner
from ..storage.users import get_user

FOLLOWING = "following"  # the one private feed so far; the table is keyed by feed name
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what token_urlsafe(32) makes


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def make_feed_token(store: Store, user_id: int, feed: str = FOLLOWING) -> str:
    """A new token for the reader's `feed`; the previous one stops working. Returns the
    token, which is not kept: show it now."""
    token = secrets.token_urlsafe(32)
    with store.begin() as conn:
        replace_token(conn, user_id, feed, _hash(token))
    return token


def revoke_feed_token(store: Store, user_id: int, feed: str = FOLLOWING) -> bool:
    """Stop the reader's `feed` URL; False when there was none."""
    with store.begin() as conn:
        return delete_token(conn, user_id, feed)


def feed_token_made(store: Store, user_id: int, feed: str = FOLLOWING) -> datetime | None:
    """When the reader's current `feed` token was made (naive UTC); None when there is none."""
    with store.connect() as conn:
        return token_made(conn, user_id, feed)


def feed_owner(store: Store, token: str, feed: str = FOLLOWING) -> User | None:
    """The enabled account whose current `feed` token this is; None for anything else (a
    revoked token, a malformed one, a disabled account)."""
    if not _TOKEN.match(token):
        return None
    presented = _hash(token)
    with store.connect() as conn:
        found = token_owner(conn, feed, presented)
        if found is None or not hmac.compare_digest(found[1], presented):
            return None
        user = get_user(conn, found[0])
    return None if user is None or user.disabled else user
