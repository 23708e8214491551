"""Rate-limit windows: how many hits a key (an action and who: `login:ip:10.0.0.1`) had in one
fixed window of time. One row per (key, window start); services/limits.py turns counts into
answers. Every worker process counts in the same rows, so a limit holds for the whole site.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection as Connection  # services hand it on, typed

from . import Store
from .schema import rate_windows

# Driver SQL, not a SQLAlchemy construct: building and compiling the upsert took ~180 us a
# hit against ~45 us for the statement itself (bench/limits.py), and every limited request
# pays it. Both dialects spell INSERT ... ON CONFLICT DO UPDATE ... RETURNING the same way
# (SQLite since 3.35); only the parameter marks differ.
_COUNT = (
    'INSERT INTO rate_windows ("key", window_start, hits) VALUES ({mark}, {mark}, 1)'
    ' ON CONFLICT ("key", window_start) DO UPDATE SET hits = rate_windows.hits + 1'
    " RETURNING hits"
)
_FORGET_OLDER = 'DELETE FROM rate_windows WHERE "key" = {mark} AND window_start < {mark}'
_MARKS = {"sqlite": "?", "postgresql": "%s"}


def count_hit(store: Store, key: str, window_start: int) -> int:
    """Add one hit to `key`'s window that starts at `window_start` (Unix seconds) and return
    the window's count with this hit included: 1 for the first hit.

    One statement does the add and the read, so two processes hitting the same key at once
    get two different counts (PostgreSQL locks the row, SQLite has one writer). The first hit
    of a window also deletes the key's older windows, so an active key keeps one row. Does not
    change `store.generation` (the page cache stays).

    >>> from dailypapers.storage import open_store
    >>> store = open_store("sqlite:///:memory:")
    >>> count_hit(store, "login:ip:10.0.0.1", 60), count_hit(store, "login:ip:10.0.0.1", 60)
    (1, 2)
    >>> store.close()
    """
    return count_hits(store, [key], window_start)[0]


def count_hits(store: Store, keys: list[str], window_start: int) -> list[int]:
    """`count_hit` for each of `keys` (in their order) in one transaction: one commit for an
    address and an account. Keys are taken in sorted order, so two transactions counting the
    same keys on PostgreSQL lock their rows in the same order (no deadlock)."""
    with store.begin(counted=False) as conn:
        return count_hits_in(conn, keys, window_start)


def count_hits_in(conn: Connection, keys: list[str], window_start: int) -> list[int]:
    """`count_hits` inside the caller's write transaction."""
    mark = _MARKS[conn.dialect.name]
    count, forget = _COUNT.format(mark=mark), _FORGET_OLDER.format(mark=mark)
    counts: dict[str, int] = {}
    for key in sorted(set(keys)):
        counts[key] = conn.exec_driver_sql(count, (key, window_start)).scalar_one()
        if counts[key] == 1:
            conn.exec_driver_sql(forget, (key, window_start))
    return [counts[key] for key in keys]


def delete_windows_before(store: Store, cutoff: int) -> int:
    """Delete every window that started before `cutoff` (Unix seconds); returns how many.
    Keys hit once and never again (most addresses) leave a row each; this is how they go.
    A scan without an index: it runs about once an hour on a table of the last day's keys."""
    with store.begin(counted=False) as conn:
        result = conn.execute(sa.delete(rate_windows).where(rate_windows.c.window_start < cutoff))
    return int(result.rowcount or 0)
