"""The trending view of the daily list: which days it covers and its order, with the reason
for each paper's place (the score is domain/ranking.py's; docs/trending.md explains it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ..config import Config
from ..domain.papers import DailyItem, ListFilter
from ..domain.ranking import TrendingScore, score_trending
from ..storage import Store
from ..storage.daily import latest_day, list_daily


@dataclass
class Trending:
    item: DailyItem
    why: TrendingScore


def trending_score(config: Config, item: DailyItem, now: datetime) -> TrendingScore:
    """One listed paper's score with the configured gravity and offset."""
    return score_trending(
        item.upvotes,
        item.day,
        now,
        gravity=config.trending_gravity,
        offset_hours=config.trending_offset_hours,
    )


@dataclass(frozen=True)
class TrendingWindow:
    """The days the trending list covers and the moment its scores are computed for.

    Normally the `trending_window_days` up to the newest day with submissions, scored as of
    now. On a quiet site (nothing listed in the last `trending_window_days` days, like a demo
    catalog a year old) scores as of now would all be about 0 and say "listed 9,000 h ago":
    then the newest days with submissions are scored as of the end of their last day, and
    the page says so (`quiet`)."""

    first: date
    last: date
    as_of: datetime
    quiet: bool


def trending_window(store: Store, config: Config, now: datetime) -> TrendingWindow | None:
    """The trending window for `now`, None when nothing was ever listed."""
    with store.connect() as conn:
        newest = latest_day(conn)
    if newest is None:
        return None
    days = timedelta(days=config.trending_window_days - 1)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    quiet = newest < now.astimezone(UTC).date() - days
    as_of = datetime.combine(newest + timedelta(days=1), time(0), tzinfo=UTC) if quiet else now
    return TrendingWindow(newest - days, newest, as_of, quiet)


def trending(
    store: Store,
    config: Config,
    where: ListFilter,
    now: datetime,
    window: TrendingWindow | None = None,
) -> list[Trending]:
    """Papers of the trending window (`trending_window`, or `window` when the caller already
    read it) passing `where`'s paper filter, highest score first, each with its score as of
    the window's `as_of`."""
    if window is None:
        window = trending_window(store, config, now)
    if window is None:
        return []
    days = ListFilter(window.first, window.last, where.papers, where.submitter)
    with store.connect() as conn:
        items = list_daily(conn, days, order="newest", limit=None)
    ranked = [Trending(item, trending_score(config, item, window.as_of)) for item in items]
    ranked.sort(key=lambda t: (-t.why.score, -t.item.upvotes, t.item.arxiv_id))
    return ranked
