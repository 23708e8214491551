"""Organisations on the site: `/orgs/{name}` lists the papers that carry one, and an admin sets a
paper's organisation from its page. services/organizations.py does the work."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..services.organizations import change_organization, organization_page
from . import params, urls
from .auth import FormDep, flash, require_admin
from .site import SiteDep

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/orgs/{name:path}")
def organization_html(request: Request, site: SiteDep, name: str) -> Response:
    page = organization_page(site.store, name, params.page_number(request), PAGE_SIZE)
    return site.templates.TemplateResponse(request, "organization.html", {"org": page})


@router.post("/papers/{paper_id:path}/organization")
def organization_form(request: Request, site: SiteDep, paper_id: str, form: FormDep) -> Response:
    require_admin(request)
    arxiv_id = params.paper_id(paper_id)
    name = change_organization(site.store, arxiv_id, str(form.get("organization", "")))
    flash(request, f"Organisation set to {name}." if name else "Organisation cleared.")
    return RedirectResponse(urls.paper(arxiv_id), status_code=303)
