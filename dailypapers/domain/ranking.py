"""The trending score: upvotes decayed by age, in the style of Hacker News.

    score = upvotes / (age_hours + trending_offset_hours) ** trending_gravity

`age_hours` counts from the start (00:00 UTC) of the day the paper went on the daily list. With
the defaults (gravity 1.8, offset 2 h) a paper listed yesterday with 10 votes scores
10 / 26**1.8 = 0.0284 and one listed today (8 h old) with 3 votes 3 / 10**1.8 = 0.0475, so fresh
papers rise quickly and old ones sink however many votes they gathered. Pure functions: the
clock is passed in. Parameters are settings (docs/trending.md explains them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time


@dataclass(frozen=True)
class TrendingScore:
    """Why a paper is where it is on the trending list."""

    upvotes: int
    age_hours: float
    score: float


def score_trending(
    upvotes: int, listed_on: date, now: datetime, *, gravity: float, offset_hours: float
) -> TrendingScore:
    """The trending score of a paper with `upvotes`, listed on `listed_on`, as of `now` (UTC).

    >>> score_trending(10, date(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC),
    ...                gravity=1.8, offset_hours=2).score
    0.02838...
    """
    listed = datetime.combine(listed_on, time(0), tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    age = max(0.0, (now - listed).total_seconds() / 3600)
    value = max(upvotes, 0) / (age + offset_hours) ** gravity
    return TrendingScore(upvotes, round(age, 1), value)
