"""Daily-list views shared by the pages, the JSON API and the feeds: which days a view covers
(a day, an ISO week, a month, the trending window), parsing those from URLs with messages that
say what is wrong, and the trending order with its explanation."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Connection

from .config import Config
from .ranking import TrendingScore, score_trending
from .storage.daily import DailyItem, ListFilter, latest_day, list_daily

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CATEGORY = re.compile(r"^[A-Za-z-]+(?:\.[A-Za-z-]+)?$")


class BadParameter(ValueError):
    """A URL parameter that cannot be used; the message names it and says why."""


def parse_day(text: str, name: str = "date") -> date:
    """`2025-10-29` -> date. Raises BadParameter naming `name` otherwise."""
    if not _DAY.match(text):
        raise BadParameter(f"{name} must be YYYY-MM-DD, got {text[:40]!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name} {text!r} is not a real day") from None


def parse_week(text: str) -> tuple[date, date]:
    """ISO week `2025-W09` -> (Monday, Sunday)."""
    match = _WEEK.match(text)
    if not match:
        raise BadParameter(f"week must be YYYY-Www (e.g. 2025-W09), got {text[:40]!r}")
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise BadParameter(f"week {text!r} does not exist") from None
    return monday, monday + timedelta(days=6)


def parse_month(text: str) -> tuple[date, date]:
    """`2025-10` -> (first day, last day)."""
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise BadParameter(f"month must be YYYY-MM, got {text[:40]!r}")
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def parse_categories(values: list[str]) -> tuple[str, ...]:
    """Category filters from repeated or comma-separated parameters (`cs.CL,cs.LG`)."""
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not _CATEGORY.match(part) or len(part) > 40:
                raise BadParameter(f"category {part[:40]!r} is not an arXiv category")
            if part not in found:
                found.append(part)
    return tuple(found)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class Trending:
    item: DailyItem
    why: TrendingScore


def trending(
    conn: Connection, config: Config, where: ListFilter, now: datetime | None = None
) -> list[Trending]:
    """Papers of the trending window (the `trending_window_days` up to the newest day with
    submissions), highest score first, each with its score breakdown."""
    now = now or datetime.now(UTC)
    newest = latest_day(conn)
    if newest is None:
        return []
    first = newest - timedelta(days=config.trending_window_days - 1)
    window = ListFilter(first, newest, where.categories, where.has_code, where.submitter)
    items = list_daily(conn, window, order="newest", limit=None)
    ranked = [
        Trending(
            item,
            score_trending(
                item.upvotes,
                item.day,
                now,
                gravity=config.trending_gravity,
                offset_hours=config.trending_offset_hours,
            ),
        )
        for item in items
    ]
    ranked.sort(key=lambda t: (-t.why.score, -t.item.upvotes, t.item.arxiv_id))
    return ranked
