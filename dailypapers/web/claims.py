"""Claimed authorship on the site: the paper page's "This is me" form (and the confirmations of
a claimant's other papers, the same form), the claimant's page of claims and offers, and the
admin page that approves or rejects. services/claims.py does the work."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..domain.errors import BadParameter, Conflict
from ..services import claims
from . import params, urls
from .auth import FormDep, flash, limit, require_admin, require_user
from .site import SiteDep

router = APIRouter(include_in_schema=False)


@router.post("/papers/{paper_id:path}/claims")
def claim_form(request: Request, site: SiteDep, paper_id: str, form: FormDep) -> Response:
    user = require_user(request)
    limit(request, "follow", user)
    arxiv_id = params.paper_id(paper_id)
    back = str(form.get("next") or "")
    target = back if back == urls.MY_CLAIMS else urls.paper(arxiv_id)
    try:
        made = claims.claim(site.store, user, arxiv_id, form.get("position", ""))
    except (BadParameter, Conflict) as error:
        flash(request, f"Not claimed: {error}.")
        return RedirectResponse(target, status_code=303)
    if made.status == "approved":
        flash(request, f"Confirmed: {made.name} on {made.arxiv_id} now links to your profile.")
    else:
        flash(request, f"Claim sent: an admin will check that you are {made.name}.")
    return RedirectResponse(target, status_code=303)


@router.get(urls.MY_CLAIMS)
def my_claims_page(request: Request, site: SiteDep) -> Response:
    user = require_user(request)
    context = {
        "claims": claims.my_claims(site.store, user),
        "offers": claims.offers(site.store, user),
    }
    return site.templates.TemplateResponse(request, "claims.html", context)


@router.get(urls.ADMIN_CLAIMS)
def admin_claims_page(request: Request, site: SiteDep) -> Response:
    require_admin(request)
    context = {
        "pending": claims.pending(site.store),
        "approved": claims.all_claims(site.store, "approved"),
    }
    return site.templates.TemplateResponse(request, "claims_admin.html", context)


@router.post("/admin/claims/{claim_id}")
def admin_decide(request: Request, site: SiteDep, claim_id: str, form: FormDep) -> Response:
    admin = require_admin(request)
    number = params.optional_id(claim_id)
    if number is None:
        raise BadParameter(f"no claim {claim_id[:20]!r}")
    action = form.get("action")
    if action not in ("approve", "reject"):
        raise BadParameter("action must be approve or reject")
    try:
        decided = claims.decide(site.store, number, action == "approve", admin)
    except Conflict as error:
        flash(request, f"Not changed: {error}.")
    else:
        flash(
            request, f"Claim {decided.id} {decided.status}: {decided.username} as {decided.name}."
        )
    return RedirectResponse(urls.ADMIN_CLAIMS, status_code=303)
