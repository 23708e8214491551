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
counted write through the store (a vote, a save, an ingest) and `page_cache_seconds` of age.
Pages with flash messages, and visitors who are not logged in, are rendered the ordinary way.
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

from ..domain.follows import Follow
from ..domain.people import User
from ..storage import Store
from ..storage.daily import voted_papers
from ..storage.library import saved_among
from .follows import FollowState

MAX_ENTRIES = 256
MAX_BYTES = 32 * 1024 * 1024
_NONCE = secrets.token_hex(12)  # one per process: what a marker must carry to count as one
_SLOT = re.compile(f"<dp-slot {_NONCE} ([a-z]+)(?: ([0-9]+))?>")
CSRF_MARK = Markup("<dp-slot {} csrf>").format(_NONCE)
NAME_MARK = Markup("<dp-slot {} name>").format(_NONCE)
# A follow id goes through a URL as well as an attribute, so its stand-in is a plain word
# (escaping leaves it as it is), looked for only inside a follow control's own markup.
FOLLOW_ID_MARK = f"dpfollowid{_NONCE}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Slot:
    """One place in a shared page that shows the reader's state: `kind` (vote, save, follow),
    what it is about (an arXiv id, or a follow's kind and value), and its markup for each state
    (False, True), cut at the markers it still holds."""

    kind: str
    key: Any
    variants: tuple[list[str | int], list[str | int]]


@dataclass
class SharedPage:
    """A page rendered for the stand-in reader, cut into text and slot numbers (negative
    numbers are the reader's CSRF token, name and follow id)."""

    parts: list[str | int]
    slots: list[Slot]
    generation: int
    expires: float
    size: int = 0
    voting_ids: list[str] = field(default_factory=list)


_CSRF, _NAME, _FOLLOW_ID = -1, -2, -3
_MARKS = {"csrf": _CSRF, "name": _NAME}


def _cut(html: str, follow_id: bool = False) -> list[str | int]:
    """`html` as text pieces and marker numbers: slot n is n, the others are _MARKS (and
    the follow id's stand-in too, with `follow_id`)."""
    parts: list[str | int] = []
    at = 0
    for match in _SLOT.finditer(html):
        parts.append(html[at : match.start()])
        name, number = match.group(1), match.group(2)
        parts.append(int(number) if name == "slot" else _MARKS[name])
        at = match.end()
    parts.append(html[at:])
    if follow_id:
        parts = [
            piece
            for part in parts
            for piece in (_split_follow_id(part) if isinstance(part, str) else [part])
        ]
    return [p for p in parts if p != ""]


def _split_follow_id(text: str) -> list[str | int]:
    pieces: list[str | int] = []
    for index, piece in enumerate(text.split(FOLLOW_ID_MARK)):
        if index:
            pieces.append(_FOLLOW_ID)
        pieces.append(piece)
    return pieces


class Recorder:
    """What a shared render passes to templates as `shared_render`: collects the slots."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []

    def slot(self, kind: str, key: Any, caller: Macro) -> Markup:
        if kind == "follow":
            # Only the id of the reader's follow shows in the control, which has the kind
            # and value already.
            stand_in = Follow(FOLLOW_ID_MARK, 0, "", "", "", _EPOCH)  # type: ignore[arg-type]
            variants = (_cut(str(caller(None))), _cut(str(caller(stand_in)), follow_id=True))
        else:
            variants = (_cut(str(caller(False))), _cut(str(caller(True))))
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


def compile_page(html: str, recorder: Recorder, generation: int, expires: float) -> SharedPage:
    parts = _cut(html)
    ids = [s.key for s in recorder.slots if s.kind in ("vote", "save")]
    size = sum(len(p) for p in parts if isinstance(p, str))
    return SharedPage(parts, recorder.slots, generation, expires, size, list(dict.fromkeys(ids)))


def fill(
    page: SharedPage,
    store: Store,
    user: User,
    csrf_token: str,
    follows: Callable[[], FollowState],
) -> str:
    """The page as `user` sees it: one query for their votes and one for their saves among
    the page's papers, their follows when the page has follow controls."""
    voted: set[str] = set()
    saved: set[str] = set()
    if page.voting_ids:
        with store.connect() as conn:
            voted = voted_papers(conn, user.id, page.voting_ids)
            saved = saved_among(conn, user.id, page.voting_ids)
    followed = follows() if any(s.kind == "follow" for s in page.slots) else None
    marks = {_CSRF: str(escape(csrf_token)), _NAME: str(escape(user.username))}
    out: list[str] = []
    for part in page.parts:
        if isinstance(part, str):
            out.append(part)
        elif part < 0:
            out.append(marks[part])
        else:
            _fill_slot(out, page.slots[part], voted, saved, followed, marks)
    return "".join(out)


def _fill_slot(
    out: list[str],
    slot: Slot,
    voted: set[str],
    saved: set[str],
    followed: FollowState | None,
    marks: dict[int, str],
) -> None:
    follow_id = ""
    if slot.kind == "vote":
        on = slot.key in voted
    elif slot.kind == "save":
        on = slot.key in saved
    else:
        found = followed.get(*slot.key) if followed is not None else None
        on = found is not None
        follow_id = str(found.id) if found is not None else ""
    for part in slot.variants[on]:
        if isinstance(part, str):
            out.append(part)
        elif part == _FOLLOW_ID:
            out.append(follow_id)
        else:
            out.append(marks[part])


class SharedPages:
    """The kept shared pages of this process, least recently used first, bounded by count
    and bytes; `ttl` <= 0 (page_cache_seconds off) turns sharing off."""

    def __init__(self, store: Store, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self.store = store
        self.ttl = ttl
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple[Any, ...], SharedPage] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()  # list routes run in the thread pool
        self.renders = 0  # shared renders made (tests check a page was reused)
        self.fills = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def generation(self) -> int:
        """What the anonymous page cache compares too (web/cache.py): counted writes."""
        return self.store.generation

    def get(self, key: tuple[Any, ...]) -> SharedPage | None:
        with self.lock:
            page = self.entries.get(key)
            if page is None:
                return None
            if page.generation != self.generation() or page.expires <= time.monotonic():
                self.size -= self.entries.pop(key).size
                return None
            self.entries.move_to_end(key)
            return page

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
