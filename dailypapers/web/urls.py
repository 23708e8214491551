"""The site's URLs, built in one place: Python code and templates (as `url.paper(id)`) call
these instead of writing paths, so a route that moves changes here and in its route table.
Paths are relative to the site's root; feeds and Markdown make them absolute with the base URL.

>>> paper("2401.00001"), day(date(2025, 10, 29), "?has_code=1")
('/papers/2401.00001', '/papers/date/2025-10-29?has_code=1')
>>> filter_query(PaperFilter(("cs.CL",), None, True), page="2")
'?category=cs.CL&has_code=1&page=2'
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, urlencode

from ..domain.papers import NO_FILTER, PaperFilter, Thumbnail
from ..services.subscriptions import LINK_PATHS

HOME = "/papers"
TRENDING = "/papers/trending"
SEARCH = "/search"
SUBMIT = "/submit"
SIGNUP = "/signup"
LOGIN = "/login"
LOGOUT = "/logout"
LOGOUT_EVERYWHERE = "/logout/everywhere"
ACCOUNT_SETTINGS = "/settings/password"
API_DOCS = "/api/docs"
SUBSCRIBE = "/subscribe"
DIGEST_SETTINGS = "/settings/digest"
DIGEST_PREVIEW = "/settings/digest/preview"
DIGEST_PREVIEW_MAIL = "/settings/digest/preview/mail"
ADMIN_DIGESTS = "/admin/digests"
ADMIN_DIGEST_PREVIEW = "/admin/digests/preview"
ADMIN_DIGEST_PREVIEW_MAIL = "/admin/digests/preview/mail"
ADMIN_JOBS = "/admin/jobs"
ADMIN_JOBS_JSON = "/admin/jobs.json"
API_DAILY = "/api/daily_papers"
LIBRARY = "/library"
LIBRARY_IMPORT = "/library/import"
LIBRARY_BIBTEX = "/library/export.bib"
LIBRARY_CSL_JSON = "/library/export.csl.json"
MY_DATA = "/settings/export.json"
API_LIBRARY = "/api/me/library"
API_MY_DATA = "/api/me/export"
FOR_YOU = "/for-you"
FOR_YOU_PROFILE = "/for-you/profile"
FOR_YOU_ABSTRACT = "/for-you/abstract"
FOR_YOU_ABSTRACT_FORGET = "/for-you/abstract/forget"
FOR_YOU_START_OVER = "/for-you/start-over"
API_FOR_YOU = "/api/me/for-you"


def filter_query(where: PaperFilter = NO_FILTER, **extra: str) -> str:
    """`?category=..&has_code=1&...` for a filter and extra parameters ("" when empty)."""
    pairs = [("category", c) for c in where.categories]
    if where.has_code:
        pairs.append(("has_code", "1"))
    pairs += [(k, v) for k, v in extra.items() if v]
    return ("?" + urlencode(pairs)) if pairs else ""


def paper(arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}"


def paper_markdown(arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}.md"


def paper_json(arxiv_id: str) -> str:
    return f"/api/papers/{arxiv_id}"


def upvote(arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}/upvote"


def not_interested(arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}/not-interested"


def for_you_dismissed(arxiv_id: str) -> str:
    """The For you list just after a "not interested", which it says with an undo button."""
    return f"{FOR_YOU}?dismissed={quote(arxiv_id, safe='/')}"


def comments(arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}/comments"


def entry_flags(arxiv_id: str) -> str:
    return f"/papers/{arxiv_id}/entry"


def comment(arxiv_id: str, comment_id: int | str) -> str:
    """A comment's place on its paper's page."""
    return f"/papers/{arxiv_id}#comment-{comment_id}"


def comment_thread(arxiv_id: str) -> str:
    """The comments section of a paper's page."""
    return f"/papers/{arxiv_id}#comments"


def comment_action(comment_id: int, action: str) -> str:
    """edit, delete or hide."""
    return f"/comments/{comment_id}/{action}"


def disable_account(username: str) -> str:
    return f"/admin/users/{quote(username, safe='')}/disable"


def day(value: date, query: str = "") -> str:
    return f"/papers/date/{value.isoformat()}{query}"


def week(label: str, query: str = "") -> str:
    return f"/papers/week/{label}{query}"


def month(label: str, query: str = "") -> str:
    return f"/papers/month/{label}{query}"


def view(kind: str, label: str, query: str = "") -> str:
    """A week or month view by its kind."""
    return week(label, query) if kind == "week" else month(label, query)


def feed(kind: str, fmt: str = "atom", query: str = "") -> str:
    """`/feeds/daily.atom`, `/feeds/trending.rss`, ... with a query string."""
    return f"/feeds/{kind}.{fmt}{query}"


def api_daily(query: str = "") -> str:
    return API_DAILY + query


def _q(text: str) -> str:
    return "q=" + quote(text, safe="/")


def search(text: str) -> str:
    return f"{SEARCH}?{_q(text)}"


def search_feed(text: str) -> str:
    return f"/feeds/search.atom?{_q(text)}"


def search_json(text: str) -> str:
    return f"/api/papers/search?{_q(text)}"


def login(next_path: str | None = None) -> str:
    """The login page, coming back to `next_path` (a path of this site) afterwards."""
    return LOGIN + (f"?next={quote(next_path, safe='/')}" if next_path else "")


def static(name: str, version: str) -> str:
    return f"/static/{name}?v={version}"


def swagger_asset(name: str) -> str:
    """Swagger UI's files, served from the swagger-ui-bundle package."""
    return f"/static/swagger/{name}"


def digest_link(purpose: str, token: str) -> str:
    """A signed digest link's path: purpose confirm, unsubscribe or manage."""
    return LINK_PATHS[purpose] + token


def admin_digest_preview(email: str, mail: bool = False) -> str:
    """The admins' preview of `email`'s next digest (the page, or the mail's HTML alone)."""
    path = ADMIN_DIGEST_PREVIEW_MAIL if mail else ADMIN_DIGEST_PREVIEW
    return f"{path}?{urlencode({'email': email})}"


# --- follows (web/follows.py, web/follows_api.py) --------------------------------------------

FOLLOWING = "/following"
FOLLOWING_JSON = "/api/me/following"
FOLLOWS_JSON = "/api/me/follows"
FOLLOWS_SETTINGS = "/settings/follows"
FOLLOW = "/follows"
FOLLOW_NEW = "/follows/new"
FEED_URL = "/settings/follows/feed"
FEED_URL_DELETE = "/settings/follows/feed/delete"


def unfollow(follow_id: int) -> str:
    return f"/follows/{follow_id}/delete"


def follow_new(kind: str, value: str) -> str:
    """The page that asks to follow something (where anonymous readers come back to after
    logging in).

    >>> follow_new("author", "Yann LeCun")
    '/follows/new?kind=author&value=Yann+LeCun'
    """
    return f"{FOLLOW_NEW}?{urlencode({'kind': kind, 'value': value})}"


def following_feed(token: str) -> str:
    return f"/feeds/following/{token}.atom"


def library_item(arxiv_id: str) -> str:
    """The form that saves a paper to the reader's library or removes it."""
    return f"/papers/{arxiv_id}/library"


def library(query: str = "", page: int = 1) -> str:
    pairs = [(k, v) for k, v in (("q", query), ("page", str(page) if page > 1 else "")) if v]
    return LIBRARY + (("?" + urlencode(pairs)) if pairs else "")


def library_json(query: str = "", page: int = 1) -> str:
    return API_LIBRARY + library(query, page)[len(LIBRARY) :]


def library_import(import_id: int) -> str:
    return f"/library/imports/{import_id}"


def library_import_json(import_id: int) -> str:
    return f"/api/me/library/imports/{import_id}"


def thumbnail(image: Thumbnail) -> str:
    """A thumbnail's image: its name is its content hash, so the URL never goes stale."""
    return f"/thumbnails/{image.file}"


def _segment(text: str) -> str:
    # Every character but letters, digits and -_.~ escaped, `/` too: the name is one segment.
    # A segment of dots alone would be read as `.` or `..`; no author's name is one.
    return quote(text, safe="")


def author(name: str, page: int = 1) -> str:
    """An author's page: `/authors/Yann%20LeCun`."""
    return f"/authors/{_segment(name)}" + (f"?page={page}" if page > 1 else "")


def author_json(name: str, page: int = 1) -> str:
    return f"/api/authors/{_segment(name)}" + (f"?page={page}" if page > 1 else "")


PROFILE_SETTINGS = "/settings/profile"


def profile(username: str) -> str:
    """A person's profile: `/u/ada`."""
    return f"/u/{_segment(username)}"


MY_CLAIMS = "/settings/claims"
ADMIN_CLAIMS = "/admin/claims"


def claims(arxiv_id: str) -> str:
    """Where "This is me" (and a confirmation) posts."""
    return f"/papers/{arxiv_id}/claims"


def admin_claim(claim_id: int) -> str:
    return f"{ADMIN_CLAIMS}/{claim_id}"


def organization(name: str, page: int = 1) -> str:
    """An organisation's papers: `/orgs/NVIDIA`."""
    return f"/orgs/{_segment(name)}" + (f"?page={page}" if page > 1 else "")


def paper_organization(arxiv_id: str) -> str:
    """Where an admin sets a paper's organisation."""
    return f"/papers/{arxiv_id}/organization"
