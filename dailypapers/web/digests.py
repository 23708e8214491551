"""The digest's pages: subscribing from the header, the links of its mails (confirm,
unsubscribe, manage), an account's digest settings with a preview of the next digest, and the
admins' view of deliveries. The rules are services/subscriptions.py's and services/digests.py's.

The links in mails are GET pages with a button, never actions: mail scanners open links, and
must not confirm or end a subscription by doing so. The buttons POST back to the same signed
URL. Unsubscribing takes no CSRF token, since RFC 8058's one-click POST comes from the mail
provider, not a browser session: the signed token is the authority. The header form posts
without a token when the page came from the anonymous cache; then the subscribe page asks
once more, with a token, and nothing is sent before that.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..domain.digests import PAUSED, Subscription, status_line
from ..domain.errors import BadParameter, Refused
from ..services import digests, subscriptions
from ..services.digest_sections import sections_for
from ..services.mail import mail_enabled
from . import urls
from .auth import (
    FormDep,
    check_csrf,
    csrf_token,
    current_user,
    flash,
    limit,
    require_admin,
    require_user,
)
from .errors import status_of
from .site import Site, SiteDep

router = APIRouter(include_in_schema=False)

# The mail's HTML in an iframe of the preview page: its own inline styles, nothing else, no
# scripts (sandbox), framed by this site only.
MAIL_PREVIEW_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src data:; sandbox; frame-ancestors 'self'",
    "x-frame-options": "SAMEORIGIN",
}


def _page(
    request: Request, site: Site, template: str, status: int = 200, **context: Any
) -> Response:
    csrf_token(request)
    context.setdefault("error", None)
    return site.templates.TemplateResponse(request, template, context, status_code=status)


# --- subscribing from the header -------------------------------------------------------------


@router.get("/subscribe")
def subscribe_form(request: Request, site: SiteDep) -> Response:
    return _page(request, site, "subscribe.html", values={"frequency": "daily"})


@router.post("/subscribe")
async def subscribe(request: Request, site: SiteDep) -> Response:
    form = dict(await request.form())
    values = {
        "email": str(form.get("email", "")).strip()[:254],
        "frequency": str(form.get("frequency", "daily")),
    }
    sent = str(form.get("csrf_token", ""))
    expected = str(request.session.get("csrf", ""))
    if not expected or not hmac.compare_digest(sent, expected):
        # The header form of a cached page carries no token: ask once more, sending nothing.
        return _page(request, site, "subscribe.html", values=values, again=True)
    return await run_in_threadpool(_subscribe, request, site, values)


def _subscribe(request: Request, site: Site, values: dict[str, str]) -> Response:
    try:
        limit(request, "subscribe")
        subscriptions.subscribe(
            site.store,
            site.config,
            values["email"],
            values["frequency"],
            site.base_url(request),
            site.clock(),
            site.limiter,
        )
    except Refused as error:
        return _page(
            request, site, "subscribe.html", status_of(error), values=values, error=str(error)
        )
    # The same words whatever happened, so the form tells no one who subscribes.
    flash(
        request,
        f"Check your inbox: if {values['email']} can receive mail, a confirmation link is on its "
        "way. Nothing else is sent until you open it.",
    )
    return RedirectResponse(urls.SUBSCRIBE, status_code=303)


# --- the links in mails ----------------------------------------------------------------------


@router.get("/digest/confirm/{token}")
def confirm_page(request: Request, site: SiteDep, token: str) -> Response:
    found = subscriptions.subscription_of_token(
        site.store, site.config, subscriptions.CONFIRM, token, site.clock()
    )
    return _page(request, site, "digest_link.html", action="confirm", token=token, sub=found)


@router.post("/digest/confirm/{token}")
def confirm(request: Request, site: SiteDep, token: str, _form: FormDep) -> Response:
    found = subscriptions.confirm(site.store, site.config, token, site.clock())
    token = subscriptions.sign(site.config, subscriptions.MANAGE, found, site.clock())
    manage = urls.digest_link(subscriptions.MANAGE, token)
    return _page(request, site, "digest_link.html", action="confirmed", sub=found, manage=manage)


@router.get("/digest/unsubscribe/{token}")
def unsubscribe_page(request: Request, site: SiteDep, token: str) -> Response:
    found = subscriptions.subscription_of_token(
        site.store, site.config, subscriptions.UNSUBSCRIBE, token, site.clock()
    )
    return _page(request, site, "digest_link.html", action="unsubscribe", token=token, sub=found)


@router.post("/digest/unsubscribe/{token}")
def unsubscribe(request: Request, site: SiteDep, token: str) -> Response:
    """The page's button and RFC 8058's one-click POST (`List-Unsubscribe=One-Click`) alike."""
    found = subscriptions.unsubscribe(site.store, site.config, token, site.clock())
    return _page(request, site, "digest_link.html", action="unsubscribed", sub=found)


async def _settings_form(request: Request) -> dict[str, Any]:
    """A settings form's CSRF-checked fields, with the ticked sections as one list (the plain
    form dependency keeps one value per name)."""
    form = await check_csrf(request)
    form["_sections"] = [str(v) for v in (await request.form()).getlist("sections")]
    return form


SettingsFormDep = Annotated[dict[str, Any], Depends(_settings_form)]


def _status(site: Site, sub: Subscription) -> list[tuple[str, str]]:
    """(period, what became of it) for the subscription's latest digests, newest first."""
    return [(d.period, status_line(d)) for d in digests.recent_digests(site.store, sub)]


@router.get("/digest/manage/{token}")
def manage_page(request: Request, site: SiteDep, token: str) -> Response:
    found = subscriptions.subscription_of_token(
        site.store, site.config, subscriptions.MANAGE, token, site.clock()
    )
    return _manage(request, site, token, found)


def _manage(
    request: Request, site: Site, token: str, sub: Subscription, status: int = 200, **extra: Any
) -> Response:
    return _page(
        request,
        site,
        "digest_manage.html",
        status,
        token=token,
        sub=sub,
        sections=sections_for(sub.user_id is not None),
        history=_status(site, sub),
        **extra,
    )


@router.post("/digest/manage/{token}")
def manage(request: Request, site: SiteDep, token: str, form: SettingsFormDep) -> Response:
    found = subscriptions.subscription_of_token(
        site.store, site.config, subscriptions.MANAGE, token, site.clock()
    )
    if form.get("action") == "resume":
        subscriptions.resume(site.store, found, site.clock())
        flash(request, "Your digest is on again.")
    else:
        try:
            settings = _settings(form, found.user_id is not None)
        except BadParameter as error:
            return _manage(request, site, token, found, 400, error=str(error))
        subscriptions.change_settings(site.store, found, settings, site.clock())
        flash(request, "Saved.")
    return RedirectResponse(urls.digest_link(subscriptions.MANAGE, token), status_code=303)


def _settings(form: dict[str, Any], has_account: bool) -> subscriptions.DigestSettings:
    sections = form.get("_sections", [])
    return subscriptions.parse_settings(
        has_account,
        str(form.get("frequency", "")),
        list(sections),
        str(form.get("max_papers", "")),
        str(form.get("negative_keywords", "")),
    )


# --- an account's settings and preview --------------------------------------------------------


@router.get("/settings/digest")
def settings_page(request: Request, site: SiteDep) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(urls.login(urls.DIGEST_SETTINGS), status_code=303)
    return _settings_page(request, site)


def _settings_page(request: Request, site: Site, status: int = 200, **extra: Any) -> Response:
    user = require_user(request)
    found = subscriptions.subscription_of(site.store, user)
    return _page(
        request,
        site,
        "digest_settings.html",
        status,
        sub=found,
        paused=found is not None and found.status == PAUSED,
        sections=sections_for(True),
        history=_status(site, found) if found else [],
        mail_on=mail_enabled(site.config),
        **extra,
    )


@router.post("/settings/digest")
def change_digest(request: Request, site: SiteDep, form: SettingsFormDep) -> Response:
    user = require_user(request)
    action = form.get("action", "save")
    now = site.clock()
    try:
        if action == "on":
            limit(request, "subscribe", user)
            _, confirming = subscriptions.switch_on(
                site.store,
                site.config,
                user,
                str(form.get("frequency", "daily")),
                site.base_url(request),
                now,
                site.limiter,
            )
            flash(
                request,
                f"Almost there: open the link we sent to {user.email} to start the digest."
                if confirming
                else "Your digest is on.",
            )
        elif action == "off":
            subscriptions.switch_off(site.store, user, now)
            flash(request, "Your digest is off.")
        else:
            found = subscriptions.subscription_of(site.store, user)
            if found is None:
                raise BadParameter("Switch the digest on first.")
            subscriptions.change_settings(site.store, found, _settings(form, True), now)
            flash(request, "Saved.")
    except Refused as error:
        return _settings_page(request, site, status_of(error), error=str(error))
    return RedirectResponse(urls.DIGEST_SETTINGS, status_code=303)


def _own_preview(request: Request, site: Site) -> digests.Preview:
    user = require_user(request)
    found = subscriptions.subscription_of(site.store, user)
    if found is None:
        raise BadParameter("You have no digest yet: switch it on first.")
    return digests.preview_digest(
        site.store, site.config, found, site.base_url(request), site.clock()
    )


@router.get("/settings/digest/preview")
def own_preview(request: Request, site: SiteDep) -> Response:
    preview = _own_preview(request, site)
    return _page(
        request, site, "digest_preview.html", preview=preview, frame=urls.DIGEST_PREVIEW_MAIL
    )


@router.get("/settings/digest/preview/mail")
def own_preview_mail(request: Request, site: SiteDep) -> Response:
    return HTMLResponse(_own_preview(request, site).rendered.html, headers=MAIL_PREVIEW_HEADERS)


# --- admins ------------------------------------------------------------------------------------


@router.get("/admin/digests")
def admin_page(request: Request, site: SiteDep) -> Response:
    require_admin(request)
    status = digests.digest_status(site.store)
    troubled = [(d, email, status_line(d)) for d, email in status.troubled]
    return _page(request, site, "digest_admin.html", counts=status, troubled=troubled)


def _admin_preview(request: Request, site: Site) -> digests.Preview:
    require_admin(request)
    email = request.query_params.get("email", "")
    found = subscriptions.subscription_by_email(site.store, email)
    return digests.preview_digest(
        site.store, site.config, found, site.base_url(request), site.clock()
    )


@router.get("/admin/digests/preview")
def admin_preview(request: Request, site: SiteDep) -> Response:
    preview = _admin_preview(request, site)
    frame = urls.admin_digest_preview(preview.subscription.email, mail=True)
    return _page(request, site, "digest_preview.html", preview=preview, frame=frame)


@router.get("/admin/digests/preview/mail")
def admin_preview_mail(request: Request, site: SiteDep) -> Response:
    return HTMLResponse(_admin_preview(request, site).rendered.html, headers=MAIL_PREVIEW_HEADERS)
