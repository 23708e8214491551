"""The web application: `create_app(config)` builds the FastAPI app with the full route table
(pages, the JSON API, feeds, static files) and the error handlers that keep stack traces away
from users: HTML pages get an error page, /api paths get `{"error": ...}`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from .. import __version__
from ..api.routes import ApiError, api_error_response
from ..api.routes import router as api_router
from ..config import Config
from ..lists import iso_week
from ..ratelimit import RateLimiter
from ..search.background import BackgroundIndexer
from ..search.vector import Embedder
from ..storage import Store, open_store
from . import actions, auth, feeds, pages, searchpage
from .cache import PageCache

log = logging.getLogger(__name__)
SESSION_COOKIE = "dailypapers_session"
HERE = Path(__file__).parent


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".json")


def error_page(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse(
            {"error": message}, status_code=status, headers={"X-Error-Message": message}
        )
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


def _http_url(value: object) -> str:
    """Only http(s) URLs become links; anything else (javascript:, data:) becomes "#"."""
    text = str(value or "")
    return text if text.lower().startswith(("http://", "https://")) else "#"


def _people(request: Request) -> dict[str, object]:
    """What every template knows about the visitor: the user, a CSRF token, flash messages."""
    if "session" not in request.scope:
        return {"user": None, "csrf_token": "", "flashes": []}
    user = auth.current_user(request)
    flashes = request.session.pop("flash", []) if "flash" in request.session else []
    token = auth.csrf_token(request) if user is not None else request.session.get("csrf", "")
    return {"user": user, "csrf_token": token, "flashes": flashes}


def create_app(
    config: Config, store: Store | None = None, *, background_index: bool = False
) -> FastAPI:
    """The site on `store` (opened from `config.database_url` when not given). With
    `background_index` (as `serve` runs it), a thread keeps the search indexes current
    every `index_interval_seconds`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        indexer = None
        if background_index and config.index_interval_seconds > 0:
            indexer = BackgroundIndexer(
                app.state.store,
                config.data_dir,
                app.state.embedder,
                config.index_interval_seconds,
            )
            indexer.start()
        app.state.indexer = indexer
        yield
        if indexer is not None:
            indexer.stop()

    app = FastAPI(
        lifespan=lifespan,
        title=config.site_name,
        version=__version__,
        description="Daily Papers: the daily list, papers and feeds. The /api endpoints "
        "follow the Hugging Face Papers API, so its clients work unchanged.",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.config = config
    app.state.store = store or open_store(config.database_url)
    app.state.limiter = RateLimiter()
    # Loads the model on the first search that needs it, not at start-up. One torch thread:
    # a short query embeds as fast on one core (about 11 ms here), and the other cores stay
    # free for the keyword leg, which runs meanwhile, and for other requests.
    app.state.embedder = Embedder(config.embedding_device, config.embedding_max_tokens, threads=1)
    app.state.clock = lambda: datetime.now(UTC)
    templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_people])
    templates.env.globals.update(
        site_name=config.site_name,
        version=__version__,
        this_week=lambda: iso_week(date.today()),
        this_month=lambda: date.today().strftime("%Y-%m"),
    )
    templates.env.filters["http_url"] = _http_url
    templates.env.filters["highlight"] = searchpage.highlight
    app.state.templates = templates

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> Response:
        if _wants_json(request):
            return api_error_response(error)
        return error_page(request, error.status, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = error.detail if isinstance(error.detail, str) else "Request failed"
        if error.status_code == 404 and message == "Not Found":
            message = "There is no page at this address."
        return error_page(request, error.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, error: RequestValidationError) -> Response:
        # HF clients map only 400 to a bad-request error, so FastAPI's 422 is never sent.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in error.errors()
        )
        return error_page(request, 400, f"Bad request: {problems}")

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> Response:
        log.exception("error serving %s", request.url.path)
        return error_page(request, 500, "Something went wrong on our side.")

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(actions.router)  # before /api/papers/{id:path}, which would shadow it
    app.include_router(api_router)
    app.include_router(searchpage.router)  # /feeds/search.atom before /feeds/{kind}.{fmt}
    app.include_router(feeds.router)
    app.include_router(auth.router)
    app.include_router(actions.pages)
    app.include_router(pages.router)
    app.add_middleware(
        SessionMiddleware,
        secret_key=auth.load_secret_key(config.secret_key, config.data_dir),
        session_cookie=SESSION_COOKIE,
        max_age=30 * 86400,
        same_site="lax",
        https_only=config.cookie_secure,
    )
    # Outermost, so a cache hit skips the session and routing work entirely.
    app.add_middleware(
        PageCache,
        store=app.state.store,
        ttl=config.page_cache_seconds,
        cookie=SESSION_COOKIE,
        state=app.state,
    )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> HTMLResponse:
        return HTMLResponse("ok")

    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker: settings come from the environment."""
    from ..config import load_config

    return create_app(load_config(), background_index=True)
