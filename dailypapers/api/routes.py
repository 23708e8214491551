"""Hugging Face Papers-compatible JSON endpoints, so `huggingface_hub.HfApi(endpoint=...)`, the
`hf papers` CLI and HF's MCP server work against this site unchanged (shared/HF_API.md).

Parameters arrive as strings and are checked here: bad input is HTTP 400 with
`{"error": "..."}` (never FastAPI's 422, which HF clients do not map), an unknown paper 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from ..ids import InvalidArxivId, parse_paper_id
from ..lists import (
    BadParameter,
    parse_categories,
    parse_day,
    parse_month,
    parse_week,
    trending,
)
from ..search import KeywordSearch, keyword_search, run_hybrid
from ..search.keyword import KeywordIndex
from ..search.query import parse_query
from ..storage.daily import ListFilter, daily_entry, list_daily, search_papers
from ..storage.papers import get_paper
from ..storage.people import comment_counts
from .shapes import hf_daily_item, hf_paper, hf_search_hit, paper_markdown

router = APIRouter()


class ApiError(Exception):
    """Answered as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _int(value: str | None, name: str, default: int, low: int, high: int | None) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {value[:40]!r}") from None
    if number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"{name} must be {bounds}, got {number}")
    return number


def list_filter_from(
    date: str | None, week: str | None, month: str | None, submitter: str | None = None
) -> ListFilter:
    """The days (and submitter) a request asks for; at most one of date, week, month."""
    given = [name for name, value in (("date", date), ("week", week), ("month", month)) if value]
    if len(given) > 1:
        raise ApiError(400, f"give only one of date, week and month (got {', '.join(given)})")
    try:
        if date:
            day = parse_day(date)
            return ListFilter(day, day, submitter=submitter)
        if week:
            return ListFilter(*parse_week(week), submitter=submitter)
        if month:
            return ListFilter(*parse_month(month), submitter=submitter)
    except BadParameter as error:
        raise ApiError(400, str(error)) from None
    return ListFilter(submitter=submitter)


def resolve_paper_id(raw: str) -> str:
    try:
        return parse_paper_id(raw)
    except InvalidArxivId:
        raise ApiError(404, f"Paper {raw[:60]!r} not found") from None


@router.get("/api/daily_papers", summary="Daily papers (Hugging Face compatible)")
def api_daily_papers(
    request: Request,
    date: Annotated[str | None, Query(description="YYYY-MM-DD: papers listed that day")] = None,
    week: Annotated[str | None, Query(description="ISO week YYYY-Www")] = None,
    month: Annotated[str | None, Query(description="YYYY-MM")] = None,
    submitter: Annotated[str | None, Query(description="Only this submitter's papers")] = None,
    sort: Annotated[str | None, Query(description="publishedAt (default) or trending")] = None,
    p: Annotated[str | None, Query(description="Page number, from 0")] = None,
    limit: Annotated[str | None, Query(description="1-100, default 50")] = None,
    category: Annotated[
        list[str] | None, Query(description="Only these primary or cross-list categories")
    ] = None,
    has_code: Annotated[str | None, Query(description="1: only papers with code")] = None,
) -> JSONResponse:
    """Papers on the daily list, newest day first and most upvoted first within a day;
    `sort=trending` orders the trending window by score. A page past the end is `[]`.
    `category` and `has_code` are this site's additions (the page filters)."""
    page = _int(p, "p", 0, 0, None)
    size = _int(limit, "limit", 50, 1, 100)
    if sort not in (None, "publishedAt", "trending"):
        raise ApiError(400, f"sort must be publishedAt or trending, got {sort[:40]!r}")
    try:
        categories = parse_categories(category or [])
    except BadParameter as error:
        raise ApiError(400, str(error)) from None
    days = list_filter_from(date, week, month, submitter)
    where = ListFilter(
        days.first_day,
        days.last_day,
        categories,
        (has_code or "").lower() in ("1", "true", "yes", "on"),
        submitter,
    )
    store, config = request.app.state.store, request.app.state.config
    with store.connect() as conn:
        if sort == "trending":
            ranked = trending(conn, config, where)
            items = [t.item for t in ranked[page * size : (page + 1) * size]]
        else:
            items = list_daily(conn, where, order="newest", offset=page * size, limit=size)
    # JSONResponse directly: FastAPI's generic encoder would walk every value again.
    return JSONResponse([hf_daily_item(item, item.comments) for item in items])


def keyword_index(request: Request) -> KeywordSearch | None:
    """This process's keyword leg: the tantivy index once built (kept for the process's
    life), before that PostgreSQL's full text or None (SQLite), asked again each time so the
    index is picked up as soon as the indexer has built it."""
    state = request.app.state
    found = getattr(state, "keyword_index", None)
    if found is None:
        found = keyword_search(state.store, state.config.data_dir)
        if isinstance(found, KeywordIndex):
            state.keyword_index = found
    return found


def search_ids(request: Request, parsed: Any, limit: int, has_code: bool = False) -> list[str]:
    """Hybrid (keyword + semantic) ids for a parsed query, best first."""
    state = request.app.state
    return run_hybrid(
        state.store,
        state.config,
        parsed,
        keyword=keyword_index(request),
        embedder=state.embedder,
        limit=limit,
        has_code=has_code,
    )


@router.get("/api/papers/search", summary="Search papers (Hugging Face compatible)")
def api_search(
    request: Request,
    q: Annotated[str | None, Query(description="Words to find, up to 250 characters")] = None,
    limit: Annotated[str | None, Query(description="1-120, default 120")] = None,
) -> list[dict[str, Any]]:
    """Hybrid search: keyword (BM25, title weighted highest) and semantic (all-MiniLM-L6-v2)
    rankings fused, in the query language of docs/search.md; an arXiv id or URL returns that
    paper. Until `dailypapers index` has built an index, a substring search stands in."""
    size = _int(limit, "limit", 120, 1, 120)
    if q is None or not q.strip():
        raise ApiError(400, "q is required")
    parsed = parse_query(q[:250])
    keyword = keyword_index(request)
    store = request.app.state.store
    with store.connect() as conn:
        if parsed.paper_id:
            found = [parsed.paper_id]
        else:
            found = search_ids(request, parsed, size)
            if not found and keyword is None:  # no index of any kind yet
                terms = [t for t in q[:250].split() if t][:12]
                found = [hit["arxiv_id"] for hit in search_papers(conn, terms, size)]
        papers = [p for p in (get_paper(conn, i) for i in found) if p and not p["hidden"]]
        entries = {p["arxiv_id"]: daily_entry(conn, p["arxiv_id"]) for p in papers if p}
        counts = comment_counts(conn, list(entries))
    return [
        hf_search_hit(p, entries[p["arxiv_id"]], counts.get(p["arxiv_id"], 0)) for p in papers if p
    ]


def similar_to(request: Request, arxiv_id: str, limit: int) -> list[tuple[dict[str, Any], float]]:
    """(paper, cosine similarity) nearest to a paper's embedding; [] while it has none."""
    from ..search.ann import similar_papers
    from ..search.vector import model_name

    config = request.app.state.config
    found = similar_papers(
        request.app.state.store,
        config.data_dir,
        model_name(config.embedding_max_tokens),
        arxiv_id,
        limit,
    )
    return found or []


@router.get("/api/papers/{paper_id:path}/similar", summary="Papers similar to a paper")
def api_similar(
    request: Request,
    paper_id: str,
    limit: Annotated[str | None, Query(description="1-50, default 10")] = None,
) -> JSONResponse:
    """The nearest papers by meaning (all-MiniLM-L6-v2 embeddings of title and abstract),
    closest first, each a search-hit-shaped item plus `similarity` (cosine). The paper itself
    is never included. An empty list while the paper has no embedding yet."""
    size = _int(limit, "limit", 10, 1, 50)
    arxiv_id = resolve_paper_id(paper_id)
    with request.app.state.store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
    if paper is None or paper["hidden"]:
        raise ApiError(404, f"Paper {arxiv_id!r} not found")
    items = []
    for other, score in similar_to(request, arxiv_id, size):
        with request.app.state.store.connect() as conn:
            entry = daily_entry(conn, other["arxiv_id"])
        item = hf_search_hit(other, entry, 0)
        item["similarity"] = round(score, 4)
        items.append(item)
    return JSONResponse(items)


@router.get("/api/papers/{paper_id:path}", summary="One paper (Hugging Face compatible)")
def api_paper(request: Request, paper_id: str) -> dict[str, Any]:
    """The paper as a flat object, with its (empty) linked model, dataset and space lists."""
    arxiv_id = resolve_paper_id(paper_id)
    store = request.app.state.store
    with store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
        if paper is None or paper["hidden"]:
            raise ApiError(404, f"Paper {arxiv_id!r} not found")
        entry = daily_entry(conn, arxiv_id)
        comments = comment_counts(conn, [arxiv_id]).get(arxiv_id, 0)
    body = hf_paper(paper, entry, comments)
    body.update(
        linkedModels=[],
        numTotalModels=0,
        linkedDatasets=[],
        numTotalDatasets=0,
        linkedSpaces=[],
        numTotalSpaces=0,
    )
    return body


@router.get("/api/arxiv/{paper_id:path}/repos", summary="Repositories citing a paper")
def api_repos(request: Request, paper_id: str) -> dict[str, list[Any]]:
    """Hub repositories linked to the paper: this site hosts none, so the lists are empty."""
    arxiv_id = resolve_paper_id(paper_id)
    with request.app.state.store.connect() as conn:
        if get_paper(conn, arxiv_id) is None:
            raise ApiError(404, f"Paper {arxiv_id!r} not found")
    return {"models": [], "datasets": [], "spaces": []}


def markdown_response(request: Request, arxiv_id: str) -> PlainTextResponse:
    with request.app.state.store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
    if paper is None or paper["hidden"]:
        raise ApiError(404, f"Paper {arxiv_id!r} not found")
    paper["local"] = arxiv_id.startswith("local-")
    url = str(request.url_for("paper_page", paper_id=arxiv_id))
    return PlainTextResponse(paper_markdown(paper, url), media_type="text/markdown")


def api_error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"error": error.message},
        status_code=error.status,
        headers={"X-Error-Message": error.message},
    )
