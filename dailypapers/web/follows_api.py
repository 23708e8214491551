"""The JSON twins of following, under /api/me (the signed-in reader's own data; writes need the
session's CSRF token like every other action): list, add and remove follows, and read the
Following list with the follows each paper matched. services/follows.py does the work; the
pages are web/follows.py."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..domain.errors import BadParameter
from ..domain.follows import KINDS, Follow
from ..services import follows
from ..storage.comments import comment_counts
from ..storage.daily import daily_entries
from . import apidoc, params
from .apidoc import SearchHit, _Shape, responses
from .auth import BodyDep, limit, require_user
from .follows import following_for
from .shapes import hf_search_hit, timestamp
from .site import SiteDep

router = APIRouter()
MAX_LIMIT = 200


class FollowItem(_Shape):
    """One thing the reader follows."""

    id: int = Field(description="The number to remove it by")
    kind: Literal["category", "author", "search", "organization"]
    value: str = Field(description="Normalised: what makes two follows the same")
    label: str = Field(description="As the reader gave it")
    why: str = Field(description="How it reads beside a paper it matched: `author: Yann LeCun`")
    createdAt: str = apidoc.timestamp("When it was followed")


class NewFollowItem(FollowItem):
    created: bool = Field(description="False when the reader already followed it")


class FollowingHit(SearchHit):
    matched: list[FollowItem] = Field(description="The reader's follows this paper matched")


class Following(_Shape):
    since: str = apidoc.timestamp("The window's start: papers published at or after it")
    until: str = apidoc.timestamp("The window's end (now): papers published before it")
    papers: list[FollowingHit] = Field(description="Newest first")


class FollowRequest(BaseModel):
    kind: Literal["category", "author", "search", "organization"]
    value: str = Field(
        description="A category (cs.CL), an author's name as arXiv writes it, a search in the "
        "search language, or an organisation"
    )


def follow_json(item: Follow) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "value": item.value,
        "label": item.label,
        "why": item.why,
        "createdAt": timestamp(item.created_at),
    }


@router.get(
    "/api/me/follows",
    summary="What the signed-in reader follows",
    responses=responses(list[FollowItem], 401, why={401: "Not signed in"}),
)
def api_follows(request: Request, site: SiteDep) -> JSONResponse:
    """Oldest first."""
    user = require_user(request)
    return JSONResponse([follow_json(f) for f in follows.list_follows(site.store, user.id)])


FOLLOW_ERRORS = {
    400: 'The body is not `{"kind": ..., "value": ...}`, the kind is unknown, or the value '
    "cannot be one (an unknown category, a blank name, a search for one paper)",
    429: "Over `rate_follow`, or at `follows_max` (`follow_searches_max` for searches)",
}


@router.post(
    "/api/me/follows",
    status_code=201,  # documentation only: the route returns its own response
    summary="Follow a category, author, search or organisation (session + CSRF)",
    responses=responses(
        NewFollowItem,
        400,
        401,
        403,
        429,
        ok_status=201,
        ok_description="Followed",
        also={200: (NewFollowItem, "Already followed: the existing follow")},
        why=FOLLOW_ERRORS,
    ),
    openapi_extra=apidoc.json_body(FollowRequest, "What to follow"),
)
def api_follow(request: Request, site: SiteDep, body: BodyDep) -> JSONResponse:
    user = require_user(request)
    kind, value = _follow_body(body)
    limit(request, "follow", user)
    item, created = follows.follow(site.store, site.config, user, kind, value)
    return JSONResponse(
        {**follow_json(item), "created": created}, status_code=201 if created else 200
    )


@router.delete(
    "/api/me/follows/{follow_id}",
    summary="Stop following (session + CSRF)",
    responses=responses(
        FollowItem,
        400,
        401,
        403,
        404,
        429,
        ok_description="Removed: the follow as it was",
        why={
            400: "follow_id is not an integer from 1 to 2^31-1",
            404: "The reader follows nothing with this id",
            429: "Over `rate_follow`",
        },
    ),
)
def api_unfollow(
    request: Request,
    site: SiteDep,
    follow_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The follow's `id`")],
    _: BodyDep,
) -> JSONResponse:
    user = require_user(request)
    limit(request, "follow", user)
    return JSONResponse(follow_json(follows.unfollow(site.store, user, follow_id)))


@router.get(
    "/api/me/following",
    summary="New papers matching the signed-in reader's follows",
    responses=responses(
        Following,
        400,
        401,
        429,
        why={
            400: "A bad `limit` or `page`",
            401: "Not signed in",
            429: "Over `rate_search` (one index query per followed search)",
        },
    ),
)
def api_following(
    request: Request,
    site: SiteDep,
    limit_: Annotated[
        str | None,
        apidoc.integer(1, MAX_LIMIT),
        Query(alias="limit", description="Papers per page, default 50"),
    ] = None,
    page: Annotated[
        str | None, apidoc.integer(1, 100), Query(description="Page number from 1, default 1")
    ] = None,
) -> JSONResponse:
    """Papers of the catalog published in the last `following_days` days that match any of
    the reader's follows, newest first, each with the follows it matched (`matched`); the
    same list as the Following page."""
    user = require_user(request)
    size = params.bounded_int(limit_, "limit", 50, 1, MAX_LIMIT)
    number = params.bounded_int(page, "page", 1, 1, 100)
    limit(request, "search", user)
    since, until = follows.window(site.config, site.clock())
    items, _more = following_for(site, user, number, size)
    ids = [item.paper.arxiv_id for item in items]
    with site.store.connect() as conn:
        entries, comments = daily_entries(conn, ids), comment_counts(conn, ids)
    papers = []
    for item in items:
        arxiv_id = item.paper.arxiv_id
        hit = hf_search_hit(item.paper, entries.get(arxiv_id), comments.get(arxiv_id, 0))
        hit["matched"] = [follow_json(f) for f in item.follows]
        papers.append(hit)
    return JSONResponse({"since": timestamp(since), "until": timestamp(until), "papers": papers})


def _follow_body(raw: bytes) -> tuple[str, str]:
    malformed = 'The body must be JSON: {"kind": "category", "value": "cs.CL"}'
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadParameter(malformed) from None
    if not isinstance(body, dict):
        raise BadParameter(malformed)
    kind, value = body.get("kind"), body.get("value")
    if kind not in KINDS:
        raise BadParameter(f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(value, str):
        raise BadParameter("value is required")
    return str(kind), value
