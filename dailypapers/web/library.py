"""The reader's library on the web: the /library page (search, pages, export links, the import
form and the latest imports), an import's report, the save/remove form every card and paper
page carries, the exports (BibTeX, CSL-JSON, all my data), and their JSON twins under
/api/me for scripts (session + CSRF, like the other actions). The rules are
services/library.py's and services/userdata.py's; this module reads requests and renders.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from ..domain.errors import BadParameter, LoginRequired, Refused
from ..domain.library import FETCHED, FETCHING, MATCHED, PENDING, UNMATCHED, LibraryImport
from ..domain.people import User
from ..ingest.references import FORMATS
from ..services import library, userdata
from . import apidoc, params, urls
from .actions import _back
from .api import PaperId, _json_field
from .auth import BodyDep, FormDep, budget, current_user, flash, limit, require_user
from .errors import status_of
from .shapes import timestamp
from .site import Site, SiteDep

router = APIRouter(include_in_schema=False)
api_router = APIRouter()

# What the import form's body may hold beyond the file: Guards (web/guards.py) lets this
# path's body be this much larger than the file limit (the multipart wrapping and fields).
FORM_OVERHEAD = 64 * 1024


def _login_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(urls.login(path), status_code=303)


def _page_url(site: Site, request: Request) -> Any:
    base = site.base_url(request)
    return lambda arxiv_id: base + urls.paper(arxiv_id)


# --- pages ---------------------------------------------------------------------------------


@router.get("/library")
def library_page(request: Request, site: SiteDep) -> Response:
    user = current_user(request)
    if user is None:
        return _login_redirect(urls.LIBRARY)
    return _render_library(request, site, user)


def _render_library(
    request: Request, site: Site, user: User, error: str | None = None, status: int = 200
) -> Response:
    text = request.query_params.get("q", "")[:250]
    page = library.library_page(site.store, user, text, params.page_number(request))
    return site.templates.TemplateResponse(
        request,
        "library.html",
        {
            "library": page,
            "error": error,
            "formats": FORMATS,
            "max_entries": site.config.library_import_max_entries,
            "max_mib": f"{site.config.library_import_max_bytes / 1048576:.3g}",
        },
        status_code=status,
    )


@router.post("/papers/{paper_id:path}/library")
def form_library_item(request: Request, site: SiteDep, paper_id: str, form: FormDep) -> Response:
    """Save a paper to the library (`action=save`) or take it out (`action=remove`), then
    back where the form was."""
    user = current_user(request)
    if user is None:
        return _login_redirect(urls.paper(paper_id))
    allowance = budget(request, "library", user)
    if form.get("action", "save") == "remove":
        library.remove(site.store, user, paper_id, allowance)
    else:
        library.save(site.store, user, paper_id, site.clock(), allowance)
    return _back(request, urls.paper(paper_id))


@router.post("/library/import")
def form_import(request: Request, site: SiteDep, form: FormDep) -> Response:
    """An uploaded file into the library: the matched papers at once, then the import's page,
    which shows "fetching" while arXiv is asked for the rest (ImportFetcher) and the report
    when all is settled."""
    user = require_user(request)
    upload = form.get("file")
    fmt = str(form.get("format") or "") or None
    try:
        limit(request, "library_import", user)
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise BadParameter("Choose a file to import.")
        with upload.file:  # past the limit, one byte more says enough
            data = upload.file.read(site.config.library_import_max_bytes + 1)
        record = library.import_file(
            site.store, site.config, user, data, upload.filename, fmt, site.clock()
        )
    except Refused as error:
        if isinstance(error, LoginRequired):
            raise
        return _render_library(request, site, user, str(error), status_of(error))
    finally:
        if isinstance(upload, UploadFile):
            upload.file.close()  # read or not: the form's spooled file is ours to close
    if record.status == FETCHING:
        fetcher(site).submit(record.id)
    flash(request, _summary(record))
    return RedirectResponse(urls.library_import(record.id), status_code=303)


def fetcher(site: Site) -> library.ImportFetcher:
    """The site's import fetcher (one per process)."""
    if site.library_fetcher is None:
        site.library_fetcher = library.ImportFetcher(
            site.store, site.config, site.clock, on_fetched=site.paper_listed
        )
    return site.library_fetcher


def _summary(record: LibraryImport) -> str:
    text = (
        f"Imported {record.filename}: {record.count(MATCHED)} matched, "
        f"{record.count(FETCHED)} fetched from arXiv, {record.count(UNMATCHED)} not found"
    )
    if record.count(PENDING):
        text += f"; {record.count(PENDING)} being fetched from arXiv"
    return text + "."


@router.get("/library/imports/{import_id}")
def import_page(request: Request, site: SiteDep, import_id: str) -> Response:
    user = current_user(request)
    if user is None:
        return _login_redirect(urls.LIBRARY)
    record = library.own_import(site.store, user, params.optional_id(import_id) or 0)
    if record.status == FETCHING and not fetcher(site).busy():
        fetcher(site).resume()  # a fetcher that died left it: its lease has run out
    return site.templates.TemplateResponse(
        request, "library_import.html", {"record": record, "groups": _groups(record)}
    )


def _groups(record: LibraryImport) -> list[tuple[str, str, list[Any]]]:
    """(status, heading, outcomes) in the order a reader wants them: what failed first."""
    names = [
        (UNMATCHED, "Not found"),
        (PENDING, "Being fetched from arXiv"),
        (FETCHED, "Fetched from arXiv"),
        (MATCHED, "Matched in the catalog"),
    ]
    found = []
    for status, heading in names:
        outcomes = [o for o in record.outcomes if o.status == status]
        if outcomes:
            found.append((status, heading, outcomes))
    return found


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/library/export.bib")
def export_bibtex(request: Request, site: SiteDep) -> Response:
    user = current_user(request)
    if user is None:
        return _login_redirect(urls.LIBRARY)
    body = library.export_bibtex(site.store, user, _page_url(site, request))
    return _download(body, "application/x-bibtex; charset=utf-8", f"{user.username}-library.bib")


@router.get("/library/export.csl.json")
def export_csl_json(request: Request, site: SiteDep) -> Response:
    user = current_user(request)
    if user is None:
        return _login_redirect(urls.LIBRARY)
    items = library.export_csl_json(site.store, user, _page_url(site, request))
    body = json.dumps(items, ensure_ascii=False, indent=2)
    return _download(
        body, "application/vnd.citationstyles.csl+json", f"{user.username}-library.json"
    )


@router.get("/settings/export.json")
def export_my_data(request: Request, site: SiteDep) -> Response:
    user = current_user(request)
    if user is None:
        return _login_redirect(urls.MY_DATA)
    document = userdata.export_all(site.store, user, site.config.site_name, site.clock())
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return _download(body, "application/json", f"{user.username}-{site.config.site_name}.json")


# --- JSON ----------------------------------------------------------------------------------


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LibraryEntry(_Shape):
    id: str = Field(description="The arXiv id (or local id) of the paper")
    title: str
    authors: list[str]
    publishedAt: str | None = Field(pattern=apidoc.TIMESTAMP, description="First version")
    addedAt: str = apidoc.timestamp("When it joined the library")
    how: Literal["saved", "imported"]
    url: str = Field(description="The paper's page on this site (a path)")


class LibraryList(_Shape):
    total: int = Field(description="Papers matching `q` (all of them without one)")
    page: int
    pages: int
    query: str
    items: list[LibraryEntry]


class SavedPaper(_Shape):
    id: str = Field(description="The arXiv id the request named (a merged local id: its twin)")
    saved: bool
    addedAt: str | None = Field(pattern=apidoc.TIMESTAMP, description="null once removed")
    how: Literal["saved", "imported"] | None


class OutcomeShape(_Shape):
    position: str = Field(description='Where the entry is in the file: "line 12", "entry 3"')
    status: Literal["matched", "fetched", "pending", "unmatched"]
    title: str | None
    key: str | None = Field(description="The entry's citation key or id in the file")
    arxivId: str | None
    by: str | None = Field(description='How it matched: "arXiv id", "DOI", "title", ...')
    reason: str | None = Field(description="Why it was not added")
    already: bool = Field(description="The paper was in the library before this import")


class ImportReport(_Shape):
    id: int
    status: Literal["fetching", "done"]
    format: str
    filename: str
    createdAt: str = apidoc.timestamp("When the file was imported")
    finishedAt: str | None = Field(pattern=apidoc.TIMESTAMP, description="null while fetching")
    entries: int
    counts: dict[str, int] = Field(description="Outcomes by status")
    notes: list[str] = Field(description="What else the file restored (votes, ...)")
    outcomes: list[OutcomeShape]


class MyData(BaseModel):
    """Every section services/userdata.py registers, keyed by its name."""

    model_config = ConfigDict(extra="allow")
    format: Literal["dailypapers-export"]
    version: int
    site: str
    exported_at: str


class SaveRequest(BaseModel):
    paper_id: str = Field(description="An arXiv id in any form, or an arXiv URL")


ME_ERRORS = {401: "Not signed in"}


@api_router.get(
    urls.API_LIBRARY,
    summary="The signed-in reader's library",
    responses=apidoc.responses(LibraryList, 400, 401, why={400: "A bad `page`", **ME_ERRORS}),
)
def api_library(
    request: Request,
    site: SiteDep,
    q: Annotated[
        str | None,
        apidoc.string(),
        Query(description="Search the saved papers (the site's query language)"),
    ] = None,
    page: Annotated[
        str | None, apidoc.integer(1, params.MAX_PAGE), Query(description="From 1, default 1")
    ] = None,
) -> JSONResponse:
    """Newest first, 50 a page, like the /library page."""
    user = require_user(request)
    number = params.bounded_int(page, "page", 1, 1, params.MAX_PAGE)
    found = library.library_page(site.store, user, (q or "")[:250].replace("\x00", " "), number)
    return JSONResponse(
        {
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
            "query": found.query,
            "items": [
                {
                    "id": item.paper.arxiv_id,
                    "title": item.paper.title,
                    "authors": item.paper.authors,
                    "publishedAt": timestamp(item.paper.published_at),
                    "addedAt": timestamp(item.added_at),
                    "how": item.how,
                    "url": urls.paper(item.paper.arxiv_id),
                }
                for item in found.items
            ],
        }
    )


@api_router.post(
    urls.API_LIBRARY,
    summary="Save a paper to the library (session + CSRF)",
    responses=apidoc.responses(
        SavedPaper,
        400,
        401,
        403,
        404,
        429,
        ok_description="It was in the library already",
        also={201: (SavedPaper, "Saved")},
        why={
            400: 'The body is not `{"paper_id": "..."}`',
            404: "No such paper in this catalog",
            429: "Over `rate_library`",
            **ME_ERRORS,
        },
    ),
    openapi_extra=apidoc.json_body(SaveRequest, "The paper to save"),
)
def api_save(request: Request, site: SiteDep, body: BodyDep) -> JSONResponse:
    user = require_user(request)
    raw = _json_field(body, "paper_id", 'The body must be JSON: {"paper_id": "..."}')
    saved = library.save(site.store, user, raw, site.clock(), budget(request, "library", user))
    return JSONResponse(
        {
            "id": saved.arxiv_id,
            "saved": True,
            "addedAt": timestamp(saved.added_at),
            "how": saved.how,
        },
        status_code=201 if saved.new else 200,
    )


@api_router.delete(
    urls.API_LIBRARY + "/{paper_id:path}",
    summary="Take a paper out of the library (session + CSRF)",
    responses=apidoc.responses(
        SavedPaper,
        401,
        403,
        404,
        429,
        why={404: "Not a paper id", 429: "Over `rate_library`", **ME_ERRORS},
    ),
)
def api_remove(request: Request, site: SiteDep, paper_id: PaperId, _: BodyDep) -> JSONResponse:
    """Idempotent: removing a paper that is not in the library answers the same."""
    user = require_user(request)
    arxiv_id, _removed = library.remove(
        site.store, user, paper_id, budget(request, "library", user)
    )
    return JSONResponse({"id": arxiv_id, "saved": False, "addedAt": None, "how": None})


@api_router.get(
    urls.API_LIBRARY + "/imports/{import_id}",
    summary="An import's report",
    responses=apidoc.responses(
        ImportReport,
        400,
        401,
        404,
        why={
            400: "`import_id` is not an integer from 1 to 2^31-1",
            404: "No such import of yours",
            **ME_ERRORS,
        },
    ),
)
def api_import(
    request: Request,
    site: SiteDep,
    import_id: Annotated[int, Path(ge=1, le=2**31 - 1, description="The import's id")],
) -> JSONResponse:
    """What became of each entry of the file; `status` is "fetching" until arXiv has been
    asked for the papers the catalog lacked."""
    user = require_user(request)
    record = library.own_import(site.store, user, import_id)
    return JSONResponse(import_json(record))


def import_json(record: LibraryImport) -> dict[str, Any]:
    statuses = (MATCHED, FETCHED, PENDING, UNMATCHED)
    return {
        "id": record.id,
        "status": record.status,
        "format": record.format,
        "filename": record.filename,
        "createdAt": timestamp(record.created_at),
        "finishedAt": timestamp(record.finished_at),
        "entries": record.entries,
        "counts": {status: record.count(status) for status in statuses},
        "notes": record.notes,
        "outcomes": [
            {
                "position": o.position,
                "status": o.status,
                "title": o.title,
                "key": o.key,
                "arxivId": o.arxiv_id,
                "by": o.by,
                "reason": o.reason,
                "already": o.already,
            }
            for o in record.outcomes
        ],
    }


@api_router.get(
    urls.API_MY_DATA,
    summary="Export all my data",
    responses=apidoc.responses(MyData, 401, why=ME_ERRORS),
)
def api_my_data(request: Request, site: SiteDep) -> JSONResponse:
    """Profile (no password hash), library, votes and comments, one key each; importing this
    document on /library restores the library and the votes."""
    user = require_user(request)
    return JSONResponse(userdata.export_all(site.store, user, site.config.site_name, site.clock()))


def body_limits(max_bytes: int) -> dict[str, int]:
    """The paths whose bodies may pass Guards' default cap, and their caps."""
    return {urls.LIBRARY_IMPORT: max_bytes + FORM_OVERHEAD}
