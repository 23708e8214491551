"""List pages for signed-in readers, rendered once and filled in per reader: the cards, filters
and pager are the same for everyone, so a page is rendered through Jinja once per (URL, catalog
generation) for a stand-in reader, and each request only puts the reader's own state into it
(their votes, saves and follows, their CSRF token, their name) by joining strings.

The templates mark what belongs to the reader with `{% call(state) per_reader(kind, key, state) %}`
around the markup that depends on it. On an ordinary render that is the markup for the given
state; on a shared render every possible state is rendered once (voted and not, saved and not,
followed and not) and a slot marker stands in the page. A marker is a tag with a random nonce:
a title or an abstract cannot make one, since text is escaped (its `<` becomes `&lt;`) and the
nonce is never shown. The reader's CSRF token, name and follow ids stand in as markers too.

A kept page is dropped by the same rules as the anonymous page cache (web/cache.py): any
counted write through the store (a vote, a save, an ingest) and `page_cache_seconds` of age;
`SharedPages.generation` is the one place that follows that cache's notion of a change: this
process's writes, and other processes' through the database's change counter (ChangeWatch,
read at most every `cache_check_seconds`). A
kept page is answered by the KeptLists middleware before routing; a miss is rendered by the
list routes (web/pages.py). Pages with flash messages, and visitors who are not logged in,
are rendered the ordinary way.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context, Macro
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.follows import Follow
from ..domain.people import User
from ..services.sessions import peek_session, resume_session
from ..storage import Store
from ..storage.daily import reader_state
from .cache import ChangeWatch
from .follows import FollowState
from .site import Site

MAX_ENTRIES = 256
RENDER_WAIT = 5.0  # seconds a request waits for another's render of its page, at most
MAX_BYTES = 32 * 1024 * 1024
_NONCE = secrets.token_hex(12)  # one per process: what a marker must carry to count as one
_SLOT = re.compile(f"<dp-slot {_NONCE} slot ([0-9]+)>")
CSRF_MARK = Markup("<dp-slot {} csrf>").format(_NONCE)
NAME_MARK = Markup("<dp-slot {} name>").format(_NONCE)
# A follow id goes through a URL as well as an attribute, so its stand-in is a plain word
# (escaping leaves it as it is), looked for only inside a follow control's own markup.
FOLLOW_ID_MARK = f"dpfollowid{_NONCE}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_THREAD = object()  # KeptLists: "do this in a worker thread"


@dataclass(frozen=True)
class Slot:
    """One place in a shared page that shows the reader's state: `kind` (vote, save, follow),
    what it is about (an arXiv id, or a follow's kind and value), and its markup for each state
    (False, True), markers for the CSRF token and the follow id still in."""

    kind: str
    key: Any  # an arXiv id; for a follow, what it is stored under (FollowState.key)
    variants: tuple[str, str]


@dataclass
class SharedPage:
    """A page rendered for the stand-in reader: `texts[0]`, then each slot of `order`
    followed by the next text."""

    texts: list[str]
    order: list[Slot]
    generation: tuple[int, int]
    expires: float
    size: int = 0
    voting_ids: list[str] = field(default_factory=list)  # the papers with a vote or save
    named: int = 0  # where fill finds the reader's name (the header); -1: anywhere


class Recorder:
    """What a shared render passes to templates as `shared_render`: collects the slots."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []

    def slot(self, kind: str, key: Any, caller: Macro) -> Markup:
        if kind == "follow":
            # Only the id of the reader's follow shows in the control, which has the kind
            # and value already.
            stand_in = Follow(FOLLOW_ID_MARK, 0, "", "", "", _EPOCH)  # type: ignore[arg-type]
            variants = (str(caller(None)), str(caller(stand_in)))
            key = FollowState.key(*key)
        else:
            variants = (str(caller(False)), str(caller(True)))
        self.slots.append(Slot(kind, key, variants))
        return Markup("<dp-slot {} slot {}>").format(_NONCE, len(self.slots) - 1)


@pass_context
def per_reader(context: Context, kind: str, key: Any, state: Any, caller: Macro) -> Markup:
    """Template global (see the module docstring): the markup for `state`, or on a shared
    render a slot holding the markup for every state."""
    recorder = context.get("shared_render")
    if isinstance(recorder, Recorder):
        return recorder.slot(kind, key, caller)
    return Markup(caller(state))  # noqa: S704 (a macro's output, escaped by Jinja already)


def stand_in(user: User) -> User:
    """The reader a shared page is rendered for: signed in, with `user`'s admin flag (which
    is in the key), and nothing else of anyone's."""
    return User(
        id=0,
        username=NAME_MARK,
        email="",
        password_hash="",
        is_admin=user.is_admin,
        disabled=False,
        created_at=_EPOCH,
        password_changed_at=_EPOCH,
    )


def shared_context(user: User) -> dict[str, Any]:
    """What the context processors would give a signed-in reader, as markers."""
    return {
        "user": stand_in(user),
        "csrf_token": CSRF_MARK,
        "flashes": [],
        "followed": FollowState(None, None),
        "shared_render": Recorder(),
    }


def compile_page(
    html: str, recorder: Recorder, generation: tuple[int, int], expires: float
) -> SharedPage:
    pieces = _SLOT.split(html)  # text, slot number, text, ...
    texts = pieces[0::2]
    order = [recorder.slots[int(number)] for number in pieces[1::2]]
    ids = [s.key for s in order if s.kind in ("vote", "save")]
    size = sum(map(len, texts)) + sum(len(v) for s in recorder.slots for v in s.variants)
    named = [n for n, text in enumerate(texts) if NAME_MARK in text]
    place = 2 * named[0] if named else 0  # fill puts a slot's markup between two texts
    if len(named) > 1 or any(NAME_MARK in v for s in recorder.slots for v in s.variants):
        place = -1  # not only in the header: fill replaces it over the whole page
    return SharedPage(texts, order, generation, expires, size, list(dict.fromkeys(ids)), place)


def fill(page: SharedPage, store: Store, user: User, csrf_token: str) -> str:
    """The page as `user` sees it, after one query for their votes and saves among the page's
    papers and their follows. The CSRF token and the name replace their markers last, over
    the whole page: no text of the page can hold a marker."""
    with store.connect() as conn:
        voted, saved, followed = reader_state(conn, user.id, page.voting_ids)
    out = [page.texts[0]]
    for slot, text in zip(page.order, page.texts[1:], strict=True):
        if slot.kind == "vote":
            out.append(slot.variants[slot.key in voted])
        elif slot.kind == "save":
            out.append(slot.variants[slot.key in saved])
        elif slot.key in followed:
            out.append(slot.variants[True].replace(FOLLOW_ID_MARK, str(followed[slot.key])))
        else:
            out.append(slot.variants[False])
        out.append(text)
    name = str(escape(user.username))
    if page.named >= 0:
        out[page.named] = out[page.named].replace(NAME_MARK, name)
    filled = "".join(out).replace(CSRF_MARK, str(escape(csrf_token)))
    return filled if page.named >= 0 else filled.replace(NAME_MARK, name)


class SharedPages:
    """The kept shared pages of this process, least recently used first, bounded by count
    and bytes; `ttl` <= 0 (page_cache_seconds off) turns sharing off."""

    def __init__(
        self, store: Store, ttl: float, watch: ChangeWatch, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.watch = watch
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple[Any, ...], SharedPage] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()  # list routes run in the thread pool
        self.rendering: dict[tuple[Any, ...], threading.Event] = {}  # keys being rendered
        self.renders = 0  # shared renders made (tests check a page was reused)
        self.fills = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def generation(self) -> tuple[int, int]:
        """What the anonymous page cache compares too (web/cache.py): counted writes through
        this process, and the epoch of the database's change counter (other processes')."""
        return (self.store.generation, self.watch.epoch)

    def get(self, key: tuple[Any, ...]) -> SharedPage | None:
        """The kept page for `key`, else None. A page past its time is still handed out while
        another request renders its successor (nothing was written since: only its age is
        over), so readers do not all render at once when it expires."""
        self.watch.poll(time.monotonic())
        with self.lock:
            page = self.entries.get(key)
            if page is None:
                return None
            if page.generation != self.generation():
                self.size -= self.entries.pop(key).size
                return None
            if page.expires <= time.monotonic() and key not in self.rendering:
                return None  # the caller renders; the old copy serves the others meanwhile
            self.entries.move_to_end(key)
            return page

    def get_or_render(
        self, key: tuple[Any, ...], draw: Callable[[dict[str, Any]], str], user: User
    ) -> SharedPage:
        """The kept page for `key`, rendered here when there is none; one render per key at a
        time: a request that finds another rendering the same page waits for it (a thread of
        the pool, never the event loop) rather than rendering it again."""
        while True:
            page = self.get(key)
            if page is not None:
                return page
            with self.lock:
                running = self.rendering.get(key)
                if running is None:
                    self.rendering[key] = threading.Event()
                    break
            running.wait(RENDER_WAIT)  # then look again (or render, if that one failed)
        try:
            return self.render(key, draw, user)
        finally:
            with self.lock:
                self.rendering.pop(key).set()

    def render(
        self, key: tuple[Any, ...], draw: Callable[[dict[str, Any]], str], user: User
    ) -> SharedPage:
        """Render with `draw(context)` for the stand-in reader and keep the result under
        `key`. The generation is read before the render: a write during it leaves the page
        stale at once."""
        generation = self.generation()
        context = shared_context(user)
        html = draw(context)
        page = compile_page(html, context["shared_render"], generation, time.monotonic() + self.ttl)
        with self.lock:
            self.renders += 1
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= old.size
            self.entries[key] = page
            self.size += page.size
            while self.entries and (len(self.entries) > self.max_entries or self.size > MAX_BYTES):
                _key, dropped = self.entries.popitem(last=False)
                self.size -= dropped.size
        return page


def page_key(host: str, path: str, query: str, user: User) -> tuple[Any, ...]:
    """Everything a shared list page's HTML depends on besides the reader's own state (the
    admin flag is in, should a list ever show admins more)."""
    return (host, path, query, user.is_admin)


# The list routes of web/pages.py: /, /papers, /papers/date|week|month/..., /papers/trending.
_LIST_PATH = re.compile(r"^/(?:papers(?:/(?:date|week|month)/[^/]+|/trending)?)?$")


class KeptLists:
    """ASGI middleware, inside the session middleware: a GET of a list page by a signed-in
    reader whose page is kept is filled and answered here, without routing, dependencies or
    a Request (about a third of such a request's time). Anything else, and every miss, goes
    on to the routes, which render and keep the page (web/pages.py); the reader found here
    is handed to them in the request state, so the session is looked up once."""

    def __init__(self, app: ASGIApp, site: Site) -> None:
        self.app = app
        self.site = site
        self.inline = site.store.dialect == "sqlite"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        shared = self.site.shared_pages
        session = scope.get("session") if scope["type"] == "http" else None
        if (
            not session
            or shared is None
            or not shared.enabled
            or scope["method"] != "GET"
            or "sid" not in session
            or not session.get("csrf")
            or "flash" in session
            or _LIST_PATH.match(scope["path"]) is None
        ):
            await self.app(scope, receive, send)
            return
        host = next((v for n, v in scope["headers"] if n == b"host"), b"").decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        asked = (shared, str(session["sid"]), str(session["csrf"]), host, scope["path"], query)
        # On SQLite the fill's two reads are local and short (WAL: readers never wait for a
        # writer), so they run here on the event loop, saving the worker-thread hop (a tenth
        # of such a request's CPU); what may write (marking the session seen, once a minute)
        # or talk to a database server goes to a thread.
        found = self._fill(*asked, inline=True) if self.inline else _THREAD
        if found is _THREAD:
            found = await run_in_threadpool(self._fill, *asked)
        if isinstance(found, str):
            shared.fills += 1
            await HTMLResponse(found)(scope, receive, send)
            return
        if found is None:
            session.clear()  # as current_user does: the cookie's session ended
        scope.setdefault("state", {})["user"] = found  # request.state.user for current_user
        await self.app(scope, receive, send)

    def _fill(
        self,
        shared: SharedPages,
        sid: str,
        token: str,
        host: str,
        path: str,
        query: str,
        *,
        inline: bool = False,
    ) -> str | User | None | object:
        """The filled page, else the reader (None: no live session) for the routes; with
        `inline`, _THREAD where it would have to write (then call again in a thread)."""
        site = self.site
        user, stale = peek_session(site.store, sid, site.clock())
        if stale:
            if inline:
                return _THREAD
            user = resume_session(site.store, sid, site.clock())
        if user is None:
            return None
        kept = shared.get(page_key(host, path, query, user))
        if kept is None:
            return user
        return fill(kept, site.store, user, token)
