"""The trending view of the daily list: which days it covers and its order, with the reason
for each paper's place (the score is domain/ranking.py's; docs/trending.md explains it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

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


def trending(store: Store, config: Config, where: ListFilter, now: datetime) -> list[Trending]:
    """Papers of the trending window (the `trending_window_days` up to the newest day with
    submissions) passing `where`'s paper filter, highest score first, each with its score."""
    with store.connect() as conn:
        newest = latest_day(conn)
        if newest is None:
            return []
        first = newest - timedelta(days=config.trending_window_days - 1)
        window = ListFilter(first, newest, where.papers, where.submitter)
        items = list_daily(conn, window, order="newest", limit=None)
    ranked = [Trending(item, trending_score(config, item, now)) for item in items]
    ranked.sort(key=lambda t: (-t.why.score, -t.item.upvotes, t.item.arxiv_id))
    return ranked
