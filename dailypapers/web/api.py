"""The JSON API under /api, following the Hugging Face Papers API so
`huggingface_hub.HfApi(endpoint=...)`, the `hf papers` CLI and HF's MCP server work against
this site unchanged (shared/HF_API.md), plus the community's actions (session + CSRF).

Parameters arrive as strings and are checked by web/params.py: bad input is HTTP 400 with
`{"error": "..."}` (never FastAPI's 422, which HF clients do not map), an unknown paper 404.
Routes with a suffix after the paper id come before `/api/papers/{id}`, which would take them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from ..domain.errors import BadParameter, NotFound
from ..domain.papers import DailyItem, Paper
from ..domain.people import Comment
from ..services import community
from ..services.daily import trending
from ..storage.claims import participating
from ..storage.comments import comment_counts, thread
from ..storage.daily import daily_entry, list_daily
from ..storage.papers import get_paper, paper_exists
from ..storage.summaries import summaries_of
from . import apidoc, params, urls
from .apidoc import responses
from .auth import BodyDep, SearchBudget, budget, limit, require_user
from .shapes import comment_json, hf_daily_item, hf_paper, hf_search_hit
from .site import SiteDep

router = APIRouter()

PaperId = Annotated[
    str,
    Path(
        description="An arXiv id in any form (2407.13168, hep-th/9901001, arXiv:2301.12345v2) or "
        "an arXiv URL; one that cannot be an id is simply not found",
        examples=["2407.13168"],
    ),
]


# Every route documents what it can answer (web/apidoc.py): FastAPI would otherwise list a 422
# that is never sent. Parameters parsed by web/params.py arrive as strings; their documented
# schema (apidoc.integer, ...) says what they must hold.


def thumbnail_url(base: str, item: DailyItem | None) -> str | None:
    """The absolute URL of a listed paper's thumbnail; None when it has none (yet)."""
    if item is None or item.thumbnail is None:
        return None
    return base + urls.thumbnail(item.thumbnail)


@router.get(
    "/api/daily_papers",
    summary="Daily papers (Hugging Face compatible)",
    responses=responses(list[apidoc.DailyItem], 400),
)
def api_daily_papers(
    request: Request,
    site: SiteDep,
    date: Annotated[
        str | None,
        apidoc.string(format="date"),
        Query(description="YYYY-MM-DD: papers listed that day (at most one of date, week, month)"),
    ] = None,
    week: Annotated[
        str | None, apidoc.string(pattern=r"^\d{4}-W\d{2}$"), Query(description="ISO week YYYY-Www")
    ] = None,
    month: Annotated[
        str | None, apidoc.string(pattern=r"^\d{4}-(0[1-9]|1[0-2])$"), Query(description="YYYY-MM")
    ] = None,
    submitter: Annotated[
        str | None, apidoc.string(), Query(description="Only this submitter's papers")
    ] = None,
    sort: Annotated[
        str | None,
        apidoc.string(enum=["publishedAt", "trending"]),
        Query(description="publishedAt (default) or trending"),
    ] = None,
    p: Annotated[
        str | None, apidoc.integer(0), Query(description="Page number from 0, default 0")
    ] = None,
    limit: Annotated[
        str | None, apidoc.integer(1, 100), Query(description="Papers per page, default 50")
    ] = None,
    category: Annotated[
        list[str] | None,
        apidoc.strings(),
        Query(
            description="Only these primary or cross-list categories (cs.CL); repeated or "
            "comma-separated"
        ),
    ] = None,
    has_code: Annotated[
        str | None, apidoc.string(), Query(description="1, true, yes or on: only papers with code")
    ] = None,
) -> JSONResponse:
    """Papers on the daily list, newest day first and most upvoted first within a day;
    `sort=trending` orders the trending window by score. A page past the end is `[]`.
    `category` and `has_code` are this site's additions (the page filters)."""
    page = params.bounded_int(p, "p", 0, 0, None)
    size = params.bounded_int(limit, "limit", 50, 1, 100)
    if sort not in (None, "publishedAt", "trending"):
        raise BadParameter(f"sort must be publishedAt or trending, got {sort[:40]!r}")
    where = params.list_filter(date, week, month, params.paper_filter(request), submitter)
    if sort == "trending":
        ranked = trending(site.store, site.config, where, site.clock())
        items = [t.item for t in ranked[page * size : (page + 1) * size]]
    else:
        with site.store.connect() as conn:
            items = list_daily(conn, where, order="newest", offset=page * size, limit=size)
    with site.store.connect() as conn:
        authors_here = participating(conn, [item.arxiv_id for item in items])
        ai = summaries_of(conn, [item.arxiv_id for item in items])
    # JSONResponse directly: FastAPI's generic encoder would walk every value again.
    base = site.base_url(request)
    return JSONResponse(
        [
            hf_daily_item(
                item,
                item.comments,
                thumbnail=thumbnail_url(base, item),
                participating=item.arxiv_id in authors_here,
                ai=ai.get(item.arxiv_id),
            )
            for item in items
        ]
    )


@router.get(
    "/api/papers/search",
    summary="Search papers (Hugging Face compatible)",
    response_model=None,
    responses=responses(
        list[apidoc.SearchHit],
        400,
        429,
        why={
            400: "`q` missing or blank, or a bad `limit`",
            429: "Over `rate_search` for this address (the page and the feed count too)",
        },
    ),
    # Required, but checked here rather than by FastAPI: a missing `q` is our 400, never a 422.
    openapi_extra=apidoc.required_query(
        "q",
        "Words to find (at least one non-space character); past 250 characters the rest is ignored",
        {"type": "string"},
    ),
)
def api_search(
    request: Request,
    _budget: SearchBudget,
    site: SiteDep,
    q: Annotated[str | None, Query(include_in_schema=False)] = None,
    limit: Annotated[
        str | None, apidoc.integer(1, 120), Query(description="Hits to return, default 120")
    ] = None,
) -> list[dict[str, Any]]:
    """Hybrid search: keyword (BM25 over title, abstract and authors) and semantic (MiniLM)
    rankings fused, in the query language of docs/search.md; an arXiv id or URL returns that
    paper. Until `dailypapers index` has built an index, a substring search stands in."""
    size = params.bounded_int(limit, "limit", 120, 1, 120)
    if q is None or not q.strip():
        raise BadParameter("q is required")
    results = site.searcher.search(q[:250], limit=size)
    base = site.base_url(request)
    with site.store.connect() as conn:
        authors_here = participating(conn, [f.paper.arxiv_id for f in results.found])
        ai = summaries_of(conn, [f.paper.arxiv_id for f in results.found])
    return [
        hf_search_hit(
            f.paper,
            f.entry,
            f.comments,
            thumbnail=thumbnail_url(base, f.entry),
            participating=f.paper.arxiv_id in authors_here,
            ai=ai.get(f.paper.arxiv_id),
        )
        for f in results.found
    ]


@router.post(
    "/api/papers/submit",
    summary="Submit a paper to today's daily list (session + CSRF)",
    responses=responses(
        apidoc.Submission,
        400,
        401,
        403,
        404,
        429,
        502,
        ok_description="The paper was already on the daily list (`alreadyListed`)",
        also={201: (apidoc.Submission, "Listed today")},
        why={
            400: 'The body is not `{"paper_id": "..."}`, the text is not an arXiv id, or '
            "the paper is too old to submit",
            404: "arXiv has no such paper",
            429: "Over the submissions allowed a day, or too many attempts",
        },
    ),
    openapi_extra=apidoc.json_body(apidoc.SubmitRequest, "The paper to list"),
)
def api_submit(request: Request, site: SiteDep, body: BodyDep) -> JSONResponse:
    """Body `{"paper_id": "2301.12345"}` (any id or arXiv URL). 201 when listed, 200 with
    `"alreadyListed": true` when it already was."""
    user = require_user(request)
    raw = _json_field(body, "paper_id", 'The body must be JSON: {"paper_id": "..."}')
    limit(request, "submit", user)
    arxiv_id, created = community.submit(
        site.store, site.config, user, raw, site.today(), site.paper_listed
    )
    return JSONResponse(
        {"id": arxiv_id, "alreadyListed": not created}, status_code=201 if created else 200
    )


@router.get(
    "/api/papers/{paper_id:path}/similar",
    summary="Papers similar to a paper",
    responses=responses(
        list[apidoc.SimilarPaper],
        400,
        404,
        429,
        why={400: "A bad `limit`", 429: "Over `rate_search` for this address (a vector search)"},
        moved=301,
    ),
)
def api_similar(
    _budget: SearchBudget,
    site: SiteDep,
    paper_id: PaperId,
    limit: Annotated[
        str | None, apidoc.integer(1, 50), Query(description="Papers to return, default 10")
    ] = None,
) -> JSONResponse:
    """The nearest papers by meaning (all-MiniLM-L6-v2 embeddings of title and abstract),
    closest first, each a search-hit-shaped item plus `similarity` (cosine). The paper itself
    is never included. An empty list while the paper has no embedding yet."""
    size = params.bounded_int(limit, "limit", 10, 1, 50)
    arxiv_id = params.paper_id(paper_id)
    _visible_paper(site, arxiv_id)
    items = []
    for found in site.searcher.similar(arxiv_id, size) or []:
        item = hf_search_hit(found.paper, found.entry, found.comments)
        item["similarity"] = round(found.similarity or 0.0, 4)
        items.append(item)
    return JSONResponse(items)


VOTE_ERRORS = {
    404: "No such paper, or it is not on the daily list",
    429: "Too many votes: the message says when to try again",
}


@router.post(
    "/api/papers/{paper_id:path}/upvote",
    summary="Upvote a paper (session + CSRF)",
    response_model=None,
    responses=responses(apidoc.Vote, 401, 403, 404, 429, why=VOTE_ERRORS, moved=308),
)
def api_upvote(request: Request, site: SiteDep, paper_id: PaperId, _: BodyDep) -> dict[str, Any]:
    """Idempotent: upvoting twice leaves one vote. Returns the new count."""
    return _vote(request, site, paper_id, True)


@router.delete(
    "/api/papers/{paper_id:path}/upvote",
    summary="Take an upvote back (session + CSRF)",
    response_model=None,
    responses=responses(apidoc.Vote, 401, 403, 404, 429, why=VOTE_ERRORS, moved=308),
)
def api_unvote(request: Request, site: SiteDep, paper_id: PaperId, _: BodyDep) -> dict[str, Any]:
    return _vote(request, site, paper_id, False)


def _vote(request: Request, site: SiteDep, raw_id: str, voted: bool) -> dict[str, Any]:
    user = require_user(request)
    arxiv_id = params.paper_id(raw_id)
    count = community.vote(site.store, user, arxiv_id, voted, budget(request, "vote", user))
    return {"id": arxiv_id, "upvotes": count, "voted": voted}


@router.get(
    "/api/papers/{paper_id:path}/comments",
    summary="A paper's comment thread",
    response_model=None,
    responses=responses(list[apidoc.Comment], 404, moved=301),
)
def api_comments(site: SiteDep, paper_id: PaperId) -> list[dict[str, Any]]:
    arxiv_id = params.paper_id(paper_id)
    with site.store.connect() as conn:
        if not paper_exists(conn, arxiv_id):
            raise NotFound(f"Paper {arxiv_id!r} not found")
        return [comment_json(c) for c in thread(conn, arxiv_id)]


COMMENT_ERRORS = {
    400: 'The body is not `{"comment": "..."}`, or the comment is blank or too long',
    404: "No such paper, or the comment replied to is gone",
    429: "Too many comments: the message says when to try again",
}


def _comment_responses(why: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """What a comment and a reply answer (they differ only in why a 400 happens)."""
    return responses(
        apidoc.NewMessage,
        400,
        401,
        403,
        404,
        429,
        ok_status=201,
        ok_description="Posted",
        why=why,
        moved=308,
    )


@router.post(
    "/api/papers/{paper_id:path}/comment",
    status_code=201,  # documentation only: the route returns its own response
    summary="Comment on a paper (Markdown; session + CSRF)",
    responses=_comment_responses(COMMENT_ERRORS),
    openapi_extra=apidoc.json_body(apidoc.CommentRequest, "The comment"),
)
def api_comment(request: Request, site: SiteDep, paper_id: PaperId, body: BodyDep) -> JSONResponse:
    """Body `{"comment": "Markdown"}`; answers `{"newMessage": {...}}` like Hugging Face."""
    return _comment(request, site, paper_id, None, body)


@router.post(
    "/api/papers/{paper_id:path}/comment/{comment_id}/reply",
    status_code=201,  # documentation only: the route returns its own response
    summary="Reply to a comment (session + CSRF)",
    responses=_comment_responses(
        {
            **COMMENT_ERRORS,
            400: COMMENT_ERRORS[400] + "; or comment_id is not an integer from 1 to 2^31-1",
        }
    ),
    openapi_extra=apidoc.json_body(apidoc.CommentRequest, "The reply"),
)
def api_reply(
    request: Request,
    site: SiteDep,
    paper_id: PaperId,
    comment_id: Annotated[
        int,
        # The bounds of the id column (PostgreSQL's integer): past them the database would
        # fail on the lookup (a 500); FastAPI answers 400 instead, through the app's handler.
        Path(ge=1, le=2**31 - 1, description="The comment replied to (its `id`)"),
    ],
    body: BodyDep,
) -> JSONResponse:
    return _comment(request, site, paper_id, comment_id, body)


def _comment(
    request: Request, site: SiteDep, raw_id: str, parent_id: int | None, body: bytes
) -> JSONResponse:
    user = require_user(request)
    text = _json_field(body, "comment", "The body must be JSON with 'comment'")
    arxiv_id = params.paper_id(raw_id)
    comment: Comment = community.post_comment(
        site.store, user, arxiv_id, text, parent_id, budget(request, "comment", user)
    )
    return JSONResponse({"newMessage": comment_json(comment)}, status_code=201)


@router.get(
    "/api/papers/{paper_id:path}",
    summary="One paper (Hugging Face compatible)",
    response_model=None,
    responses=responses(apidoc.PaperDetail, 404, moved=301),
)
def api_paper(site: SiteDep, paper_id: PaperId) -> dict[str, Any]:
    """The paper as a flat object, with its (empty) linked model, dataset and space lists."""
    arxiv_id = params.paper_id(paper_id)
    paper = _visible_paper(site, arxiv_id)
    with site.store.connect() as conn:
        entry = daily_entry(conn, arxiv_id)
        comments = comment_counts(conn, [arxiv_id]).get(arxiv_id, 0)
        ai = summaries_of(conn, [arxiv_id]).get(arxiv_id)
    body = hf_paper(paper, entry, comments, ai)
    if ai is not None and ai.model:
        body["ai_summary_model"] = ai.model
    body.update(
        linkedModels=[],
        numTotalModels=0,
        linkedDatasets=[],
        numTotalDatasets=0,
        linkedSpaces=[],
        numTotalSpaces=0,
    )
    return body


@router.get(
    "/api/arxiv/{paper_id:path}/repos",
    summary="Repositories citing a paper",
    response_model=None,
    responses=responses(apidoc.Repos, 404, moved=301),
)
def api_repos(site: SiteDep, paper_id: PaperId) -> dict[str, list[Any]]:
    """Hub repositories linked to the paper: this site hosts none, so the lists are empty."""
    arxiv_id = params.paper_id(paper_id)
    with site.store.connect() as conn:
        if get_paper(conn, arxiv_id) is None:
            raise NotFound(f"Paper {arxiv_id!r} not found")
    return {"models": [], "datasets": [], "spaces": []}


def _visible_paper(site: SiteDep, arxiv_id: str) -> Paper:
    with site.store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
    if paper is None or paper.hidden:
        raise NotFound(f"Paper {arxiv_id!r} not found")
    return paper


def _json_field(raw: bytes, name: str, malformed: str) -> str:
    """A string field of a JSON body; 400 naming it when the body or the field is wrong
    (nesting too deep for the parser, or text with lone surrogates, included)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadParameter(malformed) from None
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise BadParameter(f"{name} is required")
    try:
        # JSON's `\ud800` escapes decode to lone surrogates, which neither the Markdown
        # renderer nor a UTF-8 database can take (a 500 further on).
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadParameter(f"{name} is not valid Unicode text") from None
    return value
