"""What signed-in people do: upvote, submit a paper to today's list, comment; and what admins
do: feature or remove a daily entry, hide a comment, disable an account. Each action exists
as an HTML form post (redirecting back) and, where a script or client needs it, as JSON under
/api (documented in the OpenAPI schema). All of them check CSRF and rate limits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ..api.routes import ApiError, resolve_paper_id
from ..comments import InvalidComment, check_comment, render_comment
from ..ids import InvalidArxivId, parse_arxiv_id
from ..storage.papers import get_paper
from ..storage.people import (
    Conflict,
    User,
    add_comment,
    delete_comment,
    edit_comment,
    find_user,
    get_comment,
    hide_comment,
    list_submission,
    paper_exists,
    set_disabled,
    set_entry_flags,
    set_vote,
    submissions_on,
    thread,
    upvotes_of,
)
from .auth import check_csrf, csrf_token, current_user, flash, limit, require_admin, require_user

router = APIRouter()
pages = APIRouter(include_in_schema=False)


def _today(request: Request) -> date:
    return request.app.state.clock().date()


def _back(request: Request, fallback: str) -> RedirectResponse:
    target = request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    if f"//{host}/" in target:
        target = target.split(f"//{host}", 1)[1]
    elif not target.startswith("/"):
        target = fallback
    return RedirectResponse(target or fallback, status_code=303)


# --- votes -------------------------------------------------------------------------------


def vote(request: Request, user: User, raw_id: str, voted: bool) -> dict[str, Any]:
    arxiv_id = resolve_paper_id(raw_id)
    limit(request, "vote", user)
    with request.app.state.store.begin() as conn:
        if upvotes_of(conn, arxiv_id) is None:
            raise ApiError(404, f"{arxiv_id} is not on the daily list, so it cannot be upvoted")
        set_vote(conn, user.id, arxiv_id, voted)
        count = upvotes_of(conn, arxiv_id)
    return {"id": arxiv_id, "upvotes": count, "voted": voted}


@router.post("/api/papers/{paper_id:path}/upvote", summary="Upvote a paper (session + CSRF)")
async def api_upvote(request: Request, paper_id: str) -> dict[str, Any]:
    """Idempotent: upvoting twice leaves one vote. Returns the new count."""
    await check_csrf(request)
    return vote(request, require_user(request), paper_id, True)


@router.delete("/api/papers/{paper_id:path}/upvote", summary="Take an upvote back")
async def api_unvote(request: Request, paper_id: str) -> dict[str, Any]:
    await check_csrf(request)
    return vote(request, require_user(request), paper_id, False)


@pages.post("/papers/{paper_id:path}/upvote")
async def form_upvote(request: Request, paper_id: str) -> Response:
    form = await check_csrf(request)
    user = current_user(request)
    if user is None:
        return RedirectResponse(f"/login?next=/papers/{paper_id}", status_code=303)
    vote(request, user, paper_id, form.get("action", "up") != "down")
    return _back(request, f"/papers/{paper_id}")


# --- submissions -------------------------------------------------------------------------


def submit(request: Request, user: User, raw: str) -> tuple[str, bool]:
    """Put a paper on today's list. Returns (arxiv id, whether it was newly listed); a paper
    already listed is not listed twice. Fetches it from arXiv when the catalog lacks it."""
    try:
        arxiv_id = parse_arxiv_id(raw).id
    except InvalidArxivId as error:
        raise ApiError(400, f"Not an arXiv id or URL: {error}") from None
    limit(request, "submit", user)
    config = request.app.state.config
    store = request.app.state.store
    today = _today(request)
    with store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
    if paper is not None and paper["daily"] is not None and not paper["daily"]["removed"]:
        return arxiv_id, False
    if paper is None:
        from ..ingest.harvest import ingest_arxiv_api
        from ..ingest.http import PoliteClient

        with PoliteClient(
            delay=0,
            timeout=min(config.http_timeout, 30),
            retries=1,
            backoff_base=1,
            backoff_max=5,
            user_agent=config.user_agent,
        ) as http:
            report = ingest_arxiv_api(store, http, config.arxiv_api_endpoint, ids=[arxiv_id])
        if report.error:
            raise ApiError(502, f"Could not reach arXiv to fetch {arxiv_id}; try again later.")
        with store.connect() as conn:
            paper = get_paper(conn, arxiv_id)
        if paper is None:
            raise ApiError(404, f"arXiv has no paper {arxiv_id}.")
    published = paper["published_at"]
    oldest = today - timedelta(days=config.submission_max_age_days)
    if published is None or published.date() < oldest:
        raise ApiError(
            400,
            f"Only papers from the last {config.submission_max_age_days} days "
            f"can be submitted; {arxiv_id} is from "
            f"{published.date() if published else 'an unknown date'}.",
        )
    with store.begin() as conn:
        if submissions_on(conn, user.id, today) >= config.submissions_per_day:
            raise ApiError(429, f"You can submit {config.submissions_per_day} papers a day.")
        try:
            list_submission(conn, arxiv_id, user, today)
        except Conflict:
            return arxiv_id, False
    indexer = getattr(request.app.state, "indexer", None)
    if indexer is not None:
        indexer.wake()  # searchable in seconds, not at the next round
    return arxiv_id, True


@router.post("/api/papers/submit", summary="Submit a paper to today's daily list")
async def api_submit(request: Request) -> JSONResponse:
    """Body `{"paper_id": "2301.12345"}` (any id or arXiv URL). 201 when listed, 200 with
    `"alreadyListed": true` when it already was."""
    await check_csrf(request)
    user = require_user(request)
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, 'The body must be JSON: {"paper_id": "..."}') from None
    raw = body.get("paper_id") if isinstance(body, dict) else None
    if not isinstance(raw, str):
        raise ApiError(400, "paper_id is required")
    arxiv_id, created = submit(request, user, raw)
    return JSONResponse(
        {"id": arxiv_id, "alreadyListed": not created}, status_code=201 if created else 200
    )


@pages.get("/submit")
def submit_form(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse("/login?next=/submit", status_code=303)
    csrf_token(request)
    return request.app.state.templates.TemplateResponse(request, "submit.html", {"error": None})


@pages.post("/submit")
async def form_submit(request: Request) -> Response:
    form = await check_csrf(request)
    user = require_user(request)
    try:
        arxiv_id, created = submit(request, user, str(form.get("paper", "")))
    except ApiError as error:
        if error.status == 401:
            raise
        return request.app.state.templates.TemplateResponse(
            request,
            "submit.html",
            {"error": error.message, "value": form.get("paper", "")},
            status_code=error.status,
        )
    flash(
        request,
        "Submitted: it is on today's list."
        if created
        else "That paper is already on the daily list.",
    )
    return RedirectResponse(f"/papers/{arxiv_id}", status_code=303)


# --- comments ----------------------------------------------------------------------------


def post_comment(
    request: Request, user: User, raw_id: str, text: str, parent_id: int | None
) -> int:
    arxiv_id = resolve_paper_id(raw_id)
    limit(request, "comment", user)
    try:
        body = check_comment(text)
    except InvalidComment as error:
        raise ApiError(400, str(error).capitalize()) from None
    with request.app.state.store.begin() as conn:
        if not paper_exists(conn, arxiv_id):
            raise ApiError(404, f"No paper {arxiv_id} in this catalog.")
        if parent_id is not None:
            parent = get_comment(conn, parent_id)
            if parent is None or parent.arxiv_id != arxiv_id or parent.deleted or parent.hidden:
                raise ApiError(404, "The comment you reply to is gone.")
            if parent.parent_id is not None:  # replies are one level deep
                parent_id = parent.parent_id
        return add_comment(conn, arxiv_id, user.id, body, render_comment(body), parent_id)


def comment_json(comment: Any) -> dict[str, Any]:
    from ..api.shapes import object_id, timestamp

    return {
        "id": comment.id,
        "_id": object_id("comment", comment.id),
        "author": {"user": comment.username, "name": comment.username},
        "createdAt": timestamp(comment.created_at),
        "editedAt": timestamp(comment.edited_at),
        "deleted": comment.deleted,
        "content": "" if comment.deleted else comment.body,
        "html": "" if comment.deleted else comment.body_html,
        "replies": [comment_json(r) for r in comment.replies],
    }


@router.get("/api/papers/{paper_id:path}/comments", summary="A paper's comment thread")
def api_comments(request: Request, paper_id: str) -> list[dict[str, Any]]:
    arxiv_id = resolve_paper_id(paper_id)
    with request.app.state.store.connect() as conn:
        if not paper_exists(conn, arxiv_id):
            raise ApiError(404, f"Paper {arxiv_id!r} not found")
        return [comment_json(c) for c in thread(conn, arxiv_id)]


@router.post("/api/papers/{paper_id:path}/comment", summary="Comment on a paper (Markdown)")
async def api_comment(request: Request, paper_id: str) -> JSONResponse:
    """Body `{"comment": "Markdown"}`; answers `{"newMessage": {...}}` like Hugging Face."""
    await check_csrf(request)
    user = require_user(request)
    text = await _json_field(request, "comment")
    new_id = post_comment(request, user, paper_id, text, None)
    return _new_message(request, new_id)


@router.post("/api/papers/{paper_id:path}/comment/{comment_id}/reply", summary="Reply to a comment")
async def api_reply(request: Request, paper_id: str, comment_id: int) -> JSONResponse:
    await check_csrf(request)
    user = require_user(request)
    text = await _json_field(request, "comment")
    new_id = post_comment(request, user, paper_id, text, comment_id)
    return _new_message(request, new_id)


async def _json_field(request: Request, name: str) -> str:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, f"The body must be JSON with {name!r}") from None
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise ApiError(400, f"{name} is required")
    return value


def _new_message(request: Request, comment_id: int) -> JSONResponse:
    with request.app.state.store.connect() as conn:
        comment = get_comment(conn, comment_id)
    return JSONResponse({"newMessage": comment_json(comment)}, status_code=201)


@pages.post("/papers/{paper_id:path}/comments")
async def form_comment(request: Request, paper_id: str) -> Response:
    form = await check_csrf(request)
    user = current_user(request)
    if user is None:
        return RedirectResponse(f"/login?next=/papers/{paper_id}", status_code=303)
    parent = str(form.get("parent_id") or "")
    new_id = post_comment(
        request,
        user,
        paper_id,
        str(form.get("body", "")),
        int(parent) if parent.isdigit() else None,
    )
    return RedirectResponse(
        f"/papers/{resolve_paper_id(paper_id)}#comment-{new_id}", status_code=303
    )


def _own_comment(request: Request, comment_id: int, user: User) -> Any:
    with request.app.state.store.connect() as conn:
        comment = get_comment(conn, comment_id)
    if comment is None or comment.deleted:
        raise ApiError(404, "That comment is gone.")
    if comment.user_id != user.id:
        raise ApiError(403, "You can only change your own comments.")
    return comment


@pages.post("/comments/{comment_id}/edit")
async def form_edit_comment(request: Request, comment_id: int) -> Response:
    form = await check_csrf(request)
    user = require_user(request)
    comment = _own_comment(request, comment_id, user)
    try:
        body = check_comment(str(form.get("body", "")))
    except InvalidComment as error:
        raise ApiError(400, str(error).capitalize()) from None
    with request.app.state.store.begin() as conn:
        edit_comment(conn, comment_id, body, render_comment(body))
    return RedirectResponse(f"/papers/{comment.arxiv_id}#comment-{comment_id}", status_code=303)


@pages.post("/comments/{comment_id}/delete")
async def form_delete_comment(request: Request, comment_id: int) -> Response:
    await check_csrf(request)
    user = require_user(request)
    comment = _own_comment(request, comment_id, user)
    with request.app.state.store.begin() as conn:
        delete_comment(conn, comment_id)
    return RedirectResponse(f"/papers/{comment.arxiv_id}#comments", status_code=303)


# --- admin -------------------------------------------------------------------------------


@pages.post("/comments/{comment_id}/hide")
async def form_hide_comment(request: Request, comment_id: int) -> Response:
    form = await check_csrf(request)
    require_admin(request)
    with request.app.state.store.begin() as conn:
        comment = get_comment(conn, comment_id)
        if comment is None:
            raise ApiError(404, "That comment is gone.")
        hide_comment(conn, comment_id, form.get("action", "hide") != "show")
    return RedirectResponse(f"/papers/{comment.arxiv_id}#comments", status_code=303)


@pages.post("/papers/{paper_id:path}/entry")
async def form_entry_flags(request: Request, paper_id: str) -> Response:
    """Admin: feature, unfeature, remove or restore a paper's daily entry."""
    form = await check_csrf(request)
    require_admin(request)
    arxiv_id = resolve_paper_id(paper_id)
    flags = {
        "feature": {"featured": True},
        "unfeature": {"featured": False},
        "remove": {"removed": True},
        "restore": {"removed": False},
    }.get(str(form.get("action")))
    if flags is None:
        raise ApiError(400, "action must be feature, unfeature, remove or restore")
    with request.app.state.store.begin() as conn:
        if not set_entry_flags(conn, arxiv_id, **flags):
            raise ApiError(404, f"{arxiv_id} is not on the daily list.")
    flash(request, f"Daily entry {form.get('action')}d.")
    return RedirectResponse(f"/papers/{arxiv_id}", status_code=303)


@pages.post("/admin/users/{username}/disable")
async def form_disable_user(request: Request, username: str) -> Response:
    form = await check_csrf(request)
    admin = require_admin(request)
    with request.app.state.store.begin() as conn:
        target = find_user(conn, username)
        if target is None:
            raise ApiError(404, f"No account {username!r}.")
        if target.id == admin.id:
            raise ApiError(400, "You cannot disable your own account.")
        set_disabled(conn, target.id, form.get("action", "disable") != "enable")
    flash(request, f"Account {target.username} {form.get('action', 'disable')}d.")
    return _back(request, "/papers")
