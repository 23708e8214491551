"""Sessions, CSRF, rate limits and the account pages (sign up, log in, log out, password).

The browser holds a signed, HttpOnly, SameSite=Lax cookie (Starlette's SessionMiddleware,
itsdangerous) with the CSRF token, flash messages and, once logged in, the id of a session
the server keeps (services/sessions.py): logging out deletes that session, so a copy of the
cookie is anonymous from then on. The signed cookie stays for what anonymous visitors need
too (the login form's CSRF token, a flash after signing up) without a row per visitor.
Every state-changing request must carry the session's CSRF token, as the form field
`csrf_token` or the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..domain.accounts import EmailTaken, InvalidAccount
from ..domain.errors import BadParameter, Conflict, Forbidden, LoginRequired, TooMany
from ..domain.people import User
from ..ratelimit import parse_rate
from ..services import accounts, sessions
from ..services.keys import load_secret_key as load_secret_key  # create_app's import
from ..services.limits import Budget
from ..services.profiles import profile_settings
from . import urls
from .site import Site, site_of

router = APIRouter(include_in_schema=False)


def current_user(request: Request) -> User | None:
    """The logged-in user: the enabled account of the cookie's live session, else None (and
    a cookie naming a session that ended is emptied)."""
    if hasattr(request.state, "user"):
        known: User | None = request.state.user
        return known
    user = None
    session = request.session
    if "sid" in session:
        site = site_of(request)
        user = sessions.resume_session(site.store, str(session["sid"]), site.clock())
        if user is None:
            session.clear()
    request.state.user = user
    return user


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise LoginRequired("Log in first.")
    return user


def require_admin(request: Request) -> User:
    user = require_user(request)
    if not user.is_admin:
        raise Forbidden("Only admins can do that.")
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> dict[str, Any]:
    """Compare the request's CSRF token with the session's; returns the form fields."""
    form: dict[str, Any] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = dict(await request.form())
    sent = request.headers.get("x-csrf-token") or form.get("csrf_token") or ""
    expected = request.session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise Forbidden("The form expired or came from another site; reload and try again.")
    return form


async def csrf_form(request: Request) -> dict[str, Any]:
    """Dependency of a form post: its CSRF-checked fields. The body is read here, on the event
    loop; the handler itself is a plain function that runs in the thread pool, so hashing a
    password, rendering Markdown or fetching from arXiv never stalls other requests."""
    return await check_csrf(request)


async def csrf_body(request: Request) -> bytes:
    """Dependency of a JSON action: the raw body, after the CSRF check (header or form field).
    The body is read first: a form-encoded body is then parsed from that copy (reading the
    stream twice would fail)."""
    body = await request.body()
    await check_csrf(request)
    return body


FormDep = Annotated[dict[str, Any], Depends(csrf_form)]
BodyDep = Annotated[bytes, Depends(csrf_body)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit(request: Request, action: str, user: User | None = None) -> None:
    """Count one `action` for the address (and the account); 429 when over the setting."""
    site = site_of(request)
    rate = parse_rate(getattr(site.config, f"rate_{action}"))
    if rate is None:  # the setting is off
        return
    wait = site.limiter.hit_all(_limit_keys(request, action, user), rate)
    if wait is not None:
        raise TooMany(f"Too many attempts ({rate}); try again in {int(wait) + 1} s.")


def budget(request: Request, action: str, user: User) -> Budget | None:
    """`limit` for a write the service makes: counted inside that write's transaction
    (services/limits.py `charge`), one commit for both; None when the setting is off. A write
    that fails (an unknown paper) rolls its count back with it."""
    site = site_of(request)
    rate = parse_rate(getattr(site.config, f"rate_{action}"))
    if rate is None:
        return None
    return Budget(site.limiter, _limit_keys(request, action, user), rate)


def _limit_keys(request: Request, action: str, user: User | None) -> list[str]:
    keys = [f"{action}:ip:{client_address(request)}"]
    if user is not None:
        keys.append(f"{action}:user:{user.id}")
    return keys


def search_budget(request: Request) -> None:
    """A dependency counting one search for the address (`rate_search`), for JSON routes whose
    own `limit` parameter hides the function above (Hugging Face's name): /api/papers/search
    and /api/papers/{id}/similar. A plain function, so its database write runs in the pool."""
    limit(request, "search")


SearchBudget = Annotated[None, Depends(search_budget)]


def flash(request: Request, message: str) -> None:
    request.session.setdefault("flash", []).append(message)


def start_session(request: Request, user: User) -> None:
    """Log `user` in: a new server session, and a new cookie (a new CSRF token too), so an
    id or token planted before the login is worth nothing after it."""
    site = site_of(request)
    request.session.clear()
    request.session["sid"] = sessions.start_session(site.store, user, site.clock())
    request.state.user = user
    csrf_token(request)


def _form_page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("error", None)
    context.setdefault("values", {})
    return site_of(request).templates.TemplateResponse(
        request, template, context, status_code=status
    )


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect to another host after logging in.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return urls.HOME


@router.get("/signup")
def signup_form(request: Request) -> Response:
    csrf_token(request)
    return _form_page(request, "signup.html")


@router.post("/signup")
def signup(request: Request, form: FormDep) -> Response:
    limit(request, "signup")
    username = str(form.get("username", "")).strip()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    values = {"username": username, "email": email}
    try:
        accounts.register(site_of(request).store, username, email, password)
    except EmailTaken:
        pass  # answered like a signup that worked: see below
    except (InvalidAccount, Conflict) as error:  # the rules, or a taken (public) username
        return _form_page(request, "signup.html", 400, error=str(error).capitalize(), values=values)
    # The same answer whether the email was free (an account was made) or already had an
    # account (nothing was made), so the form does not tell a stranger whose email has an
    # account; hence no automatic login either, which would tell. Until the site sends mail,
    # the message says both cases.
    flash(
        request,
        f"Thanks, {username}: log in to continue. If that email already had an account, "
        "no new one was made: log in with that one.",
    )
    return RedirectResponse(urls.LOGIN, status_code=303)


@router.get("/login")
def login_form(request: Request) -> Response:
    csrf_token(request)
    return _form_page(request, "login.html", values={"next": request.query_params.get("next")})


def _over_budget(site: Site, login_name: str) -> bool:
    """Whether this attempt is past its account's budget (the attempt is counted)."""
    key = f"login:{accounts.budget_key(site.store, login_name)}"
    return site.limiter.hit(key, parse_rate(site.config.rate_login)) is not None


@router.post("/login")
async def login(request: Request, form: FormDep) -> Response:
    """The per-address budget answers 429. The per-account budget only slows: over it, an
    attempt waits `login_delay_seconds` and then goes on, so a stranger typing wrong passwords
    for someone's name cannot lock the owner out. The wait is on the event loop and the
    database and argon2 work in the thread pool: slowed logins hold no worker thread."""
    login_name = str(form.get("login", "")).strip()[:254]
    site = site_of(request)
    await run_in_threadpool(limit, request, "login")
    if await run_in_threadpool(_over_budget, site, login_name):
        await site.sleep(site.config.login_delay_seconds)
    password = str(form.get("password", ""))
    user = await run_in_threadpool(accounts.authenticate, site.store, login_name, password)
    if user is None:
        # One message whatever went wrong, so the form does not reveal who has an account.
        # (Rendered in the pool too: the page reads the session's user from the database.)
        return await run_in_threadpool(
            _form_page,
            request,
            "login.html",
            400,
            error="Wrong username or password.",
            values={"login": login_name, "next": form.get("next")},
        )
    await run_in_threadpool(start_session, request, user)
    return RedirectResponse(_safe_next(str(form.get("next") or "")), status_code=303)


@router.post("/logout")
def logout(request: Request, _form: FormDep) -> Response:
    if "sid" in request.session:
        sessions.end_session(site_of(request).store, str(request.session["sid"]))
    request.session.clear()
    return RedirectResponse(urls.HOME, status_code=303)


@router.post("/logout/everywhere")
def logout_everywhere(request: Request, _form: FormDep) -> Response:
    """End every session of the account, this one included (a lost laptop, a shared
    computer)."""
    user = require_user(request)
    count = sessions.end_all_sessions(site_of(request).store, user.id)
    request.session.clear()
    flash(request, f"Logged out everywhere ({count} session{'s' if count != 1 else ''}).")
    return RedirectResponse(urls.HOME, status_code=303)


@router.get("/settings/password")
def password_form(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse(urls.login(urls.ACCOUNT_SETTINGS), status_code=303)
    return _settings_page(request)


def _settings_page(request: Request, status: int = 200, **context: Any) -> Response:
    user = require_user(request)
    shown = profile_settings(site_of(request).store, user)
    return _form_page(request, "password.html", status, show_upvotes=shown, **context)


@router.post("/settings/password")
def change_password(request: Request, form: FormDep) -> Response:
    user = require_user(request)
    limit(request, "login", user)
    try:
        refreshed = accounts.change_password(
            site_of(request).store, user, str(form.get("current", "")), str(form.get("new", ""))
        )
    except BadParameter as error:  # a wrong current password, or a new one breaking a rule
        return _settings_page(request, 400, error=str(error).capitalize())
    start_session(request, refreshed)  # every session ended: this browser gets a new one
    flash(request, "Password changed. Other sessions are logged out.")
    return RedirectResponse(urls.HOME, status_code=303)
