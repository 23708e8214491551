"""The search page (`/search?q=...`) and its Atom feed: keyword results with the query's words
highlighted, the page filters, and a jump straight to a paper when the query is its id."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from ..api.routes import keyword_index, search_ids
from ..search.query import ParsedQuery, parse_query
from ..storage.daily import daily_entry, search_papers
from ..storage.papers import get_paper
from .pages import read_filters

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


def run_search(request: Request, parsed: ParsedQuery, has_code: bool) -> list[dict[str, Any]]:
    """Papers for a parsed query, best first, each with its daily entry (or None)."""
    keyword = keyword_index(request)
    store = request.app.state.store
    found = search_ids(request, parsed, RESULTS, has_code)
    with store.connect() as conn:
        if not found and keyword is None:  # no index of any kind yet
            found = [h["arxiv_id"] for h in search_papers(conn, parsed.words[:12], RESULTS)]
        results = []
        for arxiv_id in found:
            paper = get_paper(conn, arxiv_id)
            if paper is not None and not paper["hidden"]:
                paper["entry"] = daily_entry(conn, arxiv_id)
                results.append(paper)
    return results


def _parse(request: Request) -> tuple[str, ParsedQuery, bool]:
    text = request.query_params.get("q", "")
    filters = read_filters(request)
    parsed = parse_query(text)
    parsed.categories = list(dict.fromkeys([*parsed.categories, *filters.categories]))
    return text, parsed, filters.has_code


@router.get("/search")
def search_page(request: Request) -> Response:
    text, parsed, has_code = _parse(request)
    if parsed.paper_id:
        return RedirectResponse(f"/papers/{parsed.paper_id}", status_code=303)
    results = run_search(request, parsed, has_code) if not parsed.empty else []
    words = [*parsed.words, *(w for p in parsed.phrases for w in p), *parsed.authors]
    return request.app.state.templates.TemplateResponse(
        request,
        "search.html",
        {
            "q": text,
            "results": results,
            "words": words,
            "has_code": has_code,
            "categories": parsed.categories,
            "searched": not parsed.empty,
        },
    )


@router.get("/feeds/search.atom")
def search_feed(request: Request) -> Response:
    from .feeds import feed_response

    text, parsed, has_code = _parse(request)
    results = run_search(request, parsed, has_code) if not parsed.empty else []
    return feed_response(request, f"Search: {text[:80]}", results)
