"""Digests and their items: queueing one digest per active subscription and period (the
unique key makes a second run's insert a no-op), taking one under a lease, freezing its papers,
and moving it through the states of domain/digests.py while the run holds the lease.

Why leases: a run that dies (kill -9, a lost machine) leaves its digest behind; once the
lease ends any run may take it over and see from its state how far the dead run got. Taking a
digest is `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent runs pass over rows
another is taking instead of waiting; SQLite has one writer at a time, so there the UPDATE
that sets the lease repeats the conditions and counts as taken only when it changed the row.
Every later write names the run (`lease_owner`) and changes nothing when another run has
taken the digest over meanwhile.

Times are naive UTC (storage/schema.py); writes are `counted=False`: no page an anonymous
reader sees changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.digests import ACTIVE, OPEN_STATES, QUEUED, Digest, DigestItem
from ..domain.errors import Conflict
from . import Store
from .schema import digest_items, digests, subscriptions


def _insert(dialect: str) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _digest(row: Any) -> Digest:
    return Digest(**dict(row._mapping))


def queue_digests(
    conn: Connection,
    daily_period: str,
    weekly_period: str,
    now: datetime,
    subscription_id: int | None = None,
) -> int:
    """Insert the digest of every active subscription (or only `subscription_id`) for its
    period: `daily_period` or `weekly_period` by its frequency. A digest that exists already
    is left alone. Returns how many were inserted.

    One INSERT ... SELECT ... ON CONFLICT DO NOTHING (SQLite needs the WHERE the SELECT has
    anyway to parse it)."""
    period = sa.case(
        (subscriptions.c.frequency == "weekly", sa.literal(weekly_period)),
        else_=sa.literal(daily_period),
    )
    conditions = [subscriptions.c.status == ACTIVE]
    if subscription_id is not None:
        conditions.append(subscriptions.c.id == subscription_id)
    rows = sa.select(
        subscriptions.c.id,
        period,
        sa.literal(QUEUED),
        sa.literal(0),
        sa.literal(now, sa.DateTime),
        sa.literal(now, sa.DateTime),
    ).where(*conditions)
    dialect = conn.engine.dialect.name
    statement = (
        _insert(dialect)(digests)
        .from_select(
            ["subscription_id", "period", "status", "attempts", "created_at", "updated_at"],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "period"])
        .returning(digests.c.id)  # counted from the rows: psycopg's rowcount here is -1
    )
    return len(conn.execute(statement).all())


def _claimable(now: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        digests.c.status.in_(OPEN_STATES),
        sa.or_(digests.c.lease_until.is_(None), digests.c.lease_until <= now),
        sa.or_(digests.c.next_attempt_at.is_(None), digests.c.next_attempt_at <= now),
    ]


def claim_digest(
    store: Store,
    owner: str,
    now: datetime,
    lease_until: datetime,
    subscription_id: int | None = None,
) -> Digest | None:
    """Take an open digest nobody holds (of `subscription_id` when given) for the run
    `owner` until `lease_until`, in its own transaction; None when there is none. The digest
    comes back in the state the last run left it, so the caller sees how far that run got."""
    conditions = _claimable(now)
    if subscription_id is not None:
        conditions.append(digests.c.subscription_id == subscription_id)
    with store.begin(counted=False) as conn:
        # No ORDER BY: the first open digest the (status, next_attempt_at) index gives. Sorting
        # every open digest by id for each claim would make a run of n digests O(n^2).
        pick = sa.select(digests.c.id).where(*conditions).limit(1)
        if store.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        digest_id = conn.execute(pick).scalar_one_or_none()
        if digest_id is None:
            return None
        row = conn.execute(
            sa.update(digests)
            .where(digests.c.id == digest_id, *conditions)
            .values(lease_owner=owner, lease_until=lease_until, updated_at=now)
            .returning(*digests.c)
        ).first()
    return None if row is None else _digest(row)


def move_digest(conn: Connection, digest_id: int, owner: str, now: datetime, **values: Any) -> bool:
    """Set `values` (a new status, its detail, a renewed `lease_until`...) on a digest the run
    `owner` holds; False, and nothing written, when another run has taken it over."""
    result = conn.execute(
        sa.update(digests)
        .where(digests.c.id == digest_id, digests.c.lease_owner == owner)
        .values(**values, updated_at=now)
    )
    return bool(result.rowcount)


def freeze_digest(
    conn: Connection,
    digest: Digest,
    owner: str,
    items: Sequence[DigestItem],
    now: datetime,
    **values: Any,
) -> bool:
    """Record `items` as the digest's papers and set `values` (status ready or empty, the
    Message-ID), in the caller's transaction, if `owner` still holds the still-queued digest;
    False, and nothing written, when it does not.

    The items' key (subscription, paper) refuses a paper this reader was already given. The
    caller leaves those out; when another run froze one of them into another digest of the
    same reader meanwhile (two periods composed at once), this raises Conflict, nothing of
    it is written (a savepoint) and the caller composes again."""
    try:
        with conn.begin_nested():
            return _freeze(conn, digest, owner, items, now, values)
    except sa.exc.IntegrityError:
        raise Conflict("a paper of this digest went to the reader in another digest") from None


def _freeze(
    conn: Connection,
    digest: Digest,
    owner: str,
    items: Sequence[DigestItem],
    now: datetime,
    values: dict[str, Any],
) -> bool:
    result = conn.execute(
        sa.update(digests)
        .where(
            digests.c.id == digest.id, digests.c.lease_owner == owner, digests.c.status == QUEUED
        )
        .values(**values, composed_at=now, updated_at=now)
    )
    if not result.rowcount:
        return False
    if items:
        conn.execute(
            sa.insert(digest_items),
            [
                {
                    "subscription_id": digest.subscription_id,
                    "arxiv_id": item.arxiv_id,
                    "digest_id": digest.id,
                    "section": item.section,
                    "position": item.position,
                    "why": item.why,
                }
                for item in items
            ],
        )
    return True


def shown_papers(conn: Connection, subscription_id: int) -> set[str]:
    """Every paper already frozen into one of this subscription's digests."""
    query = sa.select(digest_items.c.arxiv_id).where(
        digest_items.c.subscription_id == subscription_id
    )
    return set(conn.execute(query).scalars())


def items_of(conn: Connection, digest_id: int) -> list[DigestItem]:
    """The digest's papers in their order."""
    query = (
        sa.select(
            digest_items.c.arxiv_id,
            digest_items.c.section,
            digest_items.c.position,
            digest_items.c.why,
        )
        .where(digest_items.c.digest_id == digest_id)
        .order_by(digest_items.c.position)
    )
    return [DigestItem(**dict(row._mapping)) for row in conn.execute(query)]


def get_digest(conn: Connection, digest_id: int) -> Digest | None:
    row = conn.execute(sa.select(digests).where(digests.c.id == digest_id)).first()
    return None if row is None else _digest(row)


def digests_of(conn: Connection, subscription_id: int, limit: int = 10) -> list[Digest]:
    """The subscription's latest digests, newest first."""
    query = (
        sa.select(digests)
        .where(digests.c.subscription_id == subscription_id)
        .order_by(digests.c.id.desc())
        .limit(limit)
    )
    return [_digest(row) for row in conn.execute(query)]


def digest_counts(conn: Connection, periods: Sequence[str] | None = None) -> dict[str, int]:
    """How many digests are in each state (of the given periods, else all)."""
    query = sa.select(digests.c.status, sa.func.count()).group_by(digests.c.status)
    if periods is not None:
        query = query.where(digests.c.period.in_(list(periods)))
    return {status: int(count) for status, count in conn.execute(query)}


def digests_in(
    conn: Connection, statuses: Sequence[str], limit: int = 200
) -> list[tuple[Digest, str]]:
    """Digests in `statuses` with their recipients' addresses, newest first (what admins are
    shown: possibly sent, failed, waiting to retry)."""
    query = (
        sa.select(digests, subscriptions.c.email)
        .join(subscriptions, subscriptions.c.id == digests.c.subscription_id)
        .where(digests.c.status.in_(list(statuses)))
        .order_by(digests.c.id.desc())
        .limit(limit)
    )
    found = []
    for row in conn.execute(query):
        data = dict(row._mapping)
        email = data.pop("email")
        found.append((Digest(**data), str(email)))
    return found


def open_digests(conn: Connection) -> int:
    """Digests not yet in a final state (queued, being sent, waiting to retry)."""
    query = sa.select(sa.func.count()).select_from(digests).where(digests.c.status.in_(OPEN_STATES))
    return int(conn.execute(query).scalar_one())


def held_digests(conn: Connection, now: datetime) -> int:
    """Open digests that a run holds now (this one's included, if it holds any)."""
    query = (
        sa.select(sa.func.count())
        .select_from(digests)
        .where(digests.c.status.in_(OPEN_STATES), digests.c.lease_until > now)
    )
    return int(conn.execute(query).scalar_one())


def waiting_digests(conn: Connection, now: datetime) -> int:
    """Open digests waiting for a later retry (a temporary failure's backoff)."""
    query = (
        sa.select(sa.func.count())
        .select_from(digests)
        .where(digests.c.status.in_(OPEN_STATES), digests.c.next_attempt_at > now)
    )
    return int(conn.execute(query).scalar_one())
