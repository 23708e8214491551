"""What every request leaves behind, as one ASGI middleware outside all others: a request id
(made here, or taken from the `request_id_header` a proxy in front sets) returned in the
X-Request-ID header and carried by every log line written while the request is answered, one
log line when it is done (method, route template, path, status, duration), and, with metrics
on, its count and latency (services/metrics.py).

The route is the route table's template (`/papers/{paper_id:path}`), read from the scope after
routing (`/static/{path:path}` for a mounted app). Answers that never reach the routes (the
anonymous page cache's hits, the guards' refusals) get the template the routes gave the same
path last time, remembered in a bounded map; paths no route matched are "(unmatched)", so
random URLs add no series.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import OrderedDict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..services.logs import REQUESTS, request_id
from ..services.metrics import Metrics

log = logging.getLogger(REQUESTS)
HEADER = b"x-request-id"
UNMATCHED = "(unmatched)"
# What a proxy's request id may look like: anything else is replaced by our own, so a header
# cannot smuggle spaces, quotes or newlines into the logs.
_ID = re.compile(rb"[A-Za-z0-9._:@+=/-]{1,128}")
ROUTES_REMEMBERED = 8192  # paths; more than the page cache holds (web/cache.py)


class Observe:
    """ASGI middleware: `metrics` None counts nothing; `id_header` (lower case) names the
    header a proxy sets to its request id; empty: every id is made here."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics | None,
        id_header: str = "",
        log_requests: bool = True,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.id_header = id_header.encode("latin-1")
        self.log_requests = log_requests
        self.templates: OrderedDict[str, str] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        rid = self._request_id(scope)
        token = request_id.set(rid)
        status = 500  # what the log says when the app fails before answering
        header = (HEADER, rid.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new message: the page cache sends the one it keeps for every hit.
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The id stays set: Starlette's error handler, outside every middleware, logs the
            # traceback next in this same task, and that line should carry it too. (Each
            # request runs in a task of its own, and the next one sets its own id.)
            self._done(scope, root_path, status, started)
            raise
        self._done(scope, root_path, status, started)
        request_id.reset(token)

    def _done(self, scope: Scope, root_path: str, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route = self._route(scope, root_path)
        if self.metrics is not None:
            self.metrics.observe(route, scope["method"], status, seconds)
        if self.log_requests:
            self._log(scope, route, status, seconds)

    def _request_id(self, scope: Scope) -> str:
        if self.id_header:
            for name, value in scope["headers"]:
                if name == self.id_header and _ID.fullmatch(value):
                    return str(value.decode("ascii"))
        return secrets.token_hex(8)

    def _route(self, scope: Scope, root_path: str) -> str:
        path: str = scope["path"]
        route = scope.get("route")
        if route is not None:
            template = str(getattr(route, "path", "") or UNMATCHED)
        elif scope.get("root_path", "") != root_path:  # a mounted app (static files)
            template = scope["root_path"][len(root_path) :] + "/{path:path}"
        else:  # answered before routing: as the routes answered this path last time
            known: str | None = self.templates.get(path)
            if known is not None:
                self.templates.move_to_end(path)
            return known or UNMATCHED
        self.templates[path] = template
        self.templates.move_to_end(path)
        if len(self.templates) > ROUTES_REMEMBERED:
            self.templates.popitem(last=False)
        return template

    def _log(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        client = scope.get("client")
        fields: dict[str, Any] = {
            "method": scope["method"],
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        log.log(
            level,
            "%s %s %d %.1f ms",
            scope["method"],
            route,
            status,
            fields["duration_ms"],  # the field's value, so the two never round apart
            extra={"fields": fields},
        )
