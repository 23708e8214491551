"""The questions readiness and metrics ask the database: does it answer, does the catalog hold
papers at all. Each is one cheap query, safe to ask on every probe."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import papers


def ping(conn: Connection) -> None:
    """Raises when the database does not answer a trivial query."""
    conn.exec_driver_sql("SELECT 1").scalar_one()


def has_papers(conn: Connection) -> bool:
    """Whether the catalog holds at least one paper (an index lookup, not a count)."""
    return conn.execute(sa.select(papers.c.arxiv_id).limit(1)).first() is not None
