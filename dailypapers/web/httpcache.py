"""What a reverse proxy or a browser may keep: `Cache-Control`, `ETag` and `304 Not Modified`.

Public, for anyone to keep `proxy_cache_seconds`: GET and HEAD answers (200) to requests that
carry no session cookie and no Authorization header, on the pages every anonymous reader sees
alike (the daily, week, month and trending lists, paper pages, the search page), the public
feeds and the Hugging Face compatible JSON API. Their ETag is a digest of the body itself, so it
changes exactly when what a reader would see changes (a vote's count, a new paper, a comment)
and needs no bookkeeping; a request whose If-None-Match names it gets a 304 with no body.

Private, never kept by a shared cache: every answer to a request with the session cookie (its
pages carry the reader's votes and CSRF tokens), every answer that sets a cookie, and every
other path, unless the route chose its own Cache-Control. They get no ETag. Public paths say
`Vary: Cookie` (and paper pages `Accept`, for their Markdown twin), so a cache that keeps the
anonymous copy never hands it to a signed-in reader.

This middleware sits inside the in-process page cache (web/cache.py), so a page rendered once
carries its ETag in every copy that cache hands out, and the cache answers a matching
If-None-Match with a 304 itself.
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PUBLIC_PATHS = frozenset(
    {
        "/",
        "/papers",
        "/search",
        "/feeds/daily.atom",
        "/feeds/daily.rss",
        "/feeds/trending.atom",
        "/feeds/trending.rss",
        "/feeds/search.atom",
        "/api/daily_papers",
    }
)
PUBLIC_PREFIXES = ("/papers/", "/api/papers/", "/api/arxiv/")
UNTOUCHED_PREFIXES = ("/static/",)  # StaticFiles sets its own ETag and Last-Modified
PRIVATE = b"private, no-store"
MAX_BUFFER = 8 * 1024 * 1024  # bytes; a larger body goes out as it comes, without an ETag


def is_public_path(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def body_etag(body: bytes) -> bytes:
    """A strong validator: the first 128 bits of the body's SHA-256, quoted. SHA-256 because
    CPUs compute it in hardware: 50 us for a 60 kB page here, against 135 us for BLAKE2b."""
    return b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): `*`, or any listed tag equal to
    `etag` once a `W/` is dropped (a proxy that compresses marks the tag weak)."""
    value = if_none_match.strip()
    if value == b"*":
        return True
    bare = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == bare for tag in value.split(b","))


def not_modified(start: Message) -> Message:
    """The 304 for a 200 whose start is `start`: the headers a cache updates from, no body."""
    keep = (b"etag", b"cache-control", b"vary")
    return {
        "type": "http.response.start",
        "status": 304,
        "headers": [(name, value) for name, value in start["headers"] if name in keep],
    }


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class HttpCache:
    """ASGI middleware; `max_age` is `proxy_cache_seconds` (0: keep, but ask every time)."""

    def __init__(self, app: ASGIApp, *, max_age: int, cookie: str) -> None:
        self.app = app
        self.cookie = f"{cookie}=".encode()
        self.public = f"public, max-age={max_age}".encode() if max_age > 0 else b"public, no-cache"

    def _signed_in(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization" or (name == b"cookie" and self.cookie in value):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNTOUCHED_PREFIXES):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        public_path = is_public_path(path)
        vary = b"Accept, Cookie" if path.startswith("/papers/") else b"Cookie"
        if public_path and scope["method"] in ("GET", "HEAD") and not self._signed_in(scope):
            await self._public(scope, receive, send, vary)
            return

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _with_policy(message, PRIVATE, vary if public_path else None)
            await send(message)

        await self.app(scope, receive, private)

    async def _public(self, scope: Scope, receive: Receive, send: Send, vary: bytes) -> None:
        """Hold a 200's body until it is complete, then send it with its ETag, or a 304."""
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # not a public 200 (or too big): messages go out as they come

        async def capture(message: Message) -> None:
            nonlocal start, size, passing
            if passing:
                await send(message)
            elif message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                if message["status"] == 200 and not names & {b"set-cookie", b"cache-control"}:
                    start = message
                    return
                passing = True
                policy = PRIVATE if b"set-cookie" in names else b"no-store"
                await send(_with_policy(message, policy, vary))
            elif start is not None:
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > MAX_BUFFER:  # too big to hold: public, without a validator
                    passing = True
                    await send(_with_policy(start, self.public, vary))
                    await send({**message, "body": b"".join(chunks)})
                elif not message.get("more_body", False):
                    await self._answer(scope, send, start, b"".join(chunks), vary)

        await self.app(scope, receive, capture)

    async def _answer(
        self, scope: Scope, send: Send, start: Message, body: bytes, vary: bytes
    ) -> None:
        etag = body_etag(body)
        start = _with_policy(start, self.public, vary, etag)
        asked = header(scope, b"if-none-match")
        if asked is not None and etag_matches(asked, etag):
            await send(not_modified(start))
            await send({"type": "http.response.body", "body": b""})
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})


def _with_policy(
    start: Message, cache_control: bytes, vary: bytes | None, etag: bytes | None = None
) -> Message:
    """`start` with Cache-Control (unless the route set one), Vary and ETag added; a new
    message, so a copy someone keeps is not changed behind their back."""
    headers = list(start.get("headers", []))
    names = {name for name, _ in headers}
    if b"cache-control" not in names:
        headers.append((b"cache-control", cache_control))
    if vary is not None:  # joined with what the route said varies, if anything
        said = [v for n, v in headers if n == b"vary"]
        tokens = [t.strip() for v in [*said, vary] for t in v.split(b",") if t.strip()]
        joined = b", ".join(dict.fromkeys(tokens))
        headers = [(n, v) for n, v in headers if n != b"vary"] + [(b"vary", joined)]
    if etag is not None:
        headers.append((b"etag", etag))
    return {**start, "headers": headers}
