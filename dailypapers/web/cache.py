"""A response cache for anonymous readers: the daily lists, paper pages, the JSON API and the
feeds are the same for everyone who is not logged in, so each is rendered once per
`page_cache_seconds` instead of once per request.

What is never cached: requests carrying a session cookie (their pages show votes, forms and
flash messages), anything but GET/HEAD, responses other than 200, and responses that set a
cookie. Any write through this process's store (a vote, a comment, an admin action) empties
the cache at once; a write by another process (an ingest run, another worker) shows within
`page_cache_seconds`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..storage import Store

CACHEABLE_PREFIXES = ("/papers", "/api/daily_papers", "/api/papers/", "/feeds/", "/search")
MAX_BODY = 2 * 1024 * 1024


@dataclass
class _Entry:
    expires: float
    generation: int
    start: Message
    body: bytes


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
    ) -> None:
        self.app = app
        if state is not None:
            state.page_cache = self  # so tests and /healthz-style checks can read hits
        self.store = store
        self.ttl = ttl
        self.cookie = f"{cookie}=".encode()
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self.refreshing: set[tuple[Any, ...]] = set()
        self.hits = 0
        self.misses = 0

    def _cacheable(self, scope: Scope) -> bool:
        if self.ttl <= 0 or scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        path: str = scope["path"]
        if path != "/" and not path.startswith(CACHEABLE_PREFIXES):
            return False
        for name, value in scope["headers"]:
            if name == b"cookie" and self.cookie in value:
                return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
        key = (scope["method"], scope["path"], scope["query_string"], accept)
        now = time.monotonic()
        entry = self.entries.get(key)
        if (
            entry is not None
            and entry.generation == self.store.generation
            and (entry.expires > now or key in self.refreshing)
        ):
            # Fresh, or only expired while one request already renders its successor: the
            # others keep getting this copy rather than all rendering at once.
            self.hits += 1
            self.entries.move_to_end(key)
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
        generation = self.store.generation
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
            self.entries[key] = _Entry(now + self.ttl, generation, start, b"".join(chunks))
            self.entries.move_to_end(key)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
