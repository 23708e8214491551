"""Per-paper outcome rows of the background work that may fail and retry (thumbnails, AI
summaries): one row per paper keyed by `arxiv_id`, updated in place, with an `attempts` count."""

from __future__ import annotations

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
