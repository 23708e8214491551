"""Errors as the web answers them, in one place: a refusal from a service or a parameter
parser (domain/errors.py) gets its status here, JSON paths get `{"error": message}` with the
message in `X-Error-Message` (what Hugging Face's clients read), pages get the error page."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..domain.errors import (
    BadParameter,
    Conflict,
    Forbidden,
    LoginRequired,
    NotFound,
    Refused,
    TooLarge,
    TooMany,
    Unavailable,
)
from .guards import security_headers
from .site import site_of

log = logging.getLogger(__name__)

STATUS: dict[type[Refused], int] = {
    BadParameter: 400,
    LoginRequired: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    TooMany: 429,
    Unavailable: 502,
}


def status_of(error: Refused) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".json")


def header_safe(message: str) -> str:
    """HTTP headers carry Latin-1 only: anything else is percent-encoded."""
    return (
        quote(message, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")
        if not message.isascii()
        else message
    )


def error_response(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": message},
            status_code=status,
            headers={"X-Error-Message": header_safe(message)},
        )
    site = site_of(request)
    return site.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def install(app: FastAPI) -> None:
    """Register the handlers on `app`. They are plain functions, which Starlette runs in the
    thread pool: an error page reads the visitor's session from the database."""

    @app.exception_handler(Refused)
    def _refused(request: Request, error: Refused) -> Response:
        return error_response(request, status_of(error), str(error))

    @app.exception_handler(StarletteHTTPException)
    def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = error.detail if isinstance(error.detail, str) else "Request failed"
        if error.status_code == 404 and message == "Not Found":
            message = "There is no page at this address."
        return error_response(request, error.status_code, message)

    @app.exception_handler(RequestValidationError)
    def _bad_request(request: Request, error: RequestValidationError) -> Response:
        # HF clients map only 400 to a bad-request error, so FastAPI's 422 is never sent.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in error.errors()
        )
        return error_response(request, 400, f"Bad request: {problems}")

    @app.exception_handler(Exception)
    def _crash(request: Request, error: Exception) -> Response:
        # exc_info=error: this handler runs in a worker thread, where sys.exc_info() is
        # empty, so log.exception() would log "NoneType: None" instead of the traceback.
        log.error("error serving %s", request.url.path, exc_info=error)
        response = error_response(request, 500, "Something went wrong on our side.")
        # Starlette answers a crash outside every middleware, Guards included: add its headers.
        for name, value in security_headers(request.url.path).items():
            response.headers.setdefault(name, value)
        return response
