"""Request parameters, parsed in one place: days, ISO weeks and months from URLs, the paper
filter every list, feed and search takes (`category=`, `has_code=`), page numbers and integer
bounds, paper ids. Bad values raise BadParameter with a message that names the parameter and
says what is wrong (web/errors.py answers it with 400)."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from fastapi import Request

from ..domain.errors import BadParameter, NotFound
from ..domain.ids import InvalidArxivId, parse_paper_id
from ..domain.papers import ListFilter, PaperFilter

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CATEGORY = re.compile(r"^[A-Za-z-]+(?:\.[A-Za-z-]+)?$")
TRUE = frozenset({"1", "true", "yes", "on"})


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
    """date(2025, 2, 26) -> `2025-W09`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def is_true(value: str | None) -> bool:
    return (value or "").lower() in TRUE


def paper_filter(request: Request) -> PaperFilter:
    """The filter a page, feed or API call asks for: `category` (repeated or comma-separated)
    and `has_code`."""
    params = request.query_params
    return PaperFilter(
        categories=parse_categories(params.getlist("category")),
        has_code=is_true(params.get("has_code")),
    )


def list_filter(
    date: str | None,
    week: str | None,
    month: str | None,
    papers: PaperFilter,
    submitter: str | None = None,
) -> ListFilter:
    """The days (at most one of date, week, month), papers and submitter a list asks for."""
    given = [name for name, value in (("date", date), ("week", week), ("month", month)) if value]
    if len(given) > 1:
        raise BadParameter(f"give only one of date, week and month (got {', '.join(given)})")
    first = last = None
    if date:
        first = last = parse_day(date)
    elif week:
        first, last = parse_week(week)
    elif month:
        first, last = parse_month(month)
    return ListFilter(first, last, papers, submitter)


def bounded_int(value: str | None, name: str, default: int, low: int, high: int | None) -> int:
    """An integer parameter within [low, high] (high None: no upper bound)."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(f"{name} must be an integer, got {value[:40]!r}") from None
    if number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadParameter(f"{name} must be {bounds}, got {number}")
    return number


def page_number(request: Request) -> int:
    """`page=` of a paged list, from 1."""
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise BadParameter(f"page must be a positive integer, got {raw[:20]!r}")
    return int(raw)


def paper_id(raw: str) -> str:
    """A paper id from a URL (any arXiv id or URL form); one that cannot be an id is simply
    not found."""
    try:
        return parse_paper_id(raw)
    except InvalidArxivId:
        raise NotFound(f"Paper {raw[:60]!r} not found") from None
