"""Private feed tokens: one per reader and feed, stored as the sha256 of the token, so a copy
of the table (a backup, a leak) gives no feed URL that works. services/private_feeds.py makes
the tokens and checks them.

Writes are counted (`store.begin()`): the page cache keeps anonymous answers, a private feed
among them, until the next counted write, and a revoked token must stop working at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import feed_tokens, now


def replace_token(conn: Connection, user_id: int, feed: str, token_hash: str) -> datetime:
    """Make `token_hash` the reader's only token for `feed` (the old one stops working);
    returns when it was made."""
    made = now()
    conn.execute(
        sa.delete(feed_tokens).where(feed_tokens.c.user_id == user_id, feed_tokens.c.feed == feed)
    )
    conn.execute(
        sa.insert(feed_tokens).values(
            user_id=user_id, feed=feed, token_hash=token_hash, created_at=made
        )
    )
    return made


def delete_token(conn: Connection, user_id: int, feed: str) -> bool:
    """Revoke the reader's token for `feed`; False when there was none."""
    deleted = conn.execute(
        sa.delete(feed_tokens).where(feed_tokens.c.user_id == user_id, feed_tokens.c.feed == feed)
    )
    return bool(deleted.rowcount)


def token_made(conn: Connection, user_id: int, feed: str) -> datetime | None:
    """When the reader's token for `feed` was made; None when there is none."""
    return conn.execute(
        sa.select(feed_tokens.c.created_at).where(
            feed_tokens.c.user_id == user_id, feed_tokens.c.feed == feed
        )
    ).scalar_one_or_none()


def token_owner(conn: Connection, feed: str, token_hash: str) -> tuple[int, str] | None:
    """(user id, stored hash) of the token whose hash is `token_hash` for `feed`, else None.
    The caller compares the hashes again in constant time."""
    row = conn.execute(
        sa.select(feed_tokens.c.user_id, feed_tokens.c.token_hash).where(
            feed_tokens.c.token_hash == token_hash, feed_tokens.c.feed == feed
        )
    ).first()
    return None if row is None else (int(row.user_id), str(row.token_hash))
