"""Per-paper outcome rows of the background work that may fail and retry (thumbnails, AI
summaries): one row per paper keyed by `arxiv_id`, updated in place, with an `attempts` count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def attempts_of(conn: Connection, table: sa.Table, arxiv_id: str) -> int:
    """How many times the work was tried for this paper (0 when never)."""
    query = sa.select(table.c.attempts).where(table.c.arxiv_id == arxiv_id)
    return int(conn.execute(query).scalar() or 0)


def upsert_outcome(
    conn: Connection, table: sa.Table, arxiv_id: str, values: dict[str, object]
) -> None:
    """Update the paper's row with `values`, or add it (one writer per paper at a time: the
    backfills hold a lock or run as one job)."""
    updated = conn.execute(sa.update(table).where(table.c.arxiv_id == arxiv_id).values(**values))
    if updated.rowcount == 0:
        conn.execute(sa.insert(table).values(arxiv_id=arxiv_id, **values))


def record_success(
    conn: Connection, table: sa.Table, arxiv_id: str, now: datetime, values: dict[str, object]
) -> None:
    """The work succeeded: `values` (the row's own columns) with the failure fields cleared
    and this attempt counted."""
    upsert_outcome(
        conn,
        table,
        arxiv_id,
        {
            **values,
            "reason": None,
            "error": None,
            "attempts": attempts_of(conn, table, arxiv_id) + 1,
            "next_try_at": None,
            "updated_at": now,
        },
    )


def record_attempt_failed(
    conn: Connection,
    table: sa.Table,
    arxiv_id: str,
    failure: tuple[str, str],
    now: datetime,
    wait: Callable[[int], timedelta],
    values: dict[str, object],
) -> int:
    """The attempt failed for `failure` (a short reason, the error text); the next may run
    `wait(attempts)` after `now`, where `attempts` counts this one, which is returned.
    `values` are the row's own columns to set with it."""
    reason, error = failure
    attempts = attempts_of(conn, table, arxiv_id) + 1
    upsert_outcome(
        conn,
        table,
        arxiv_id,
        {
            **values,
            "reason": reason,
            "error": error[:2000],
            "attempts": attempts,
            "next_try_at": now + wait(attempts),
            "updated_at": now,
        },
    )
    return attempts
