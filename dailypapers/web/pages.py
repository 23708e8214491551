"""HTML pages: the daily list (day, week, month, trending), paper pages, and their links to
JSON twins and feeds. Pages work without JavaScript; filter state lives in the URL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from ..domain.errors import NotFound
from ..domain.papers import DailyItem, ListFilter, PaperFilter
from ..domain.ranking import TrendingScore
from ..services.daily import trending, trending_score, trending_window
from ..services.library import saved_papers
from ..storage.claims import claimed_entries
from ..storage.comments import thread
from ..storage.daily import (
    category_counts,
    count_daily,
    daily_entry,
    latest_day,
    list_daily,
    neighbour_days,
    voted_papers,
)
from ..storage.papers import get_paper
from ..storage.summaries import summaries_of
from ..storage.thumbnails import thumbnails_of
from . import params, urls
from .auth import csrf_token, current_user
from .shapes import paper_markdown
from .shared import fill, page_key
from .site import Site, SiteDep

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@dataclass
class ListPage:
    """Everything list.html needs."""

    title: str
    heading: str
    view: str  # day | week | month | trending
    items: list[DailyItem]
    filters: PaperFilter
    path: str
    json_url: str
    feed_query: str
    page: int = 1
    total: int = 0
    day: date | None = None
    previous: tuple[str, str] | None = None  # (label, url)
    following: tuple[str, str] | None = None
    categories: list[tuple[str, int]] = field(default_factory=list)
    why: dict[str, TrendingScore] = field(default_factory=dict)
    note: str | None = None  # said under the heading (a quiet site's trending window)
    scored_as_of: str | None = None  # where "listed N h ago" would be wrong: "before ..."


def _respond(request: Request, site: Site, build: Callable[[], ListPage]) -> Response:
    """The list page `build` makes, for this reader. A signed-in reader gets the page shared
    by every signed-in reader (web/shared.py), rendered once and filled in with their state;
    `build` (the list's queries) runs only when that page is not kept."""
    user = current_user(request)
    shared = site.shared_pages
    if user is None or shared is None or not shared.enabled or "flash" in request.session:
        return _render(request, site, build())
    scope = request.scope
    host = request.headers.get("host", "")
    key = page_key(host, scope["path"], scope["query_string"].decode("latin-1"), user)
    kept = shared.get_or_render(key, lambda context: _draw(site, request, build(), context), user)
    token = csrf_token(request)
    body = fill(kept, site.store, user, token)
    shared.fills += 1
    return HTMLResponse(body)


def _draw(site: Site, request: Request, page: ListPage, context: dict[str, Any]) -> str:
    """list.html for a shared render: `context` stands in for the reader."""
    pages = max(1, -(-page.total // PAGE_SIZE))
    values = {
        "request": request,
        "list": page,
        "pages": pages,
        "voted": set(),
        "saved": set(),
        "claimed": _claimed(site, page),
    }
    return site.templates.get_template("list.html").render({**values, **context})


def _claimed(site: Site, page: ListPage) -> dict[str, dict[int, str]]:
    """Approved claims on the page's papers: their author names link to the claimants'
    profiles (the same for every reader, so shared renders carry them)."""
    if not page.items:
        return {}
    with site.store.connect() as conn:
        return claimed_entries(conn, [item.arxiv_id for item in page.items])


def _render(request: Request, site: Site, page: ListPage) -> Response:
    """list.html rendered the ordinary way, every part for this reader."""
    pages = max(1, -(-page.total // PAGE_SIZE))
    user = current_user(request)
    voted: set[str] = set()
    if user is not None and page.items:
        with site.store.connect() as conn:
            voted = voted_papers(conn, user.id, [i.arxiv_id for i in page.items])
    saved = saved_papers(site.store, user, [i.arxiv_id for i in page.items])
    context = {
        "list": page,
        "pages": pages,
        "voted": voted,
        "saved": saved,
        "claimed": _claimed(site, page),
    }
    return site.templates.TemplateResponse(request, "list.html", context)


def _day_page(request: Request, site: Site, day: date | None) -> Response:
    return _respond(request, site, lambda: _day_list(request, site, day))


def _day_list(request: Request, site: Site, day: date | None) -> ListPage:
    filters = params.paper_filter(request)
    number = params.page_number(request)
    with site.store.connect() as conn:
        if day is None:
            day = latest_day(conn) or site.today()
        where = ListFilter(day, day, filters)
        total = count_daily(conn, where)
        items = list_daily(conn, where, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        before, after = neighbour_days(conn, day)
        categories = category_counts(conn, where)
    suffix = urls.filter_query(filters)
    listed = urls.filter_query(filters, date=day.isoformat())
    return ListPage(
        title=f"Papers of {day:%d %B %Y}",
        heading=f"{day:%A, %d %B %Y}",
        view="day",
        items=items,
        filters=filters,
        path=urls.day(day),
        json_url=urls.api_daily(listed),
        feed_query=listed,
        page=number,
        total=total,
        day=day,
        previous=(f"{before:%d %b %Y}", urls.day(before, suffix)) if before else None,
        following=(f"{after:%d %b %Y}", urls.day(after, suffix)) if after else None,
        categories=categories,
    )


def _range_page(
    request: Request,
    site: Site,
    view: str,
    label: str,
    days: tuple[date, date],
    names: tuple[str | None, str | None],
    heading: str,
) -> Response:
    return _respond(
        request, site, lambda: _range_list(request, site, view, label, days, names, heading)
    )


def _range_list(
    request: Request,
    site: Site,
    view: str,
    label: str,
    days: tuple[date, date],
    names: tuple[str | None, str | None],
    heading: str,
) -> ListPage:
    filters = params.paper_filter(request)
    number = params.page_number(request)
    where = ListFilter(days[0], days[1], filters)
    with site.store.connect() as conn:
        total = count_daily(conn, where)
        items = list_daily(conn, where, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        categories = category_counts(conn, where)
    suffix = urls.filter_query(filters)
    listed = urls.filter_query(filters, **{view: label})
    return ListPage(
        title=heading,
        heading=heading,
        view=view,
        items=items,
        filters=filters,
        path=urls.view(view, label),
        json_url=urls.api_daily(listed),
        feed_query=listed,
        page=number,
        total=total,
        day=days[0],
        previous=(names[0], urls.view(view, names[0], suffix)) if names[0] else None,
        following=(names[1], urls.view(view, names[1], suffix)) if names[1] else None,
        categories=categories,
    )


@router.get("/")
@router.get("/papers")
def daily_page(request: Request, site: SiteDep) -> Response:
    picked = request.query_params.get("date")
    if picked:  # the date picker submits ?date=...
        day = params.parse_day(picked)
        query = urls.filter_query(params.paper_filter(request))
        return RedirectResponse(urls.day(day, query), status_code=303)
    return _day_page(request, site, None)


@router.get("/papers/date/{day}")
def date_page(request: Request, site: SiteDep, day: str) -> Response:
    return _day_page(request, site, params.parse_day(day))


@router.get("/papers/week/{week}")
def week_page(request: Request, site: SiteDep, week: str) -> Response:
    monday, sunday = params.parse_week(week)
    before, after = params.shifted(monday, -7), params.shifted(monday, 7)
    names = (params.iso_week(before) if before else None, params.iso_week(after) if after else None)
    heading = f"Week {week}: {monday:%d %b} to {sunday:%d %b %Y}"
    return _range_page(request, site, "week", week, (monday, sunday), names, heading)


@router.get("/papers/month/{month}")
def month_page(request: Request, site: SiteDep, month: str) -> Response:
    first, last = params.parse_month(month)
    days = params.shifted(first, -1), params.shifted(last, 1)
    before, after = (d.strftime("%Y-%m") if d else None for d in days)
    heading = f"{first:%B %Y}"
    return _range_page(request, site, "month", month, (first, last), (before, after), heading)


@router.get("/papers/trending")
def trending_page(request: Request, site: SiteDep) -> Response:
    return _respond(request, site, lambda: _trending_list(request, site))


def _trending_list(request: Request, site: Site) -> ListPage:
    filters = params.paper_filter(request)
    now = site.clock()
    window = trending_window(site.store, site.config, now)
    ranked = trending(site.store, site.config, ListFilter(papers=filters), now, window)
    ranked = ranked[:PAGE_SIZE]
    note = as_of = None
    if window is not None and window.quiet:
        days = site.config.trending_window_days
        as_of = f"the end of {window.last.isoformat()}"
        note = (
            f"Nothing was listed in the last {days} days: these are the newest {days} days "
            f"with submissions ({window.first.isoformat()} to {window.last.isoformat()}), "
            f"scored as of {as_of}."
        )
    with site.store.connect() as conn:
        categories = category_counts(conn, ListFilter())
    return ListPage(
        title="Trending papers",
        heading="Trending",
        view="trending",
        items=[t.item for t in ranked],
        filters=filters,
        path=urls.TRENDING,
        json_url=urls.api_daily(urls.filter_query(filters, sort="trending")),
        feed_query=urls.filter_query(filters),
        total=len(ranked),
        categories=categories,
        why={t.item.arxiv_id: t.why for t in ranked},
        note=note,
        scored_as_of=as_of,
    )


@router.get("/papers/{paper_id:path}", name="paper_page")
def paper_page(request: Request, site: SiteDep, paper_id: str) -> Response:
    """A paper's page; `/papers/{id}.md` (or `Accept: text/markdown`) gives it as Markdown."""
    as_markdown = paper_id.endswith(".md")
    if as_markdown:
        paper_id = paper_id[:-3]
    arxiv_id = params.paper_id(paper_id)
    accept = request.headers.get("accept", "")
    if as_markdown or ("text/markdown" in accept and "text/html" not in accept):
        return _markdown(site, arxiv_id, site.base_url(request))
    if arxiv_id != paper_id:
        return RedirectResponse(urls.paper(arxiv_id), status_code=301)
    user = current_user(request)
    with site.store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
        if paper is None or paper.hidden:
            raise NotFound(f"No paper {arxiv_id} in this catalog.")
        entry = daily_entry(conn, arxiv_id)
        comments = thread(conn, arxiv_id, include_hidden=bool(user and user.is_admin))
        voted = user is not None and arxiv_id in voted_papers(conn, user.id, [arxiv_id])
        thumbnail = thumbnails_of(conn, [arxiv_id]).get(arxiv_id)
        claimed = claimed_entries(conn, [arxiv_id]).get(arxiv_id, {})
        ai_summary = summaries_of(conn, [arxiv_id]).get(arxiv_id)
    context: dict[str, Any] = {
        "paper": paper,
        "entry": entry,
        "thumbnail": thumbnail,
        "why": trending_score(site.config, entry, site.clock()) if entry else None,
        "local": paper.is_local,
        "comments": comments,
        "voted": voted,
        "claimed": claimed,
        "ai_summary": ai_summary,
        "saved": arxiv_id in saved_papers(site.store, user, [arxiv_id]),
        "similar": site.searcher.similar(arxiv_id, 6) or [],
    }
    return site.templates.TemplateResponse(request, "paper.html", context)


def _markdown(site: Site, arxiv_id: str, base_url: str) -> PlainTextResponse:
    with site.store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
    if paper is None or paper.hidden:
        raise NotFound(f"Paper {arxiv_id!r} not found")
    url = base_url + urls.paper(arxiv_id)
    return PlainTextResponse(paper_markdown(paper, url), media_type="text/markdown")
