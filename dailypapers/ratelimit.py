"""Rate limits: the `N/period` syntax of the `rate_*` settings, and what the web asks of a
limiter (`hit(key, rate)`).

The limiter the site uses counts in the database (services/limits.py), so all worker processes
share one budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    def __str__(self) -> str:
        name = next(k for k, v in PERIODS.items() if v == self.seconds)
        return f"{self.count}/{name}"


OFF = "off"


def parse_rate(text: str) -> Rate | None:
    """`10/minute` -> Rate(10, 60); `off` -> None (no limit: nothing is counted). Raises
    ValueError for anything else."""
    if text.strip().lower() == OFF:
        return None
    match = _RATE.match(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError("must look like 10/minute (periods: second, minute, hour, day) or be off")
    return Rate(int(match.group(1)), PERIODS[match.group(2)])


class Limiter(Protocol):
    def hit(self, key: str, rate: Rate | None) -> float | None:
        """Count one event for `key`; None when allowed (always when `rate` is None), else
        seconds until it will be."""

    def hit_all(self, keys: list[str], rate: Rate | None) -> float | None:
        """Count one event for each of `keys` at once (one transaction); None when every key
        is within `rate`, else the longest wait among those over it."""
