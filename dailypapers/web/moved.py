"""Papers that moved: once a local paper has merged into its arXiv twin (storage/twins.py),
every URL keyed on its old id, page or API, answers a permanent redirect to the same URL with
the arXiv id. GET and HEAD get 301; other methods get 308, which keeps the method and the body,
so a vote or a comment posted from a page loaded before the merge lands on the arXiv paper.

Only paths naming a local id cost a lookup; arXiv ids never move.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..storage import Store
from ..storage.twins import merged_into

# /papers/{id}, /papers/{id}.md, /papers/{id}/upvote, /api/papers/{id}/..., /api/arxiv/{id}/...
_LOCAL_IN_PATH = re.compile(r"^(/(?:api/)?(?:papers|arxiv)/)(local-[0-9a-f]{12})(?=$|[/.])")


class MovedPapers:
    """ASGI middleware: the redirects above, before any route runs."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _LOCAL_IN_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is not None:
            target = await run_in_threadpool(self._merged_into, match.group(2))
            if target is not None:
                location = match.group(1) + target + scope["path"][match.end() :]
                if scope.get("query_string"):
                    location += "?" + scope["query_string"].decode("latin-1")
                status = 301 if scope["method"] in ("GET", "HEAD") else 308
                await RedirectResponse(location, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _merged_into(self, paper_id: str) -> str | None:
        with self.store.connect() as conn:
            return merged_into(conn, paper_id)
