"""The AI summaries job (docs/summaries.md): for papers on the daily list whose summary is due,
ask the OpenAI-compatible chat-completions endpoint at `summary_llm_url` for two sentences and
up to five keywords from the abstract alone, and record the outcome (storage/summaries.py).

Nothing runs without `summary_llm_url`: no summary is ever made up. Pages never wait on the
endpoint; they read what the job stored. A failure (the endpoint down, slow, refusing, or
answering something that is not a summary) is recorded once per paper and asked again after a
wait that doubles (domain/summaries.py retry_wait); the run goes on with the next paper, except
that an endpoint that cannot be reached ends the run (the rest would fail the same way).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from ..config import Config
from ..domain.summaries import (
    BadAnswer,
    Summary,
    abstract_digest,
    completion_request,
    read_answer,
    retry_wait,
)
from ..storage import Store
from ..storage.summaries import mark_current, papers_due, record_failure, record_summary

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 1024 * 1024  # a chat completion of a few hundred tokens is a few kB


@dataclass
class SummaryReport:
    """What one run did: summaries written, failures by reason, papers whose row changed
    but not their abstract (`current`), and papers left for the next run when the endpoint
    could not be reached (`left`)."""

    written: int = 0
    current: int = 0
    left: int = 0
    failed: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        failed = {f"failed_{reason}": n for reason, n in sorted(self.failed.items())}
        return {"written": self.written, "current": self.current, "left": self.left, **failed}


class AskFailed(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def summaries_enabled(config: Config) -> bool:
    return bool(config.summary_llm_url)


def _ask(client: httpx.Client, config: Config, abstract: str) -> Summary:
    """One chat completion for `abstract`; AskFailed with a reason when it gave no summary."""
    body = completion_request(
        config.summary_prompt, abstract, config.summary_llm_model, config.summary_max_tokens
    )
    headers = {"Accept": "application/json"}
    if config.summary_llm_api_key:
        headers["Authorization"] = f"Bearer {config.summary_llm_api_key}"
    url = config.summary_llm_url
    late = f"{url}: no answer within {config.summary_timeout:g} s"
    deadline = time.monotonic() + config.summary_timeout  # in all, not only between reads
    try:
        with client.stream("POST", url, json=body, headers=headers) as response:
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise AskFailed("garbage", f"{url}: answer over {MAX_RESPONSE_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise AskFailed("timeout", late)
    except httpx.TimeoutException:
        raise AskFailed("timeout", late) from None
    except httpx.TransportError as error:
        raise AskFailed("unreachable", f"{url}: {error}") from None
    if response.status_code != 200:
        text = data[:300].decode("utf-8", "replace")
        raise AskFailed("http", f"{url}: HTTP {response.status_code}: {text}")
    try:
        parsed = httpx.Response(200, content=data).json()
    except ValueError:
        raise AskFailed("garbage", f"{url}: the response is not JSON") from None
    try:
        return read_answer(parsed, config.summary_llm_model)
    except BadAnswer as error:
        raise AskFailed("garbage", f"{url}: {error}") from None


def summarize_listed(
    store: Store,
    config: Config,
    limit: int,
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> SummaryReport:
    """Ask for up to `limit` due summaries of listed papers, newest day first; see the module
    docstring. Returns what happened; raises nothing for an endpoint's failures."""
    report = SummaryReport()
    if not summaries_enabled(config):
        return report
    moment = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with store.connect() as conn:
        due = papers_due(conn, moment, limit)
    own = client is None
    http = client or httpx.Client(timeout=config.summary_timeout)
    try:
        for done, paper in enumerate(due):
            digest = abstract_digest(paper.abstract)
            if paper.digest == digest:
                with store.begin(counted=False) as conn:
                    mark_current(conn, paper.arxiv_id, moment)
                report.current += 1
                continue
            try:
                summary = _ask(http, config, paper.abstract)
            except AskFailed as failure:
                with store.begin(counted=False) as conn:
                    record_failure(
                        conn, paper.arxiv_id, failure.reason, str(failure), moment, retry_wait
                    )
                report.failed[failure.reason] += 1
                log.warning(
                    "summary of %s failed (%s): %s", paper.arxiv_id, failure.reason, failure
                )
                if failure.reason == "unreachable":
                    report.left = len(due) - done - 1
                    break
                continue
            with store.begin() as conn:  # counted: pages and the API show it
                record_summary(conn, paper.arxiv_id, summary, digest, moment)
            report.written += 1
            progress(done + 1, len(due))
    finally:
        if own:
            http.close()
    return report
