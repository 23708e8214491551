"""Talking to arXiv on the catalog's behalf: the polite HTTP client built from the settings,
and fetching papers the catalog lacks."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..ingest.harvest import ingest_arxiv_api
from ..ingest.http import PoliteClient
from ..ingest.run import IngestReport
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
