"""What every route may use, typed: the settings, the store, the searcher, the rate limiter,
the templates, the clock and the background indexer, gathered in one Site built by create_app.
Routes ask for it as a dependency (`site: SiteDep`) instead of reading `request.app.state`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from ..config import Config
from ..ratelimit import Limiter
from ..services.indexing import BackgroundIndexer
from ..services.searching import Searcher
from ..storage import Store


@dataclass
class Site:
    config: Config
    store: Store
    searcher: Searcher
    limiter: Limiter
    templates: Jinja2Templates
    clock: Callable[[], datetime]
    indexer: BackgroundIndexer | None = None
    # How a request waits (a login over its account's budget); tests record instead.
    sleep: Callable[[float], None] = time.sleep

    def today(self) -> date:
        return self.clock().date()

    def base_url(self, request: Request) -> str:
        """Where the site is, for absolute links (feeds, Markdown): the `base_url` setting,
        else what the request says."""
        return (self.config.base_url or str(request.base_url)).rstrip("/")

    def paper_listed(self) -> None:
        """A paper joined the list: have the indexer make it searchable in seconds."""
        if self.indexer is not None:
            self.indexer.wake()


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


SiteDep = Annotated[Site, Depends(site_of)]
