"""The community's actions as HTML form posts, each redirecting back: upvote, submit a paper,
comment, edit or delete one's comment; and the admins' moderation. The rules live in
services/community.py; this module checks CSRF and rate limits and picks the redirect. (The
same actions for scripts and clients are JSON routes in web/api.py.)"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..domain.errors import LoginRequired, Refused
from ..services import community
from . import params, urls
from .auth import (
    FormDep,
    budget,
    csrf_token,
    current_user,
    flash,
    limit,
    require_admin,
    require_user,
)
from .errors import status_of
from .site import SiteDep

router = APIRouter(include_in_schema=False)


def _back(request: Request, fallback: str) -> RedirectResponse:
    """Back where the form was (same site only), else `fallback`."""
    target = request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    if f"//{host}/" in target:
        target = target.split(f"//{host}", 1)[1]
    elif not target.startswith("/"):
        target = fallback
    return RedirectResponse(target or fallback, status_code=303)


@router.post("/papers/{paper_id:path}/upvote")
def form_upvote(request: Request, site: SiteDep, paper_id: str, form: FormDep) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.paper(paper_id)), status_code=303)
    arxiv_id = params.paper_id(paper_id)
    voted = form.get("action", "up") != "down"
    community.vote(site.store, user, arxiv_id, voted, budget(request, "vote", user))
    return _back(request, urls.paper(paper_id))


@router.get("/submit")
def submit_form(request: Request, site: SiteDep) -> Response:
    if current_user(request) is None:
        return RedirectResponse(urls.login(urls.SUBMIT), status_code=303)
    csrf_token(request)
    return site.templates.TemplateResponse(request, "submit.html", {"error": None})


@router.post("/submit")
def form_submit(request: Request, site: SiteDep, form: FormDep) -> Response:
    user = require_user(request)
    raw = str(form.get("paper", ""))
    try:
        limit(request, "submit", user)
        arxiv_id, created = community.submit(
            site.store, site.config, user, raw, site.today(), site.paper_listed
        )
    except Refused as error:
        if isinstance(error, LoginRequired):
            raise
        return site.templates.TemplateResponse(
            request,
            "submit.html",
            {"error": str(error), "value": raw},
            status_code=status_of(error),
        )
    flash(
        request,
        "Submitted: it is on today's list."
        if created
        else "That paper is already on the daily list.",
    )
    return RedirectResponse(urls.paper(arxiv_id), status_code=303)


@router.post("/papers/{paper_id:path}/comments")
def form_comment(request: Request, site: SiteDep, paper_id: str, form: FormDep) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.paper(paper_id)), status_code=303)
    arxiv_id = params.paper_id(paper_id)
    parent = str(form.get("parent_id") or "")
    comment = community.post_comment(
        site.store,
        user,
        arxiv_id,
        str(form.get("body", "")),
        params.optional_id(parent),
        budget(request, "comment", user),
    )
    return RedirectResponse(urls.comment(arxiv_id, comment.id), status_code=303)


@router.post("/comments/{comment_id}/edit")
def form_edit_comment(request: Request, site: SiteDep, comment_id: int, form: FormDep) -> Response:
    user = require_user(request)
    limit(request, "comment_edit", user)
    comment = community.edit_comment(site.store, user, comment_id, str(form.get("body", "")))
    return RedirectResponse(urls.comment(comment.arxiv_id, comment_id), status_code=303)


@router.post("/comments/{comment_id}/delete")
def form_delete_comment(
    request: Request, site: SiteDep, comment_id: int, _form: FormDep
) -> Response:
    user = require_user(request)
    limit(request, "comment_edit", user)
    comment = community.remove_comment(site.store, user, comment_id)
    return RedirectResponse(urls.comment_thread(comment.arxiv_id), status_code=303)


# --- admin -------------------------------------------------------------------------------


@router.post("/comments/{comment_id}/hide")
def form_hide_comment(request: Request, site: SiteDep, comment_id: int, form: FormDep) -> Response:
    require_admin(request)
    hidden = form.get("action", "hide") != "show"
    comment = community.set_comment_hidden(site.store, comment_id, hidden)
    return RedirectResponse(urls.comment_thread(comment.arxiv_id), status_code=303)


@router.post("/papers/{paper_id:path}/entry")
def form_entry_flags(request: Request, site: SiteDep, paper_id: str, form: FormDep) -> Response:
    """Admin: feature, unfeature, remove or restore a paper's daily entry."""
    require_admin(request)
    arxiv_id = params.paper_id(paper_id)
    action = str(form.get("action"))
    community.flag_entry(site.store, arxiv_id, action)
    flash(request, f"Daily entry {action}d.")
    return RedirectResponse(urls.paper(arxiv_id), status_code=303)


@router.post("/admin/users/{username}/disable")
def form_disable_user(request: Request, site: SiteDep, username: str, form: FormDep) -> Response:
    admin = require_admin(request)
    action = form.get("action", "disable")
    target = community.set_account_disabled(site.store, admin, username, action != "enable")
    flash(request, f"Account {target.username} {action}d.")
    return _back(request, urls.HOME)
