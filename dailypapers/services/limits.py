"""Rate limits counted in the database: `StoreLimiter.hit(key, rate)` answers whether one more
attempt is allowed, for every worker process of the site at once (the counts are rows of
storage/limits.py, not process memory).

Windows are fixed and aligned to the clock: a `10/minute` key gets 10 hits from :00 to :59 of
each minute, an `N/day` key N hits per UTC day. A burst across a boundary can reach twice the
rate; that is the price of one row and one statement per hit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..ratelimit import Rate
from ..storage import Store
from ..storage.limits import count_hit, delete_windows_before

DAY = 86_400
SWEEP_EVERY = 3_600.0


class StoreLimiter:
    """A limiter on `store`; `clock` gives Unix seconds (tests pass their own)."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._swept: float | None = None  # the clock is first read at the first hit

    def hit(self, key: str, rate: Rate) -> float | None:
        """Count one attempt for `key`; None when it is within `rate`, else the seconds until
        the window ends. Refused attempts count too (they change nothing: the answer stays
        no until the window ends)."""
        now = self._clock()
        start = int(now // rate.seconds) * rate.seconds
        hits = count_hit(self.store, key, start)
        self._sweep(now)
        if hits > rate.count:
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
