"""Follows on the site: the follow and unfollow forms (from a category chip, an author's
name, the search page, an organisation), the page that asks to follow something (where an
anonymous reader comes back to after logging in), the settings page that lists them, the
Following page and its private Atom feed. services/follows.py does the work; the JSON twins
are in web/follows_api.py.

Templates learn what the reader follows through `followed` (FollowState), read from the
database only when a template asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..domain.authors import author_key
from ..domain.errors import BadParameter, NotFound, TooMany
from ..domain.follows import (
    KINDS,
    Follow,
    canonical_search,
    followed_query,
    normalize_author,
    normalize_organization,
)
from ..domain.papers import DailyItem, Paper, PaperFilter
from ..domain.people import User
from ..ratelimit import parse_rate
from ..services import follows, private_feeds
from ..services.follows import FollowedPaper
from ..storage.comments import comment_counts
from ..storage.daily import daily_entries
from . import params, urls
from .auth import FormDep, csrf_token, current_user, flash, limit
from .feeds import papers_feed
from .site import Site, SiteDep, site_of

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_PAGES = 20  # 1,000 papers: the rest of a window that large is for the JSON API's pages
FEED_SIZE = 50
KIND_NAMES = {  # (one, several)
    "category": ("Category", "Categories"),
    "author": ("Author", "Authors"),
    "search": ("Search", "Searches"),
    "organization": ("Organisation", "Organisations"),
}


# --- what templates know ------------------------------------------------------------------


class FollowState:
    """The reader's follows for templates: `followed.get("category", "cs.CL")` is the follow
    of that thing (however it is spelled) or None; read from the database on first use."""

    def __init__(self, site: Site | None, user: User | None) -> None:
        self.site, self.user = site, user
        self._by_key: dict[tuple[str, str], Follow] | None = None

    def _load(self) -> dict[tuple[str, str], Follow]:
        if self._by_key is None:
            self._by_key = {}
            if self.site is not None and self.user is not None:
                found = follows.list_follows(self.site.store, self.user.id)
                self._by_key = {(f.kind, f.value): f for f in found}
        return self._by_key

    def get(self, kind: str, text: str | None) -> Follow | None:
        if self.user is None:
            return None
        key = self.key(kind, text)
        return None if key is None else self._load().get(key)

    @staticmethod
    def key(kind: str, text: str | None) -> tuple[str, str] | None:
        """What a follow of this shown thing is stored under; None when it cannot be one."""
        if not text:
            return None
        try:
            return kind, _value_of(kind, text)
        except BadParameter:
            return None

    def count(self) -> int:
        return len(self._load())


def _value_of(kind: str, text: str) -> str:
    """What a shown thing is stored as, without the catalog (a shown category is already
    spelled as the catalog spells it)."""
    if kind == "author":
        return normalize_author(text)
    if kind == "organization":
        return normalize_organization(text)
    if kind == "search":
        return canonical_search(followed_query(text))
    return text


def search_to_follow(text: str, where: PaperFilter) -> str | None:
    """What "Follow this search" follows: the search with the page's category filters
    written as `cat:`; None when it cannot be followed (an id, nothing, too many words). The
    page's has-code filter has no word in the search language and is left out.

    >>> search_to_follow("diffusion", PaperFilter(("cs.CV",)))
    'diffusion cat:cs.CV'
    """
    try:
        query = followed_query(text)
    except BadParameter:
        return None
    extra = [f"cat:{c}" for c in where.categories if c not in query.categories]
    return " ".join([text.strip(), *extra])


_AUTHOR_SEARCH = re.compile(r'^\s*(?:author|au):(?:"([^"]+)"|(\S+))\s*$', re.IGNORECASE)


def author_searched(text: str) -> str | None:
    """The name when a search asks for one author's papers and nothing else (what an author's
    name on a card links to), so the page can offer to follow them.

    >>> author_searched('author:"Yann LeCun"'), author_searched("author:lecun diffusion")
    ('Yann LeCun', None)
    """
    match = _AUTHOR_SEARCH.match(text)
    if match is None:
        return None
    name = " ".join((match.group(1) or match.group(2)).split())
    return name if author_key(name) is not None else None


def follow_state(request: Request) -> dict[str, Any]:
    """Context processor: `followed` for every template."""
    if "session" not in request.scope:
        return {"followed": FollowState(None, None)}
    return {"followed": FollowState(site_of(request), current_user(request))}


# --- forms ----------------------------------------------------------------------------------


def _back(request: Request, form: dict[str, Any], fallback: str) -> RedirectResponse:
    """Where the form was: its `next` field or the referring page of this site, else
    `fallback`. Never another site."""
    target = str(form.get("next") or "")
    if not target:
        referer = urlsplit(request.headers.get("referer") or "")
        if referer.netloc == request.headers.get("host", ""):
            target = referer.path + (f"?{referer.query}" if referer.query else "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = fallback
    return RedirectResponse(target, status_code=303)


@router.post(urls.FOLLOW)
def form_follow(request: Request, site: SiteDep, form: FormDep) -> Response:
    kind, text = str(form.get("kind", "")), str(form.get("value", ""))
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.follow_new(kind, text)), status_code=303)
    limit(request, "follow", user)
    try:
        item, created = follows.follow(site.store, site.config, user, kind, text)
    except (BadParameter, TooMany) as error:  # said on the page the form came from
        flash(request, str(error)[:1].upper() + str(error)[1:])
        return _back(request, form, urls.FOLLOWS_SETTINGS)
    flash(request, f"Following {item.why}." if created else f"You already follow {item.why}.")
    return _back(request, form, urls.FOLLOWING)


@router.post("/follows/{follow_id}/delete")
def form_unfollow(request: Request, site: SiteDep, follow_id: int, form: FormDep) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.FOLLOWS_SETTINGS), status_code=303)
    limit(request, "follow", user)
    removed = follows.unfollow(site.store, user, follow_id)
    flash(request, f"Stopped following {removed.why}.")
    return _back(request, form, urls.FOLLOWS_SETTINGS)


@router.get(urls.FOLLOW_NEW)
def follow_page(request: Request, site: SiteDep) -> Response:
    """Asks to follow `kind` and `value`: the place an anonymous reader's follow link sends
    them back to once logged in. GET changes nothing; the button posts the form."""
    kind = request.query_params.get("kind", "")
    text = request.query_params.get("value", "")
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.follow_new(kind, text)), status_code=303)
    new = follows.prepare_follow(site.store, kind, text)
    existing = follows.find_followed(site.store, user, kind, text)
    csrf_token(request)
    context = {"kind": new.kind, "value": text, "label": new.why, "existing": existing}
    return site.templates.TemplateResponse(request, "follow_new.html", context)


# --- settings -------------------------------------------------------------------------------


@router.get(urls.FOLLOWS_SETTINGS)
def settings_page(request: Request, site: SiteDep) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.FOLLOWS_SETTINGS), status_code=303)
    csrf_token(request)
    mine = follows.list_follows(site.store, user.id)
    groups = [(KIND_NAMES[kind][1], [f for f in mine if f.kind == kind]) for kind in KINDS]
    context = {
        "groups": groups,
        "total": len(mine),
        "searches": sum(f.kind == "search" for f in mine),
        "feed_made": private_feeds.feed_token_made(site.store, user.id),
        "feed_url": request.session.pop("new_feed_url", None),
        "kinds": KIND_NAMES,
        "config_follows_max": site.config.follows_max,
        "config_searches_max": site.config.follow_searches_max,
    }
    return site.templates.TemplateResponse(request, "follows.html", context)


@router.post(urls.FEED_URL)
def new_feed_url(request: Request, site: SiteDep, _form: FormDep) -> Response:
    """A new private feed URL; the old one stops working. It is shown once, on the settings
    page this redirects to (the database keeps only its hash)."""
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.FOLLOWS_SETTINGS), status_code=303)
    limit(request, "follow", user)
    token = private_feeds.make_feed_token(site.store, user.id)
    request.session["new_feed_url"] = site.base_url(request) + urls.following_feed(token)
    return RedirectResponse(urls.FOLLOWS_SETTINGS + "#feed", status_code=303)


@router.post(urls.FEED_URL_DELETE)
def delete_feed_url(request: Request, site: SiteDep, _form: FormDep) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.FOLLOWS_SETTINGS), status_code=303)
    limit(request, "follow", user)
    if private_feeds.revoke_feed_token(site.store, user.id):
        flash(request, "Your private feed URL no longer works.")
    return RedirectResponse(urls.FOLLOWS_SETTINGS + "#feed", status_code=303)


# --- the Following page and feed ------------------------------------------------------------


@dataclass
class FollowingPage:
    """What following.html needs."""

    follows: list[Follow]
    items: list[FollowedPaper]
    entries: dict[str, DailyItem]
    comments: dict[str, int]
    first: date
    last: date
    days: int
    page: int = 1
    more: bool = False
    popular: list[tuple[str, int]] = field(default_factory=list)


def following_for(site: Site, user: User, page: int, size: int) -> tuple[list[FollowedPaper], bool]:
    """The reader's page `page` of `size` papers (newest first) and whether more follow."""
    since, until = follows.window(site.config, site.clock())
    found = follows.following(site.store, site.searcher, user.id, since, until, page * size + 1)
    return found[(page - 1) * size : page * size], len(found) > page * size


@router.get(urls.FOLLOWING)
def following_page(request: Request, site: SiteDep) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.FOLLOWING), status_code=303)
    page = params.bounded_int(request.query_params.get("page"), "page", 1, 1, MAX_PAGES)
    limit(request, "search", user)  # one index query per followed search
    mine = follows.list_follows(site.store, user.id)
    items, more = following_for(site, user, page, PAGE_SIZE) if mine else ([], False)
    ids = [item.paper.arxiv_id for item in items]
    with site.store.connect() as conn:
        entries = daily_entries(conn, ids)
        comments = comment_counts(conn, ids)
    since, until = follows.window(site.config, site.clock())
    view = FollowingPage(
        follows=mine,
        items=items,
        entries=entries,
        comments=comments,
        first=since.date(),
        last=until.date(),
        days=site.config.following_days,
        page=page,
        more=more and page < MAX_PAGES,
        popular=[] if mine else follows.popular(site.store),
    )
    csrf_token(request)
    return site.templates.TemplateResponse(request, "following.html", {"view": view})


@router.get("/feeds/following/{token}.atom")
def following_feed(request: Request, site: SiteDep, token: str) -> Response:
    """The reader's Following as Atom, at a private URL that needs no login."""
    user = private_feeds.feed_owner(site.store, token)
    if user is None:
        raise NotFound(
            "There is no feed at this address (a feed URL stops working when a new one is made)."
        )
    # Counted per reader, not per address: feed services fetch many readers' feeds from one.
    wait = site.limiter.hit(f"search:feed:{user.id}", parse_rate(site.config.rate_search))
    if wait is not None:
        raise TooMany(f"Too many requests for this feed; try again in {int(wait) + 1} s.")
    items, _more = following_for(site, user, 1, FEED_SIZE)
    papers: list[Paper] = [item.paper for item in items]
    why = {item.paper.arxiv_id: [f.why for f in item.follows] for item in items}
    title = f"Following: {user.username}"
    response = papers_feed(request, site, title, papers, alternate=urls.FOLLOWING, why=why)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
