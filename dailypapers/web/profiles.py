"""Profiles: `/u/{username}` (services/profiles.py builds it) and the account's choice of what
it shows, set from the account settings page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..services.profiles import profile, set_profile_settings
from . import urls
from .auth import FormDep, flash, require_user
from .site import SiteDep

router = APIRouter(include_in_schema=False)


@router.get("/u/{username:path}")
def profile_page(request: Request, site: SiteDep, username: str) -> Response:
    person = profile(site.store, username)
    return site.templates.TemplateResponse(request, "profile.html", {"person": person})


@router.post(urls.PROFILE_SETTINGS)
def save_profile_settings(site: SiteDep, request: Request, form: FormDep) -> Response:
    user = require_user(request)
    show = form.get("show_upvotes") == "on"
    set_profile_settings(site.store, user, show_upvotes=show)
    flash(request, "Your profile shows your upvotes." if show else "Your upvotes are private.")
    return RedirectResponse(urls.ACCOUNT_SETTINGS, status_code=303)
