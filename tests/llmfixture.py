"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions protocol the way a
local model server does (llama.cpp, vLLM, Ollama), scripted by a marker in the abstract it is
sent: a good answer, one in a code fence, chatter instead of JSON, a body that is not JSON, an
overlong summary, HTTP 500, or no answer in time."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fake-summarizer-7b"
HOSTILE = "<script>alert('ai')</script>"


def summary_for(abstract: str) -> str:
    """The summary the fake writes for `abstract` (first words, so each paper's differs)."""
    return f"This paper studies {' '.join(abstract.split()[:4])}. It reports results."


class FakeLLM:
    """`requests` keeps each request's JSON body; `release` ends the hangs of `[slow]`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                body["_path"] = self.path
                body["_authorization"] = self.headers.get("Authorization")
                outer.requests.append(body)
                status, payload = outer.answer(body["messages"][-1]["content"])
                if payload is None:  # slow: no answer until released
                    outer.release.wait(30)
                    status, payload = 200, b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/chat/completions"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, abstract: str) -> tuple[int, bytes | None]:
        content = json.dumps(
            {"summary": summary_for(abstract), "keywords": ["test papers", "fake model"]}
        )
        if "[500]" in abstract:
            return 500, b'{"error": {"message": "model crashed"}}'
        if "[slow]" in abstract:
            return 200, None
        if "[notjson]" in abstract:
            return 200, b"<html>502 Bad Gateway</html>"
        if "[garbage]" in abstract:
            content = "Sure! Here is a short summary of the paper you sent."
        elif "[long]" in abstract:
            content = json.dumps({"summary": "word " * 400, "keywords": []})
        elif "[fenced]" in abstract:
            content = f"```json\n{content}\n```"
        elif "[hostile]" in abstract:
            content = json.dumps({"summary": f"Evil {HOSTILE} summary.", "keywords": [HOSTILE]})
        completion = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
        return 200, json.dumps(completion).encode()

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
