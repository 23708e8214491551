"""A polite HTTP client for arXiv: one connection, a pause between requests, and bounded
retries with exponential backoff and jitter that honour `Retry-After` (ARXIV.md 1.8, 6.1).

Retried: network errors, dropped connections, 5xx, 429 and 503, and bodies the caller's parser
rejects as malformed (a truncated page). Not retried: other 4xx, which the caller may inspect.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from .xmlsafe import MalformedXML

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUS = {429, 500, 502, 503, 504}


class FetchError(RuntimeError):
    """A request failed for good (retries spent, or a status that retrying cannot fix)."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds (`"20"`) or an HTTP date; None if absent/bad.

    >>> retry_after_seconds("20")
    20.0
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class PoliteClient:
    """GET with a minimum gap between requests and bounded, jittered retries."""

    def __init__(
        self,
        *,
        delay: float,
        timeout: float,
        retries: int,
        backoff_base: float,
        backoff_max: float,
        user_agent: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.delay = delay
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self._last_request = float("-inf")
        self._client = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": user_agent},
            follow_redirects=True,
            limits=httpx.Limits(max_connections=1),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    def _wait_turn(self) -> None:
        gap = self.delay - (time.monotonic() - self._last_request)
        if gap > 0:
            self.sleep(gap)
        self._last_request = time.monotonic()

    def fetch(
        self,
        url: str,
        params: Mapping[str, str | int],
        parse: Callable[[httpx.Response], T],
        *,
        accept: frozenset[int] = frozenset({200}),
    ) -> T:
        """GET `url` and return `parse(response)`.

        `accept` lists the statuses handed to `parse` (e.g. 400 for the arXiv API's error
        feed). `parse` raising MalformedXML counts as a failed attempt and is retried.
        Raises FetchError once `retries` are spent, naming the URL and the last failure.
        """
        failure = ""
        for attempt in range(self.retries + 1):
            self._wait_turn()
            wait: float | None = None
            try:
                response = self._client.get(url, params=params)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {error or 'connection failed'}"
            else:
                if response.status_code in accept:
                    try:
                        return parse(response)
                    except MalformedXML as error:
                        failure = f"bad response body: {error}"
                elif response.status_code in RETRY_STATUS:
                    failure = f"HTTP {response.status_code}"
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    if wait is not None:
                        failure += f" (Retry-After {response.headers['Retry-After']})"
                else:
                    raise FetchError(
                        f"{response.request.url}: HTTP {response.status_code}, not retrying"
                    )
            if attempt == self.retries:
                break
            pause = min(self.backoff_max, wait) if wait is not None else self._backoff(attempt)
            log.warning(
                "%s: %s; retry %d/%d in %.1fs", url, failure, attempt + 1, self.retries, pause
            )
            self.sleep(pause)
        raise FetchError(f"{url}: gave up after {self.retries + 1} attempts; last: {failure}")
