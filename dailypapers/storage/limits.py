"""Rate-limit windows: how many hits a key (an action and who: `login:ip:10.0.0.1`) had in one
fixed window of time. One row per (key, window start); services/limits.py turns counts into
answers. Every worker process counts in the same rows, so a limit holds for the whole site.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from . import Store
from .schema import rate_windows


def _upsert(dialect: str) -> Any:
    # Both dialects spell INSERT ... ON CONFLICT DO UPDATE ... RETURNING the same way
    # (SQLite since 3.35); only the construct comes from a different module.
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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
    insert = _upsert(store.dialect)(rate_windows).values(key=key, window_start=window_start, hits=1)
    statement = insert.on_conflict_do_update(
        index_elements=[rate_windows.c.key, rate_windows.c.window_start],
        set_={"hits": rate_windows.c.hits + 1},
    ).returning(rate_windows.c.hits)
    with store.begin(counted=False) as conn:
        hits: int = conn.execute(statement).scalar_one()
        if hits == 1:
            conn.execute(
                sa.delete(rate_windows).where(
                    rate_windows.c.key == key, rate_windows.c.window_start < window_start
                )
            )
    return hits


def delete_windows_before(store: Store, cutoff: int) -> int:
    """Delete every window that started before `cutoff` (Unix seconds); returns how many.
    Keys hit once and never again (most addresses) leave a row each; this is how they go.
    A scan without an index: it runs about once an hour on a table of the last day's keys."""
    with store.begin(counted=False) as conn:
        result = conn.execute(sa.delete(rate_windows).where(rate_windows.c.window_start < cutoff))
    return int(result.rowcount or 0)
