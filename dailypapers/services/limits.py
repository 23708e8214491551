"""Rate limits counted in the database: `StoreLimiter.hit(key, rate)` answers whether one more
attempt is allowed, for every worker process of the site at once (the counts are rows of
storage/limits.py, not process memory). `hit_all` counts the keys of one request (its address
and its account) in one transaction: the bookkeeping a limited write pays is one commit.

Windows are fixed and aligned to the clock: a `10/minute` key gets 10 hits from :00 to :59 of
each minute, an `N/day` key N hits per UTC day. A burst across a boundary can reach twice the
rate; that is the price of one row and one statement per hit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..domain.errors import TooMany
from ..ratelimit import Rate
from ..storage import Store
from ..storage.limits import Connection, count_hits, count_hits_in, delete_windows_before

DAY = 86_400
SWEEP_EVERY = 3_600.0


class StoreLimiter:
    """A limiter on `store`; `clock` gives Unix seconds (tests pass their own)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._swept: float | None = None  # the clock is first read at the first hit

    def hit(self, key: str, rate: Rate | None) -> float | None:
        """Count one attempt for `key`; None when it is within `rate` (or `rate` is None: no
        limit, nothing counted), else the seconds until the window ends. Refused attempts
        count too (they change nothing: the answer stays no until the window ends)."""
        return self.hit_all([key], rate)

    def hit_all(self, keys: list[str], rate: Rate | None) -> float | None:
        """`hit` for several keys in one transaction; the longest wait of those refused."""
        if rate is None or not keys:
            return None
        now = self._clock()
        start = int(now // rate.seconds) * rate.seconds
        counts = count_hits(self.store, keys, start)
        self._sweep(now)
        if max(counts) > rate.count:
            return start + rate.seconds - now
        return None

    def charge(self, conn: Connection, keys: list[str], rate: Rate) -> float | None:
        """`hit_all` inside the caller's write transaction (`conn`): the write a limit guards
        and its count share one commit and one turn at SQLite's write lock. A refusal is
        meant to roll the transaction back, and the count with it: the key stays at its
        limit, so the answer stays no until the window ends, as when refusals count."""
        now = self._clock()
        start = int(now // rate.seconds) * rate.seconds
        # No sweep here: it is a transaction of its own, and this one holds the write lock
        # (hits outside writes, and the cleanup job, keep the table small).
        counts = count_hits_in(conn, keys, start)
        if max(counts) > rate.count:
            return start + rate.seconds - now
        return None

    def _sweep(self, now: float) -> None:
        # Keys hit once (an address that came by, a mistyped login) leave a row each: about
        # once an hour each process deletes the windows that ended a day ago or more (no
        # period is longer than a day, so none of them is still counting).
        with self._lock:
            if self._swept is None:
                self._swept = now
            if now - self._swept < SWEEP_EVERY:
                return
            self._swept = now
        delete_windows_before(self.store, int(now) - DAY)


@dataclass(frozen=True)
class Budget:
    """One request's claim on a limit (`rate` for each of `keys`: its address, its account),
    counted by the service inside the write it allows (`charge`). The web layer makes one
    (web/auth.py `budget`); None stands for a limit that is off."""

    limiter: StoreLimiter
    keys: list[str]
    rate: Rate


def charge(conn: Connection, budget: Budget | None) -> None:
    """Count `budget` in the write transaction `conn`; TooMany (which rolls the write back)
    when a key is over its rate. Nothing to do for None."""
    if budget is None:
        return
    wait = budget.limiter.charge(conn, budget.keys, budget.rate)
    if wait is not None:
        raise TooMany(f"Too many attempts ({budget.rate}); try again in {int(wait) + 1} s.")
