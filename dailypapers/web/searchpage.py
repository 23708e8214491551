"""The search page (`/search?q=...`) and its Atom feed: keyword results with the query's words
highlighted, the page filters, and a jump straight to a paper when the query is its id. Both
count against the address's `rate_search`, with the JSON API's search."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from ..domain.query import parse_query
from ..services.library import saved_papers
from ..services.searching import Results
from . import params, urls
from .auth import current_user, limit
from .feeds import papers_feed
from .follows import author_searched, search_to_follow
from .site import Site, SiteDep

router = APIRouter(include_in_schema=False)
RESULTS = 30


def highlight(text: str, words: list[str]) -> Markup:
    """Escape `text` and wrap the query's words in <mark>, with their inflections: a word
    matches when it starts with the query word's first six letters and runs at most three
    letters longer than the query word (`attend` marks `attends` and `attended`; `sign` marks
    `signs` but not `signature`)."""
    if not words:
        return escape(text)
    alternatives = sorted(
        {f"{re.escape(w[:6])}\\w{{0,{max(0, len(w) - 6) + 3}}}" for w in words},
        key=len,
        reverse=True,
    )
    pattern = re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _search(request: Request, site: Site) -> tuple[str, Results]:
    limit(request, "search")  # one budget with /api/papers/search (web/auth.py)
    text = request.query_params.get("q", "")
    return text, site.searcher.search(parse_query(text), params.paper_filter(request), RESULTS)


@router.get("/search")
def search_page(request: Request, site: SiteDep) -> Response:
    text, results = _search(request, site)
    query = results.query
    if query.paper_id:
        return RedirectResponse(urls.paper(query.paper_id), status_code=303)
    where = query.filter(params.paper_filter(request))
    words = [*query.words, *(w for p in query.phrases for w in p), *query.authors]
    return site.templates.TemplateResponse(
        request,
        "search.html",
        {
            "q": text,
            "results": results.found,
            "words": words,
            "has_code": where.has_code,
            "categories": list(where.categories),
            "searched": results.searched,
            "follow_text": search_to_follow(text, where),
            "follow_author": author_searched(text),
            "saved": saved_papers(
                site.store, current_user(request), [f.paper.arxiv_id for f in results.found]
            ),
        },
    )


@router.get("/feeds/search.atom")
def search_feed(request: Request, site: SiteDep) -> Response:
    text, results = _search(request, site)
    papers = [found.paper for found in results.found]
    return papers_feed(request, site, f"Search: {text[:80]}", papers)
