"""Talking to arXiv on the catalog's behalf: the polite HTTP client built from the settings,
fetching papers the catalog lacks, and reading the day's announcements."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..ingest.announcements import AnnouncementReport, harvest_feeds
from ..ingest.harvest import ingest_arxiv_api
from ..ingest.http import PoliteClient
from ..ingest.run import IngestReport, ProgressFn, _no_progress
from ..storage import Store

# A person waiting on a page gets an answer within about half a minute, retried once: the
# patient settings (minutes of backoff) are for harvests.
INTERACTIVE_TIMEOUT = 30.0


def polite_client(
    config: Config, *, delay: float | None = None, interactive: bool = False
) -> PoliteClient:
    """The HTTP client every request to arXiv goes through (delay between requests,
    Retry-After, bounded backoff, the configured User-Agent). `interactive` is for a request a
    person waits on: no delay, a short timeout, one quick retry."""
    if interactive:
        return PoliteClient(
            delay=0,
            timeout=min(config.http_timeout, INTERACTIVE_TIMEOUT),
            retries=1,
            backoff_base=1,
            backoff_max=5,
            user_agent=config.user_agent,
        )
    return PoliteClient(
        delay=config.request_delay if delay is None else delay,
        timeout=config.http_timeout,
        retries=config.http_retries,
        backoff_base=config.backoff_base,
        backoff_max=config.backoff_max,
        user_agent=config.user_agent,
    )


def fetch_papers(
    store: Store, config: Config, arxiv_ids: Sequence[str], *, interactive: bool = False
) -> IngestReport:
    """Fetch these papers from the arXiv query API into the catalog; the report says what
    arrived and whether arXiv answered (`error`)."""
    with polite_client(config, interactive=interactive) as client:
        return ingest_arxiv_api(store, client, config.arxiv_api_endpoint, ids=arxiv_ids)


def harvest_announcements(
    store: Store,
    config: Config,
    categories: Sequence[str] | str,
    *,
    client: PoliteClient | None = None,
    progress: ProgressFn = _no_progress,
) -> AnnouncementReport:
    """Write what arXiv announced today in `categories` (a list, or one string such as
    "cs.AI cs.CL") from its feed at `arxiv_rss_endpoint`: new papers, cross-lists and
    replacements. The report's `as_counts()` gives new, cross_listed, replaced, updated,
    unchanged and errors; `error` says why a run failed. An empty feed (weekends, holidays) is
    a clean run of zero. `client` defaults to the polite client the settings describe."""
    if client is not None:
        return harvest_feeds(
            store, client, config.arxiv_rss_endpoint, categories, progress=progress
        )
    with polite_client(config) as own:
        return harvest_feeds(store, own, config.arxiv_rss_endpoint, categories, progress=progress)
