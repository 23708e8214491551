"""The change counter: one number in the database that each write changing what anonymous pages
show moves, inside that write's transaction (Store.begin does it for every counted write). A
process's page cache reads it now and then and empties itself when it moved, so a vote taken by
one worker or machine shows on the others' cached pages within `cache_check_seconds`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import changes

# The same statement on SQLite (3.24+) and PostgreSQL. The row is made by the first write, so a
# freshly migrated database holds no row of ours (a restore wants an empty one).
_BUMP = (
    "INSERT INTO changes (id, counter) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET counter = changes.counter + 1 RETURNING counter"
)


def bump_change_count(conn: Connection) -> int:
    """Move the counter, in the caller's transaction, and return its new value. Call it last:
    on PostgreSQL the row is locked until the transaction ends, so concurrent writers wait for
    each other only while one commits, and, as every writer takes it last, never in a cycle."""
    return int(conn.exec_driver_sql(_BUMP).scalar_one())


def read_change_count(conn: Connection) -> int:
    """The counter's value; 0 before the first counted write."""
    value = conn.execute(sa.select(changes.c.counter).where(changes.c.id == 1)).scalar()
    return int(value or 0)
