"""What every response carries and every request is held to, as one ASGI middleware: security
headers (a strict Content-Security-Policy, no framing, no MIME sniffing, a same-origin referrer)
and size caps on the query string and the body, answered before any route runs."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import TooLarge

MAX_QUERY = 8 * 1024  # bytes of query string: a search is 250 characters, filters a few dozen
MAX_BODY = 1024 * 1024  # bytes of request body: a comment is 10,000 characters at most

# Pages load only their own scripts and styles (no inline code: the one script is a file), may
# not be framed (clickjacking), and post forms only to this site.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets styles from its script; its page holds no user content.
CSP_API_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def security_headers(path: str, docs_path: str = "/api/docs") -> dict[str, str]:
    """The headers every answer carries, for a response built outside the middleware."""
    csp = CSP_API_DOCS if path == docs_path else CSP
    return {**{k.decode(): v.decode() for k, v in HEADERS}, "content-security-policy": csp}


class Guards:
    """ASGI middleware: caps, then headers on whatever the app answers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_path: str = "/api/docs",
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.docs_path = docs_path
        # Paths whose bodies may be larger than MAX_BODY (a file upload), with their caps.
        self.body_limits = dict(body_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (CSP_API_DOCS if scope["path"] == self.docs_path else CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp))
                message["headers"] = headers
            await send(message)

        if len(scope.get("query_string", b"")) > MAX_QUERY:
            await _refuse(scope, with_headers, 414, f"The query string is over {MAX_QUERY} bytes.")
            return
        cap = self.body_limits.get(scope["path"], MAX_BODY)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > cap:
            await _refuse(scope, with_headers, 413, f"The body is over {cap} bytes.")
            return
        received = 0

        async def capped() -> Message:
            # Content-Length can be absent (chunked): count what actually arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:  # web/errors.py answers it with 413
                    raise TooLarge(f"The body is over {cap} bytes.")
            return message

        await self.app(scope, capped, with_headers)


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    wants_json = scope["path"].startswith("/api/")
    body = json.dumps({"error": message}).encode() if wants_json else message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json" if wants_json else b"text/plain"),
                (b"content-length", str(len(body)).encode()),
                (b"x-error-message", message.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
