"""RSS 2.0 and Atom feeds (feedgen) for any daily list or the trending list, with the same
filters as the pages: `/feeds/daily.atom?date=...&category=cs.CL&has_code=1`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from ..domain.errors import NotFound
from ..domain.papers import DailyItem, ListFilter, Paper
from ..services.daily import trending
from ..storage.daily import latest_day, list_daily
from . import params, urls
from .site import Site, SiteDep

router = APIRouter(include_in_schema=False)
FEED_SIZE = 50
MEDIA = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
# What XML 1.0 cannot carry at all (lxml refuses it): a search for "%01" must not break a feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


def _self_link(request: Request, base: str) -> str:
    """The feed's own address on the configured site (not whatever Host the request named)."""
    query = request.url.query
    return base + request.url.path + (f"?{query}" if query else "")


def _build(request: Request, site: Site, fmt: str, title: str, items: list[DailyItem]) -> Response:
    base = site.base_url(request)
    feed = FeedGenerator()
    feed.id(_xml(f"{base}{request.url.path}?{request.url.query}"))
    feed.title(_xml(title))
    feed.link(href=base + urls.HOME, rel="alternate")
    feed.link(href=_self_link(request, base), rel="self")
    feed.description(_xml(f"{site.config.site_name}: {title}"))
    feed.language("en")
    newest = max((i.listed_at for i in items), default=None)
    feed.updated((newest or datetime(2000, 1, 1)).replace(tzinfo=UTC))
    for item in reversed(items):  # feedgen prepends; keep the list's order
        url = base + urls.paper(item.arxiv_id)
        entry = feed.add_entry()
        entry.id(url)
        entry.title(_xml(item.title))
        entry.link(href=url)
        entry.summary(_xml(item.abstract))
        for name in item.authors[:20]:
            entry.author({"name": _xml(name)})
        if item.primary_category:
            entry.category(term=item.primary_category)
        entry.published(datetime.combine(item.day, time(0), tzinfo=UTC))
        entry.updated(item.listed_at.replace(tzinfo=UTC))
    body = feed.atom_str(pretty=True) if fmt == "atom" else feed.rss_str(pretty=True)
    return Response(body, media_type=MEDIA[fmt])


def papers_feed(
    request: Request,
    site: Site,
    title: str,
    papers: list[Paper],
    *,
    alternate: str | None = None,
    why: Mapping[str, list[str]] | None = None,
) -> Response:
    """An Atom feed of catalog papers (search results), best first. `alternate` is the page
    the feed mirrors (default: the search page with the same query); `why` gives each paper's
    reasons to be there (a Following feed's matched follows), as categories and a first line."""
    base = site.base_url(request)
    feed = FeedGenerator()
    feed.id(_xml(f"{base}{request.url.path}?{request.url.query}"))
    feed.title(_xml(title))
    page = alternate if alternate is not None else f"{urls.SEARCH}?{request.url.query}"
    feed.link(href=base + page, rel="alternate")
    feed.link(href=_self_link(request, base), rel="self")
    newest = max((p.modified_at for p in papers), default=datetime(2000, 1, 1))
    feed.updated(newest.replace(tzinfo=UTC))
    for paper in reversed(papers):
        url = base + urls.paper(paper.arxiv_id)
        entry = feed.add_entry()
        entry.id(url)
        entry.title(_xml(paper.title))
        entry.link(href=url)
        reasons = (why or {}).get(paper.arxiv_id, [])
        summary = (
            paper.abstract
            if not reasons
            else f"Following: {'; '.join(reasons)}\n\n{paper.abstract}"
        )
        entry.summary(_xml(summary))
        for name in paper.authors[:20]:
            entry.author({"name": _xml(name)})
        for reason in reasons:
            entry.category(term=_xml(reason))
        if paper.published_at:
            entry.published(paper.published_at.replace(tzinfo=UTC))
        entry.updated(paper.modified_at.replace(tzinfo=UTC))
    return Response(feed.atom_str(pretty=True), media_type=MEDIA["atom"])


@router.get("/feeds/{kind}.{fmt}")
def feed(request: Request, site: SiteDep, kind: str, fmt: str) -> Response:
    if kind not in ("daily", "trending") or fmt not in MEDIA:
        raise NotFound("Feeds are /feeds/daily.atom|rss and /feeds/trending.atom|rss")
    filters = params.paper_filter(request)
    query = request.query_params
    where = params.list_filter(query.get("date"), query.get("week"), query.get("month"), filters)
    if kind == "trending":
        items = [t.item for t in trending(site.store, site.config, where, site.clock())]
        items = items[:FEED_SIZE]
        title = "Trending papers"
    else:
        with site.store.connect() as conn:
            if where.first_day is None:
                newest = latest_day(conn)
                where = ListFilter(newest, newest, filters)
            items = list_daily(conn, where, limit=FEED_SIZE)
        span = (
            f"{where.first_day}"
            if where.first_day == where.last_day
            else f"{where.first_day} to {where.last_day}"
        )
        title = f"Daily papers, {span}"
    if filters.categories:
        title += f" in {', '.join(filters.categories)}"
    if filters.has_code:
        title += " with code"
    return _build(request, site, fmt, title, items)
