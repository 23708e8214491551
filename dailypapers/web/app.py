"""The web application: `create_app(config)` builds the FastAPI app with the full route table
(pages, the JSON API, feeds, static files), the typed Site every route depends on, and the
error handlers (web/errors.py) that keep stack traces away from users."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from swagger_ui_bundle import swagger_ui_path

from .. import __version__
from ..config import Config
from ..search.vector import Embedder, embedder_for
from ..services.limits import StoreLimiter
from ..services.mail import mail_enabled
from ..services.metrics import Metrics
from ..services.searching import Searcher
from ..storage import Store, open_store
from . import (
    actions,
    api,
    auth,
    authors,
    claims,
    digests,
    errors,
    feeds,
    follows,
    follows_api,
    foryou,
    jobs,
    library,
    ops,
    organizations,
    pages,
    profiles,
    searchpage,
    shared,
    thumbnails,
    urls,
)
from .cache import ChangeWatch, PageCache
from .guards import Guards
from .httpcache import HttpCache
from .moved import MovedPapers
from .observe import Observe
from .params import iso_week
from .site import Site

SESSION_COOKIE = "dailypapers_session"
HERE = Path(__file__).parent


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


def _templates(config: Config) -> Jinja2Templates:
    templates = Jinja2Templates(
        directory=HERE / "templates", context_processors=[_people, follows.follow_state]
    )
    templates.env.globals.update(
        site_name=config.site_name,
        version=__version__,
        url=urls,
        this_week=lambda: iso_week(date.today()),
        this_month=lambda: date.today().strftime("%Y-%m"),
        mail_enabled=mail_enabled(config),
    )
    templates.env.globals["per_reader"] = shared.per_reader
    templates.env.filters["http_url"] = _http_url
    templates.env.filters["highlight"] = searchpage.highlight
    return templates


def create_app(
    config: Config,
    store: Store | None = None,
    *,
    background_index: bool = False,
    embedder: Embedder | None = None,
) -> FastAPI:
    """The site on `store` (opened from `config.database_url` when not given). With
    `background_index` (as `serve` runs it), the process keeps its keyword index current
    (every `index_interval_seconds`) and, with the `scheduler` setting on, runs the
    scheduled jobs (dailypapers/jobs/). `embedder` is for tests that share one loaded model."""
    store = store or open_store(config.database_url)
    # Loads the model on the first search that needs it, not at start-up. One thread: a short
    # query embeds about as fast on one core, and the other cores stay free for the keyword
    # leg, which runs meanwhile, and for other requests.
    embedder = embedder or embedder_for(config, threads=1)
    # Other processes' writes, seen through the database's change counter by both copies of
    # pages this process keeps: the anonymous cache and the signed-in readers' shared lists.
    changes = ChangeWatch(store, config.cache_check_seconds)
    site = Site(
        config=config,
        store=store,
        searcher=Searcher(store, config, embedder),
        limiter=StoreLimiter(store, clock=lambda: site.clock().timestamp()),
        templates=_templates(config),
        clock=lambda: datetime.now(UTC),
        shared_pages=shared.SharedPages(store, config.page_cache_seconds, changes),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background_index:
            await start_jobs(site, embedder)
            library.fetcher(site).resume()  # imports a stopped process left half-fetched
        yield
        await stop_jobs(site)
        if site.library_fetcher is not None:
            site.library_fetcher.stop()

    app = FastAPI(
        lifespan=lifespan,
        title=config.site_name,
        version=__version__,
        description="Daily Papers: the daily list, papers and feeds. The /api endpoints "
        "follow the Hugging Face Papers API, so its clients work unchanged.",
        docs_url=None,  # served below from the swagger-ui-bundle package, not a CDN
        redoc_url=None,
    )
    app.state.site = site
    errors.install(app)
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get(urls.API_DOCS, include_in_schema=False)
    def api_docs(request: Request) -> Response:
        return site.templates.TemplateResponse(
            request, "api_docs.html", {"openapi_url": app.openapi_url}
        )

    app.include_router(ops.router)  # /livez, /readyz, /healthz
    app.include_router(thumbnails.router)
    app.include_router(library.api_router)
    app.include_router(api.router)
    app.include_router(follows_api.router)
    app.include_router(follows.router)  # /feeds/following/... before /feeds/{kind}.{fmt}
    app.include_router(searchpage.router)  # /feeds/search.atom before /feeds/{kind}.{fmt}
    app.include_router(feeds.router)
    app.include_router(auth.router)
    app.include_router(digests.router)
    app.include_router(jobs.router)
    app.include_router(actions.router)  # before /papers/{id:path}, which would shadow them
    app.include_router(library.router)
    app.include_router(foryou.router)
    app.include_router(authors.router)
    app.include_router(claims.router)
    app.include_router(organizations.router)
    app.include_router(profiles.router)
    app.include_router(pages.router)
    # A merged local paper's old URLs redirect before any route runs (web/moved.py).
    app.add_middleware(MovedPapers, store=store)
    # Kept list pages for signed-in readers, filled before routing (web/shared.py).
    app.add_middleware(shared.KeptLists, site=site)
    app.add_middleware(
        SessionMiddleware,
        secret_key=auth.load_secret_key(config.secret_key, config.data_dir),
        session_cookie=SESSION_COOKIE,
        max_age=30 * 86400,
        same_site="lax",
        https_only=config.cookie_secure,
    )
    # Cache-Control, ETag and 304s for proxies and browsers; inside the page cache, so the
    # copies it keeps carry their ETag.
    app.add_middleware(HttpCache, max_age=config.proxy_cache_seconds, cookie=SESSION_COOKIE)
    # Outside the session, so a cache hit skips the session and routing work entirely.
    app.add_middleware(
        PageCache,
        store=store,
        ttl=config.page_cache_seconds,
        cookie=SESSION_COOKIE,
        state=app.state,
        watch=changes,
    )
    app.add_middleware(  # outermost: every answer, cached too
        Guards,
        docs_path=urls.API_DOCS,
        body_limits=library.body_limits(config.library_import_max_bytes),
    )

    metrics = Metrics(store, config) if config.metrics_enabled else None
    if metrics is not None:
        ops.install_metrics(app, metrics, config)
    app.add_middleware(  # outside Guards: every answer is counted and logged, refusals too
        Observe,
        metrics=metrics,
        id_header=config.request_id_header,
        log_requests=config.log_requests,
    )
    return app


async def start_jobs(site: Site, embedder: Embedder) -> None:
    """This process's jobs (dailypapers/jobs/): its own keyword index always; with the
    `scheduler` setting, the site-wide jobs too: on SQLite a thread that runs them while this
    process holds the jobs lock, on PostgreSQL a Procrastinate worker on this event loop."""
    from ..jobs.local import PeriodScheduler, ProcessJobs

    store, config = site.store, site.config
    site.process_jobs = ProcessJobs(store, config)
    site.process_jobs.start()
    if not config.scheduler:
        return
    if store.dialect == "sqlite":
        site.scheduler = PeriodScheduler(
            store, config, embedder=embedder, catalog_changed=site.process_jobs.wake
        )
        site.scheduler.start()
    else:
        from ..jobs.queue import build_app, start_worker_task

        site.worker = start_worker_task(build_app(store, config, embedder=embedder), config)


async def stop_jobs(site: Site) -> None:
    if site.worker is not None:
        site.worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await site.worker
    if site.scheduler is not None:
        site.scheduler.stop()
    if site.process_jobs is not None:
        site.process_jobs.stop()


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker: settings come from the environment."""
    from ..config import load_config
    from ..services.logs import configure_logging

    config = load_config()
    configure_logging(config)  # each worker process logs to stdout in `log_format`
    return create_app(config, background_index=True)
