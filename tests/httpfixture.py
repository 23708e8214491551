"""A real HTTP server on 127.0.0.1 that serves saved arXiv payloads, scripted per test:
status codes, Retry-After, dropped connections, truncated bodies, and requests that hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/xml"})
    drop: bool = False  # close the connection without answering
    hang: threading.Event | None = None  # wait for this event before answering


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    at: float


class PayloadServer:
    """`handler(path, params) -> Reply` decides every answer; `requests` records them all."""

    def __init__(self, handler: Callable[[str, dict[str, str]], Reply]) -> None:
        self.handler = handler
        self.requests: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                outer.requests.append(Seen(parts.path, params, time.monotonic()))
                reply = outer.handler(parts.path, params)
                if reply.hang is not None:
                    reply.hang.wait(30)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PayloadServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
