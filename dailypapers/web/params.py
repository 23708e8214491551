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
# What a username may hold (and more: imported submitters are slugs of any length); never a
# NUL, which PostgreSQL text cannot carry.
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_DIGITS = re.compile(r"^[0-9]{1,18}$")  # ASCII only: "²".isdigit() is True, int("²") fails
TRUE = frozenset({"1", "true", "yes", "on"})
MAX_CATEGORIES = 50
MAX_PAGE = 100_000  # pages past the end are empty; beyond this the offset is absurd


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
    return monday, shifted(monday, 6) or date.max  # 9999-W52 ends where the calendar does


def parse_month(text: str) -> tuple[date, date]:
    """`2025-10` -> (first day, last day)."""
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise BadParameter(f"month must be YYYY-MM, got {text[:40]!r}")
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def parse_categories(values: list[str]) -> tuple[str, ...]:
    """Category filters from repeated or comma-separated parameters (`cs.CL,cs.LG`), at most
    MAX_CATEGORIES distinct ones, in the order first given.

    >>> parse_categories(["cs.CL,cs.LG", "cs.CL"])
    ('cs.CL', 'cs.LG')
    """
    found: dict[str, None] = {}
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if len(part) > 40 or not _CATEGORY.match(part):
                raise BadParameter(f"category {part[:40]!r} is not an arXiv category")
            found[part] = None
            if len(found) > MAX_CATEGORIES:
                raise BadParameter(f"at most {MAX_CATEGORIES} categories at once")
    return tuple(found)


def iso_week(day: date) -> str:
    """date(2025, 2, 26) -> `2025-W09`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def shifted(day: date, days: int) -> date | None:
    """`day` moved by `days`, or None past either end of the calendar (year 1, year 9999)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


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
    if submitter is not None and not _USERNAME.match(submitter):
        raise BadParameter(f"submitter {submitter[:40]!r} is not a username")
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
    """An integer parameter within [low, high] (high None: MAX_PAGE, so no product of it
    reaches past a database integer)."""
    if value is None:
        return default
    text = value.strip()
    digits = text[1:] if text[:1] == "-" else text
    if not _DIGITS.match(digits):
        raise BadParameter(f"{name} must be an integer, got {value[:40]!r}")
    number = int(text)
    if high is not None and not low <= number <= high:
        raise BadParameter(f"{name} must be between {low} and {high}, got {number}")
    if number < low:
        raise BadParameter(f"{name} must be at least {low}, got {number}")
    if number > MAX_PAGE:
        raise BadParameter(f"{name} must be at most {MAX_PAGE}, got {number}")
    return number


def page_number(request: Request) -> int:
    """`page=` of a paged list, from 1."""
    raw = request.query_params.get("page", "1")
    if not _DIGITS.match(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise BadParameter(f"page must be a positive integer up to {MAX_PAGE}, got {raw[:20]!r}")
    return int(raw)


def optional_id(text: str) -> int | None:
    """A row id from a form field (`parent_id`); None for empty or anything not a plain
    number that fits an INTEGER column (32 bits)."""
    return int(text) if _DIGITS.match(text) and int(text) <= 2**31 - 1 else None


def paper_id(raw: str) -> str:
    """A paper id from a URL (any arXiv id or URL form); one that cannot be an id is simply
    not found."""
    try:
        return parse_paper_id(raw)
    except InvalidArxivId:
        raise NotFound(f"Paper {raw[:60]!r} not found") from None
