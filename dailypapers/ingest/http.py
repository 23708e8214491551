"""A polite HTTP client for arXiv: one connection, a pause between requests, and bounded
retries with exponential backoff and jitter that honour `Retry-After` (ARXIV.md 1.8, 6.1).

Retried: network errors, dropped connections, 5xx, 429 and 503, and bodies the caller's parser
rejects as malformed (a truncated page). Not retried: other 4xx, which the caller may inspect,
and a body over the caller's `max_bytes` (a PDF fetched for a thumbnail).
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
    """A request failed for good (retries spent, or a status that retrying cannot fix).
    `status` is the last HTTP status when there was one; `timed_out` says the last attempt
    ran out of time."""

    def __init__(self, message: str, *, status: int | None = None, timed_out: bool = False):
        super().__init__(message)
        self.status = status
        self.timed_out = timed_out


class TooLarge(FetchError):
    """The body is larger than the caller accepts; never retried (it will not shrink)."""


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
        self.timeout = timeout
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

    def _get_limited(
        self, url: str, params: Mapping[str, str | int], max_bytes: int
    ) -> httpx.Response:
        """GET, reading at most `max_bytes` of body and for at most `timeout` seconds in all
        (httpx's timeout bounds each read, so a server trickling bytes would hold us forever)."""
        started = time.monotonic()
        with self._client.stream("GET", url, params=params) as streamed:
            declared = streamed.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(f"{url}: body of {declared} bytes is over the limit of {max_bytes}")
            body = bytearray()
            for chunk in streamed.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise TooLarge(f"{url}: body is over the limit of {max_bytes} bytes")
                if time.monotonic() - started > self.timeout:
                    raise httpx.ReadTimeout(f"body not complete after {self.timeout:g}s")
            # Already decoded: the copy must not claim a Content-Encoding and decode it again.
            headers = [
                (key, value)
                for key, value in streamed.headers.items()
                if key.lower() not in ("content-encoding", "content-length")
            ]
            return httpx.Response(
                streamed.status_code, headers=headers, content=bytes(body), request=streamed.request
            )

    def fetch(
        self,
        url: str,
        params: Mapping[str, str | int],
        parse: Callable[[httpx.Response], T],
        *,
        accept: frozenset[int] = frozenset({200}),
        max_bytes: int | None = None,
    ) -> T:
        """GET `url` and return `parse(response)`.

        `accept` lists the statuses handed to `parse` (e.g. 400 for the arXiv API's error
        feed). `parse` raising MalformedXML counts as a failed attempt and is retried.
        `max_bytes` bounds the body (TooLarge beyond it) and makes `timeout` bound the whole
        download. Raises FetchError once `retries` are spent, naming the URL and the last failure.
        """
        failure = ""
        status: int | None = None
        timed_out = False
        for attempt in range(self.retries + 1):
            self._wait_turn()
            wait: float | None = None
            try:
                if max_bytes is None:
                    response = self._client.get(url, params=params)
                else:
                    response = self._get_limited(url, params, max_bytes)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {error or 'connection failed'}"
                status, timed_out = None, isinstance(error, httpx.TimeoutException)
            else:
                status, timed_out = response.status_code, False
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
                        f"{response.request.url}: HTTP {response.status_code}, not retrying",
                        status=response.status_code,
                    )
            if attempt == self.retries:
                break
            pause = min(self.backoff_max, wait) if wait is not None else self._backoff(attempt)
            log.warning(
                "%s: %s; retry %d/%d in %.1fs", url, failure, attempt + 1, self.retries, pause
            )
            self.sleep(pause)
        raise FetchError(
            f"{url}: gave up after {self.retries + 1} attempts; last: {failure}",
            status=status,
            timed_out=timed_out,
        )
