"""Digest subscriptions: one row per email address (lower-cased), tied to an account when an
account holder switched the digest on. Creating, finding (by id, address or account),
changing, and counting permanent delivery failures; services/subscriptions.py holds the rules
(double opt-in, who may change what).

Writes happen in the caller's transaction; callers use `store.begin(counted=False)`, since
nothing here changes a page an anonymous reader sees.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.digests import ACTIVE, PAUSED, PENDING, Subscription
from ..domain.errors import Conflict
from .schema import subscriptions

_JSON_FIELDS = ("sections", "negative_keywords")


def _subscription(row: Any) -> Subscription | None:
    if row is None:
        return None
    data = dict(row._mapping)
    for name in _JSON_FIELDS:
        data[name] = json.loads(data[name])
    return Subscription(**data)


def _dumped(values: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in values.items()}


def get_subscription(conn: Connection, subscription_id: int) -> Subscription | None:
    query = sa.select(subscriptions).where(subscriptions.c.id == subscription_id)
    return _subscription(conn.execute(query).first())


def find_subscription(conn: Connection, email: str) -> Subscription | None:
    """The subscription of `email` (compared lower-cased, as stored), or None."""
    query = sa.select(subscriptions).where(subscriptions.c.email == email.strip().lower())
    return _subscription(conn.execute(query).first())


def subscription_of_user(conn: Connection, user_id: int) -> Subscription | None:
    query = sa.select(subscriptions).where(subscriptions.c.user_id == user_id)
    return _subscription(conn.execute(query).first())


def add_subscription(
    conn: Connection,
    email: str,
    *,
    user_id: int | None,
    status: str,
    frequency: str,
    sections: list[str],
    max_papers: int,
    now: datetime,
) -> Subscription:
    """Insert a subscription for `email` (stored lower-cased). Raises Conflict when the
    address or the account already has one (a savepoint keeps the caller's transaction)."""
    values = {
        "email": email.strip().lower(),
        "user_id": user_id,
        "status": status,
        "frequency": frequency,
        "sections": sections,
        "max_papers": max_papers,
        "negative_keywords": [],
        "failures": 0,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                sa.insert(subscriptions).values(_dumped(values)).returning(subscriptions.c.id)
            ).scalar_one()
    except sa.exc.IntegrityError:
        raise Conflict("that address or account already has a subscription") from None
    found = get_subscription(conn, int(new_id))
    assert found is not None
    return found


def active_subscriptions(
    conn: Connection, subscription_id: int | None = None
) -> list[Subscription]:
    """Every active subscription (or only `subscription_id`, if active), oldest first."""
    query = sa.select(subscriptions).where(subscriptions.c.status == ACTIVE)
    if subscription_id is not None:
        query = query.where(subscriptions.c.id == subscription_id)
    found = (_subscription(row) for row in conn.execute(query.order_by(subscriptions.c.id)))
    return [s for s in found if s is not None]


def update_subscription(
    conn: Connection, subscription_id: int, now: datetime, **values: Any
) -> None:
    """Set the given columns (lists for `sections` and `negative_keywords`) and updated_at."""
    conn.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(**_dumped(values), updated_at=now)
    )


def record_failure(
    conn: Connection, subscription_id: int, limit: int, reason: str, now: datetime
) -> bool:
    """Count one permanent delivery failure; at `limit` failures in a row the subscription is
    paused with `reason`. Returns whether it is paused now. (A delivered digest sets the count
    back to 0: `reset_failures`.)"""
    failures = conn.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(failures=subscriptions.c.failures + 1, updated_at=now)
        .returning(subscriptions.c.failures)
    ).scalar_one_or_none()
    if failures is None or failures < limit:
        return False
    conn.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == subscription_id)
        .values(status=PAUSED, pause_reason=reason)
    )
    return True


def reset_failures(conn: Connection, subscription_id: int) -> None:
    conn.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.failures != 0)
        .values(failures=0)
    )


def count_subscriptions(conn: Connection) -> dict[str, int]:
    """How many subscriptions are in each state, e.g. {"active": 12, "pending": 3}."""
    query = sa.select(subscriptions.c.status, sa.func.count()).group_by(subscriptions.c.status)
    return {status: int(count) for status, count in conn.execute(query)}


def delete_unconfirmed(conn: Connection, sent_before: datetime) -> int:
    """Delete visitors' subscriptions that were never confirmed and whose last confirmation
    mail (else the request) is older than `sent_before`: their link has expired, so nothing
    will ever be sent to the address, and the site need not keep it. Account holders' rows
    and any subscription confirmed once stay. How many."""
    sent = sa.func.coalesce(subscriptions.c.confirm_sent_at, subscriptions.c.created_at)
    result = conn.execute(
        sa.delete(subscriptions).where(
            subscriptions.c.status == PENDING,
            subscriptions.c.user_id.is_(None),
            subscriptions.c.confirmed_at.is_(None),
            sent < sent_before,
        )
    )
    return int(result.rowcount or 0)
