"""What every route may use, typed: the settings, the store, the searcher, the rate limiter,
the templates, the clock and the process's jobs, gathered in one Site built by create_app.
Routes ask for it as a dependency (`site: SiteDep`) instead of reading `request.app.state`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from ..config import Config
from ..services.library import ImportFetcher
from ..services.limits import StoreLimiter
from ..services.searching import Searcher
from ..storage import Store

if TYPE_CHECKING:  # web/shared.py needs the follows, which need this module
    from ..jobs.local import PeriodScheduler, ProcessJobs
    from .shared import SharedPages


@dataclass
class Site:
    config: Config
    store: Store
    searcher: Searcher
    limiter: StoreLimiter
    templates: Jinja2Templates
    clock: Callable[[], datetime]
    process_jobs: ProcessJobs | None = None  # this process's keyword index (jobs/local.py)
    scheduler: PeriodScheduler | None = None  # the site-wide jobs on SQLite
    worker: asyncio.Task[None] | None = None  # the site-wide jobs on PostgreSQL
    library_fetcher: ImportFetcher | None = None  # web/library.py makes it on first use
    shared_pages: SharedPages | None = None  # list pages kept for signed-in readers
    # How a request waits (a login over its account's budget): on the event loop, so a flood
    # of slowed logins holds no worker thread. Tests record the waits instead.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def today(self) -> date:
        return self.clock().date()

    def base_url(self, request: Request) -> str:
        """Where the site is, for absolute links (feeds, Markdown): the `base_url` setting,
        else what the request says."""
        return (self.config.base_url or str(request.base_url)).rstrip("/")

    def paper_listed(self) -> None:
        """A paper joined the list: have the keyword index make it searchable in seconds."""
        if self.process_jobs is not None:
            self.process_jobs.wake()


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


async def _site(request: Request) -> Site:
    # Async on purpose: FastAPI runs a plain-function dependency in the thread pool, one
    # more thread hop for every request; this one only reads an attribute.
    return site_of(request)


SiteDep = Annotated[Site, Depends(_site)]
