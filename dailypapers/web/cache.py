"""A response cache for anonymous readers: the daily lists, paper pages, the JSON API and the
feeds are the same for everyone who is not logged in, so each is rendered once per
`page_cache_seconds` instead of once per request.

What is never cached: requests carrying a session cookie (their pages show votes, forms and
flash messages) or an Authorization header, anything but GET/HEAD, responses other than 200, and responses that set a
cookie. Any write through this process's store (a vote, a comment, an admin action) empties
the cache at once. A write by another process (an ingest run, another worker, another machine on
the same PostgreSQL) moves the database's change counter (storage/changes.py), which the cache
reads at most once every `cache_check_seconds`, emptying itself when it moved: such a write
shows within that many seconds (and `page_cache_seconds` at most, should the counter be
unreadable).

A kept page carries the ETag web/httpcache.py gave it, so a hit whose If-None-Match names that
tag is answered with a 304 and no body.

Entries are keyed by the Host header too (pages and feeds carry absolute links made from it when
`base_url` is not set), expired ones are swept at least once a second, and the cache holds at
most MAX_BYTES of bodies, however many distinct URLs arrive: a flood of query strings cannot
grow the process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..storage import Store
from .httpcache import etag_matches, not_modified

log = logging.getLogger(__name__)

CACHEABLE_PREFIXES = ("/papers", "/api/daily_papers", "/api/papers/", "/feeds/", "/search")
MAX_BODY = 2 * 1024 * 1024
MAX_BYTES = 64 * 1024 * 1024
SWEEP_SECONDS = 1.0


class ChangeWatch:
    """The database's change counter as this process last saw it (storage/changes.py): read
    at most once every `check_seconds` by one caller at a time (the others go on without
    waiting), and `epoch` moves each time a read finds that it moved. What this process
    keeps for readers (this cache, web/shared.py's pages) is stale once its epoch is old."""

    def __init__(self, store: Store, check_seconds: float) -> None:
        self.store = store
        self.check_seconds = check_seconds
        self.count: int | None = None
        self.checked_at = float("-inf")
        self.epoch = 0
        self._lock = threading.Lock()

    def due(self, now: float) -> bool:
        return now - self.checked_at >= self.check_seconds

    def poll(self, now: float) -> None:
        """Read the counter if it is due and nobody else is reading it; blocking I/O."""
        if not self.due(now) or not self._lock.acquire(blocking=False):
            return
        try:
            try:
                count = self.store.change_count()
            except Exception as error:  # an answer kept must not fail with the check
                log.warning("page cache: cannot read the change counter: %s", error)
                count = self.count
            self.checked_at = now
            if count != self.count:
                # A move to this process's own last write needs nothing: that write already
                # moved the store's generation, which every kept page is compared with.
                if self.count is not None and count != self.store.own_change_count:
                    self.epoch += 1
                self.count = count
        finally:
            self._lock.release()


@dataclass
class _Entry:
    expires: float
    generation: tuple[int, int]  # (the store's local writes, the cache's epoch) when rendered
    start: Message
    body: bytes
    etag: bytes | None = None


class PageCache:
    """ASGI middleware; `ttl` <= 0 turns it off."""

    def __init__(
        self,
        app: ASGIApp,
        store: Store,
        ttl: float,
        cookie: str,
        max_entries: int = 2048,
        state: Any = None,
        max_bytes: int = MAX_BYTES,
        check_seconds: float = 1.0,
        watch: ChangeWatch | None = None,
    ) -> None:
        self.app = app
        if state is not None:
            state.page_cache = self  # so tests and /healthz-style checks can read hits
        self.store = store
        self.ttl = ttl
        self.cookie = f"{cookie}=".encode()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size = 0  # bytes of bodies held
        self.swept_at = 0.0
        self.entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self.refreshing: set[tuple[Any, ...]] = set()
        self.hits = 0
        self.misses = 0
        # Following the other processes' writes (shared with web/shared.py's pages): entries
        # rendered in an older epoch are stale, and are dropped when the epoch moves.
        self.watch = watch or ChangeWatch(store, check_seconds)
        self.emptied_at_epoch = self.watch.epoch

    def _cacheable(self, scope: Scope) -> bool:
        if self.ttl <= 0 or scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        path: str = scope["path"]
        if path != "/" and not path.startswith(CACHEABLE_PREFIXES):
            return False
        for name, value in scope["headers"]:
            # Credentials make the answer private (web/httpcache.py): never kept or reused.
            if name == b"authorization" or (name == b"cookie" and self.cookie in value):
                return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        accept, host = headers.get(b"accept", b""), headers.get(b"host", b"")
        key = (scope["method"], host, scope["path"], scope["query_string"], accept)
        now = time.monotonic()
        await self._follow_changes(now)
        entry = self.entries.get(key)
        if (
            entry is not None
            and entry.generation == self._generation()
            and (entry.expires > now or key in self.refreshing)
        ):
            # Fresh, or only expired while one request already renders its successor: the
            # others keep getting this copy rather than all rendering at once.
            self.hits += 1
            self.entries.move_to_end(key)
            asked = headers.get(b"if-none-match")
            if entry.etag is not None and asked is not None and etag_matches(asked, entry.etag):
                await send(not_modified(entry.start))
                await send({"type": "http.response.body", "body": b""})
                return
            await send(entry.start)
            await send({"type": "http.response.body", "body": entry.body})
            return
        self.misses += 1
        self.refreshing.add(key)
        try:
            await self._render(scope, receive, send, key, now)
        finally:
            self.refreshing.discard(key)

    async def _render(
        self, scope: Scope, receive: Receive, send: Send, key: tuple[Any, ...], now: float
    ) -> None:
        generation = self._generation()
        start: Message | None = None
        chunks: list[bytes] = []
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, keep
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200 or any(
                    name == b"set-cookie" for name, _ in message.get("headers", [])
                ):
                    keep = False
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > MAX_BODY:
                    keep = False
            await send(message)

        await self.app(scope, receive, capture)
        if keep and start is not None:
            etag = next((v for n, v in start.get("headers", []) if n == b"etag"), None)
            body = b"".join(chunks)
            self._store(key, _Entry(now + self.ttl, generation, start, body, etag), now)

    def _generation(self) -> tuple[int, int]:
        return (self.store.generation, self.watch.epoch)

    async def _follow_changes(self, now: float) -> None:
        """Empty the cache when the database's change counter moved since it was last read
        (ChangeWatch: at most once every `check_seconds`), in a worker thread so the event
        loop never waits on it. A page whose render began before the move carries the old
        epoch, so it is not kept even when it finishes after the cache was emptied."""
        if self.watch.due(now):
            await run_in_threadpool(self.watch.poll, now)
        if self.watch.epoch != self.emptied_at_epoch:
            self.emptied_at_epoch = self.watch.epoch
            self.entries.clear()
            self.size = 0

    def _store(self, key: tuple[Any, ...], entry: _Entry, now: float) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        self.entries[key] = entry
        self.size += len(entry.body)
        if now - self.swept_at >= SWEEP_SECONDS:
            self.swept_at = now
            for stale in [k for k, e in self.entries.items() if e.expires <= now]:
                if stale not in self.refreshing:
                    self.size -= len(self.entries.pop(stale).body)
        while self.entries and (len(self.entries) > self.max_entries or self.size > self.max_bytes):
            _key, dropped = self.entries.popitem(last=False)  # least recently used first
            self.size -= len(dropped.body)
