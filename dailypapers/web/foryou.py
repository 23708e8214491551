"""For you on the site: the page (`/for-you`), its JSON twin (`GET /api/me/for-you`), the
"Not interested" button of its cards (and its undo), the pasted abstract, and the page that
shows what drives the feed and starts it over. The ranking is services/foryou.py's."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..domain.errors import Refused
from ..domain.people import User
from ..search.vector import model_name
from ..services import foryou
from ..storage.papers import get_papers
from . import apidoc, params, urls
from .apidoc import responses
from .auth import FormDep, csrf_token, current_user, flash, limit, require_user
from .errors import status_of
from .site import Site, SiteDep

router = APIRouter()
PAGE_LIMIT = 50


def _span(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    return (
        params.parse_day(since, "since") if since else None,
        params.parse_day(until, "until") if until else None,
    )


def _page(
    request: Request,
    site: Site,
    user: User | None,
    *,
    abstract: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    since, until = _span(request.query_params.get("since"), request.query_params.get("until"))
    result = foryou.for_you(
        site.store,
        site.config,
        user,
        site.clock(),
        since=since,
        until=until,
        limit=PAGE_LIMIT,
        abstract=abstract,
        embedder=site.searcher.embedder,
        searcher=site.searcher,
    )
    kinds = {s.arxiv_id: s.kind for s in result.profile.signals}
    dismissed_id = request.query_params.get("dismissed")
    dismissed = next((d for d in result.profile.dismissed if d[0] == dismissed_id), None)
    csrf_token(request)
    context: dict[str, Any] = {
        "result": result,
        "kinds": kinds,
        "pasted": abstract,
        "error": error,
        "just_dismissed": dismissed,
        "json_url": urls.API_FOR_YOU,
    }
    return site.templates.TemplateResponse(request, "foryou.html", context, status_code=status)


@router.get(urls.FOR_YOU, include_in_schema=False)
def for_you_page(request: Request, site: SiteDep) -> Response:
    """The reader's list; for a visitor (or a reader with an empty profile), the trending
    papers and the ways to start one."""
    return _page(request, site, current_user(request))


@router.post(urls.FOR_YOU_ABSTRACT, include_in_schema=False)
def form_abstract(request: Request, site: SiteDep, form: FormDep) -> Response:
    """Rank by a pasted abstract: kept for a signed-in reader (until replaced or forgotten),
    used for this page alone for a visitor."""
    user = current_user(request)
    text = str(form.get("abstract", ""))
    try:
        limit(request, "search", user)
        if user is None:
            foryou.check_abstract(text)
            return _page(request, site, None, abstract=text)
        embedder = site.searcher.embedder
        if embedder is None:
            return _page(request, site, user, error="The embedding model is not installed.")
        foryou.keep_abstract(site.store, site.config, user, text, embedder)
    except Refused as error:
        return _page(request, site, user, error=str(error), status=status_of(error))
    flash(request, "Your list is now ranked by your abstract too.")
    return RedirectResponse(urls.FOR_YOU, status_code=303)


@router.post(urls.FOR_YOU_ABSTRACT_FORGET, include_in_schema=False)
def form_forget_abstract(request: Request, site: SiteDep, _form: FormDep) -> Response:
    user = require_user(request)
    foryou.forget_abstract(site.store, user)
    flash(request, "The pasted abstract no longer steers your list.")
    return RedirectResponse(urls.FOR_YOU_PROFILE, status_code=303)


@router.post("/papers/{paper_id:path}/not-interested", include_in_schema=False)
def form_not_interested(request: Request, site: SiteDep, paper_id: str, form: FormDep) -> Response:
    """Mark a paper "not interested" (`action=undo` takes it back). Back to the list, which
    shows at once the paper gone and its close neighbours lower, with an undo button."""
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.FOR_YOU), status_code=303)
    arxiv_id = params.paper_id(paper_id)
    limit(request, "vote", user)
    if form.get("action") == "undo":
        foryou.undismiss(site.store, user, arxiv_id)
        flash(request, "Taken back: that paper is no longer marked not interested.")
        back = urls.FOR_YOU_PROFILE if form.get("back") == "profile" else urls.FOR_YOU
        return RedirectResponse(back, status_code=303)
    foryou.dismiss(site.store, user, arxiv_id)
    return RedirectResponse(urls.for_you_dismissed(arxiv_id), status_code=303)


@router.get(urls.FOR_YOU_PROFILE, include_in_schema=False)
def profile_page(request: Request, site: SiteDep) -> Response:
    """What drives the reader's feed: the papers it learns from, the pasted abstract, the
    "not interested" papers (each with an undo), and a button to start over."""
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.FOR_YOU_PROFILE), status_code=303)
    with site.store.connect() as conn:
        profile = foryou.gather_profile(conn, user, model_name(site.config.embedding_max_tokens))
        found = get_papers(conn, [s.arxiv_id for s in profile.signals])
    titles = {paper.arxiv_id: paper.title for paper in found}
    csrf_token(request)
    return site.templates.TemplateResponse(
        request, "foryou_profile.html", {"profile": profile, "titles": titles}
    )


@router.post(urls.FOR_YOU_START_OVER, include_in_schema=False)
def form_start_over(request: Request, site: SiteDep, _form: FormDep) -> Response:
    user = require_user(request)
    foryou.start_over(site.store, user)
    flash(
        request,
        "Started over: earlier upvotes, the abstract and the not-interested marks no longer "
        "steer your list.",
    )
    return RedirectResponse(urls.FOR_YOU_PROFILE, status_code=303)


@router.get(
    urls.API_FOR_YOU,
    summary="The signed-in reader's For you list",
    response_model=None,
    responses=responses(
        apidoc.ForYou,
        400,
        401,
        why={400: "A bad `since`, `until` or `limit`", 401: "Not signed in"},
    ),
)
def api_for_you(
    request: Request,
    site: SiteDep,
    since: Annotated[
        str | None, apidoc.string(format="date"), Query(description="First day (YYYY-MM-DD)")
    ] = None,
    until: Annotated[
        str | None,
        apidoc.string(format="date"),
        Query(description="Last day; default: the newest paper's day"),
    ] = None,
    limit: Annotated[
        str | None, apidoc.integer(1, 200), Query(description="Papers, default 50")
    ] = None,
) -> JSONResponse:
    """Recent papers ranked for the signed-in reader (the page's list; the same as `dailypapers
    recommend --user NAME --json`), each with why it is there: the closest paper of the
    reader's profile, a follow it matched, or trending."""
    user = require_user(request)
    first, last = _span(since, until)
    size = params.bounded_int(limit, "limit", PAGE_LIMIT, 1, 200)
    result = foryou.for_you(
        site.store,
        site.config,
        user,
        site.clock(),
        since=first,
        until=last,
        limit=size,
        embedder=site.searcher.embedder,
        searcher=site.searcher,
    )
    return JSONResponse(foryou.as_json(result))
