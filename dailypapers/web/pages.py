"""HTML pages: the daily list (day, week, month, trending), paper pages, and their links to
JSON twins and feeds. Pages work without JavaScript; filter state lives in the URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..api.routes import ApiError, markdown_response, resolve_paper_id, similar_to
from ..lists import (
    BadParameter,
    Trending,
    iso_week,
    parse_categories,
    parse_day,
    parse_month,
    parse_week,
    trending,
)
from ..ranking import score_trending
from ..storage.daily import (
    DailyItem,
    ListFilter,
    category_counts,
    count_daily,
    daily_entry,
    latest_day,
    list_daily,
    neighbour_days,
)
from ..storage.papers import get_paper
from ..storage.people import thread, voted_papers
from .auth import current_user

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
TRUE = {"1", "true", "yes", "on"}


@dataclass
class Filters:
    categories: tuple[str, ...] = ()
    has_code: bool = False

    def query(self, **extra: str) -> str:
        pairs = [("category", c) for c in self.categories]
        if self.has_code:
            pairs.append(("has_code", "1"))
        pairs += [(k, v) for k, v in extra.items() if v]
        return ("?" + urlencode(pairs)) if pairs else ""


def read_filters(request: Request) -> Filters:
    try:
        categories = parse_categories(request.query_params.getlist("category"))
    except BadParameter as error:
        raise ApiError(400, str(error)) from None
    return Filters(categories, request.query_params.get("has_code", "").lower() in TRUE)


def read_page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, f"page must be a positive integer, got {raw[:20]!r}")
    return int(raw)


@dataclass
class ListPage:
    """Everything list.html needs."""

    title: str
    heading: str
    view: str  # day | week | month | trending
    items: list[DailyItem]
    filters: Filters
    path: str
    json_url: str
    feed_query: str
    page: int = 1
    total: int = 0
    day: date | None = None
    previous: tuple[str, str] | None = None  # (label, url)
    following: tuple[str, str] | None = None
    categories: list[tuple[str, int]] = field(default_factory=list)
    why: dict[str, Any] = field(default_factory=dict)


def _render(request: Request, page: ListPage) -> Response:
    templates = request.app.state.templates
    pages = max(1, -(-page.total // PAGE_SIZE))
    user = current_user(request)
    voted: set[str] = set()
    if user is not None and page.items:
        with request.app.state.store.connect() as conn:
            voted = voted_papers(conn, user.id, [i.arxiv_id for i in page.items])
    return templates.TemplateResponse(
        request, "list.html", {"list": page, "pages": pages, "voted": voted}
    )


def _day_page(request: Request, day: date | None) -> Response:
    filters = read_filters(request)
    number = read_page(request)
    with request.app.state.store.connect() as conn:
        if day is None:
            day = latest_day(conn) or date.today()
        where = ListFilter(day, day, filters.categories, filters.has_code)
        total = count_daily(conn, where)
        items = list_daily(conn, where, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        before, after = neighbour_days(conn, day)
        categories = category_counts(conn, where)
    suffix = filters.query()
    page = ListPage(
        title=f"Papers of {day:%d %B %Y}",
        heading=f"{day:%A, %d %B %Y}",
        view="day",
        items=items,
        filters=filters,
        path=f"/papers/date/{day.isoformat()}",
        json_url="/api/daily_papers" + filters.query(date=day.isoformat()),
        feed_query=filters.query(date=day.isoformat()),
        page=number,
        total=total,
        day=day,
        previous=(f"{before:%d %b %Y}", f"/papers/date/{before.isoformat()}{suffix}")
        if before
        else None,
        following=(f"{after:%d %b %Y}", f"/papers/date/{after.isoformat()}{suffix}")
        if after
        else None,
        categories=categories,
    )
    return _render(request, page)


def _range_page(
    request: Request,
    view: str,
    label: str,
    first: date,
    last: date,
    names: tuple[str, str],
    heading: str,
) -> Response:
    filters = read_filters(request)
    number = read_page(request)
    where = ListFilter(first, last, filters.categories, filters.has_code)
    with request.app.state.store.connect() as conn:
        total = count_daily(conn, where)
        items = list_daily(conn, where, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        categories = category_counts(conn, where)
    suffix = filters.query()
    return _render(
        request,
        ListPage(
            title=heading,
            heading=heading,
            view=view,
            items=items,
            filters=filters,
            path=f"/papers/{view}/{label}",
            json_url="/api/daily_papers" + filters.query(**{view: label}),
            feed_query=filters.query(**{view: label}),
            page=number,
            total=total,
            day=first,
            previous=(names[0], f"/papers/{view}/{names[0]}{suffix}"),
            following=(names[1], f"/papers/{view}/{names[1]}{suffix}"),
            categories=categories,
        ),
    )


@router.get("/")
@router.get("/papers")
def daily_page(request: Request) -> Response:
    picked = request.query_params.get("date")
    if picked:  # the date picker submits ?date=...
        try:
            day = parse_day(picked)
        except BadParameter as error:
            raise ApiError(400, str(error)) from None
        query = read_filters(request).query()
        return RedirectResponse(f"/papers/date/{day.isoformat()}{query}", status_code=303)
    return _day_page(request, None)


@router.get("/papers/date/{day}")
def date_page(request: Request, day: str) -> Response:
    try:
        parsed = parse_day(day)
    except BadParameter as error:
        raise ApiError(400, str(error)) from None
    return _day_page(request, parsed)


@router.get("/papers/week/{week}")
def week_page(request: Request, week: str) -> Response:
    try:
        monday, sunday = parse_week(week)
    except BadParameter as error:
        raise ApiError(400, str(error)) from None
    names = (iso_week(monday - timedelta(days=7)), iso_week(monday + timedelta(days=7)))
    heading = f"Week {week}: {monday:%d %b} to {sunday:%d %b %Y}"
    return _range_page(request, "week", week, monday, sunday, names, heading)


@router.get("/papers/month/{month}")
def month_page(request: Request, month: str) -> Response:
    try:
        first, last = parse_month(month)
    except BadParameter as error:
        raise ApiError(400, str(error)) from None
    before = (first - timedelta(days=1)).strftime("%Y-%m")
    after = (last + timedelta(days=1)).strftime("%Y-%m")
    return _range_page(request, "month", month, first, last, (before, after), f"{first:%B %Y}")


@router.get("/papers/trending")
def trending_page(request: Request) -> Response:
    filters = read_filters(request)
    with request.app.state.store.connect() as conn:
        where = ListFilter(categories=filters.categories, has_code=filters.has_code)
        ranked: list[Trending] = trending(conn, request.app.state.config, where)[:PAGE_SIZE]
        categories = category_counts(conn, ListFilter())
    return _render(
        request,
        ListPage(
            title="Trending papers",
            heading="Trending",
            view="trending",
            items=[t.item for t in ranked],
            filters=filters,
            path="/papers/trending",
            json_url="/api/daily_papers" + filters.query(sort="trending"),
            feed_query=filters.query(),
            total=len(ranked),
            categories=categories,
            why={t.item.arxiv_id: t.why for t in ranked},
        ),
    )


@router.get("/papers/{paper_id:path}", name="paper_page")
def paper_page(request: Request, paper_id: str) -> Response:
    """A paper's page; `/papers/{id}.md` (or `Accept: text/markdown`) gives it as Markdown."""
    as_markdown = paper_id.endswith(".md")
    if as_markdown:
        paper_id = paper_id[:-3]
    arxiv_id = resolve_paper_id(paper_id)
    accept = request.headers.get("accept", "")
    if as_markdown or ("text/markdown" in accept and "text/html" not in accept):
        return markdown_response(request, arxiv_id)
    if arxiv_id != paper_id:
        return RedirectResponse(f"/papers/{arxiv_id}", status_code=301)
    config = request.app.state.config
    user = current_user(request)
    with request.app.state.store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
        if paper is None or paper["hidden"]:
            raise ApiError(404, f"No paper {arxiv_id} in this catalog.")
        entry = daily_entry(conn, arxiv_id)
        comments = thread(conn, arxiv_id, include_hidden=bool(user and user.is_admin))
        voted = user is not None and arxiv_id in voted_papers(conn, user.id, [arxiv_id])
        why = None
        if entry is not None:
            why = score_trending(
                entry.upvotes,
                entry.day,
                datetime.now(UTC),
                gravity=config.trending_gravity,
                offset_hours=config.trending_offset_hours,
            )
    return request.app.state.templates.TemplateResponse(
        request,
        "paper.html",
        {
            "paper": paper,
            "entry": entry,
            "why": why,
            "local": arxiv_id.startswith("local-"),
            "comments": comments,
            "voted": voted,
            "similar": similar_to(request, arxiv_id, 6),
        },
    )
