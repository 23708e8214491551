"""Writes that change nothing a page shows (rate-limit counts, sessions): short transactions
that leave `Store.generation` alone.

`Store.begin()` counts every write so the anonymous page cache (web/cache.py) can drop what it
holds; a login, a search or a page view of a logged-in reader must not empty that cache, so
these writes go through `bookkeeping(store)` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection

from . import Store


@contextmanager
def bookkeeping(store: Store) -> Iterator[Connection]:
    """One write transaction, like `store.begin()` (committed at the end of the block, rolled
    back on error; on SQLite behind the process's one writer), without counting it as a change
    of the catalog."""
    # Store.begin's body minus the generation count; the write lock is the store's own, so
    # these writes still take turns with every other writer in the process (SQLite).
    lock = store._write_lock
    if lock is None:
        with store.engine.begin() as conn:
            yield conn
        return
    with lock, store.engine.connect() as conn:
        conn.execution_options(sqlite_write=True)
        with conn.begin():
            yield conn
