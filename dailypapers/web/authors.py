"""Author pages: `/authors/{name}` and its JSON twin `/api/authors/{name}`, both from
services/authors.py. The name is one path segment, percent-encoded (web/urls.py `author`); the
route takes the rest of the path whole, so a name with a slash in it still finds its page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from ..services.authors import AuthorPage, author_page
from ..storage.comments import comment_counts
from ..storage.daily import daily_entries
from . import apidoc, params, urls
from .apidoc import SearchHit, _Shape, responses
from .shapes import hf_search_hit
from .site import SiteDep

router = APIRouter()
PAGE_SIZE = 50
MAX_LIMIT = 200


class AuthorSpelling(_Shape):
    name: str = Field(description="As arXiv writes it")
    papers: int = Field(description="Papers of the catalog with this spelling")


class Coauthor(_Shape):
    name: str = Field(description="The spelling seen most")
    papers: int = Field(description="Papers written together (among the author's newest 2000)")
    url: str = Field(description="Their author page")


class CategoryCount(_Shape):
    category: str
    papers: int = Field(description="The author's papers filed under it (among the newest 2000)")


class AuthorDetail(_Shape):
    """An author: their papers newest first, a page at a time, and who and what they write
    with. Spellings of one person are merged by the rule in docs/people.md."""

    name: str = Field(description="The name asked for, spaces collapsed")
    spellings: list[AuthorSpelling] = Field(description="The spellings merged, most papers first")
    otherPeople: list[str] = Field(
        description="Full names of other people an initial asked for may stand for (kept apart)"
    )
    total: int = Field(description="Papers in all")
    page: int
    pageSize: int
    papers: list[SearchHit] = Field(description="Newest published first")
    coauthors: list[Coauthor] = Field(description="Most papers together first")
    categories: list[CategoryCount] = Field(description="Most papers first")


@router.get("/authors/{name:path}", include_in_schema=False)
def author_html(request: Request, site: SiteDep, name: str) -> Response:
    page = author_page(site.store, name, params.page_number(request), PAGE_SIZE)
    return site.templates.TemplateResponse(request, "author.html", {"author": page})


@router.get(
    "/api/authors/{name:path}",
    summary="An author's papers, co-authors and categories",
    responses=responses(
        AuthorDetail,
        400,
        404,
        why={
            400: "A bad `page` or `limit`, or a name over 300 characters",
            404: "No paper of the catalog has an author of this name (or a merged spelling)",
        },
    ),
)
def author_api(
    site: SiteDep,
    name: str,
    page: Annotated[
        str | None,
        apidoc.integer(1, params.MAX_PAGE),
        Query(description="Page number from 1, default 1"),
    ] = None,
    limit: Annotated[
        str | None,
        apidoc.integer(1, MAX_LIMIT),
        Query(description="Papers per page, default 50"),
    ] = None,
) -> JSONResponse:
    """The name as arXiv writes it (`Yann LeCun`, `LeCun, Y.`), percent-encoded."""
    number = params.bounded_int(page, "page", 1, 1, None)
    size = params.bounded_int(limit, "limit", PAGE_SIZE, 1, MAX_LIMIT)
    return JSONResponse(author_json(site, author_page(site.store, name, number, size)))


def author_json(site: SiteDep, author: AuthorPage) -> dict[str, Any]:
    ids = [paper.arxiv_id for paper in author.papers]
    with site.store.connect() as conn:
        entries, comments = daily_entries(conn, ids), comment_counts(conn, ids)
    return {
        "name": author.group.name,
        "spellings": [{"name": s, "papers": author.counts[s]} for s in author.group.spellings],
        "otherPeople": list(author.group.others),
        "total": author.total,
        "page": author.page,
        "pageSize": author.page_size,
        "papers": [
            hf_search_hit(p, entries.get(p.arxiv_id), comments.get(p.arxiv_id, 0))
            for p in author.papers
        ],
        "coauthors": [
            {"name": name, "papers": count, "url": urls.author(name)}
            for name, count in author.coauthors
        ],
        "categories": [{"category": c, "papers": count} for c, count in author.categories],
    }
