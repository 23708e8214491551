"""Subscribing to the email digest, confirming, changing what it holds and leaving it.

Double opt-in: a visitor's address gets one mail, the confirmation, with a signed link that
expires after `digest_confirm_hours`; nothing else goes to it until the link is used. How
often an address can be sent that mail is limited (`rate_subscribe_email`), and the answer to
the visitor is the same whatever happened (new, already subscribed, over the limit), so the
form neither reveals who subscribes nor serves to flood an address. An account holder switches
the digest on in settings; their address needs the same confirmation once, unless it confirmed
a subscription before (accounts have no email verification of their own).

Links in mails carry signed tokens (itsdangerous, with the site's secret key and a salt per
purpose): confirm (expiring), unsubscribe and manage (lasting: a mail from last year must
still unsubscribe). The token names the subscription and its address, so a token is worth
nothing once the row is gone, even if its id is used again. Every `now` is an aware UTC time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ..config import Config
from ..domain.accounts import check_email
from ..domain.digests import (
    ACTIVE,
    FREQUENCIES,
    MAX_PAPERS_LIMIT,
    PAUSED,
    PENDING,
    UNSUBSCRIBED,
    Subscription,
    parse_negative_keywords,
)
from ..domain.errors import BadParameter, Conflict, NotFound, Unavailable
from ..domain.people import User
from ..ratelimit import Limiter, parse_rate
from ..storage import Store
from ..storage.subscriptions import (
    add_subscription,
    find_subscription,
    get_subscription,
    subscription_of_user,
    update_subscription,
)
from . import mail
from .digest_sections import SECTIONS, sections_for
from .keys import load_secret_key

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
MANAGE = "manage"
_SALTS = {purpose: f"dailypapers.digest.{purpose}" for purpose in (CONFIRM, UNSUBSCRIBE, MANAGE)}
# Where each signed link leads on the site (web/digests.py serves these paths).
LINK_PATHS = {
    CONFIRM: "/digest/confirm/",
    UNSUBSCRIBE: "/digest/unsubscribe/",
    MANAGE: "/digest/manage/",
}


def stored_time(now: datetime) -> datetime:
    """Naive UTC, as the database keeps times (storage/schema.py)."""
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


# --- tokens ---------------------------------------------------------------------------------


class _ClockSigner(TimestampSigner):
    """itsdangerous's timestamped signer on the caller's clock instead of time.time(), so a
    token's age is measured against the site's clock (and a test's)."""

    def __init__(self, *args: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now

    def get_timestamp(self) -> int:
        return int(self.now.timestamp())


def _serializer(config: Config, purpose: str, now: datetime) -> URLSafeTimedSerializer:
    key = load_secret_key(config.secret_key, config.data_dir)
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    return URLSafeTimedSerializer(
        key, salt=_SALTS[purpose], signer=_ClockSigner, signer_kwargs={"now": aware}
    )


def sign(config: Config, purpose: str, subscription: Subscription, now: datetime) -> str:
    """A token for `purpose` (confirm, unsubscribe, manage) naming `subscription`, stamped
    `now` (the same inputs give the same token)."""
    return _serializer(config, purpose, now).dumps([subscription.id, subscription.email])


def signed_link(
    config: Config, base_url: str, purpose: str, subscription: Subscription, now: datetime
) -> str:
    """The absolute URL of a signed link: `https://site/digest/unsubscribe/<token>`."""
    return f"{base_url}{LINK_PATHS[purpose]}{sign(config, purpose, subscription, now)}"


def subscription_of_token(
    store: Store, config: Config, purpose: str, token: str, now: datetime
) -> Subscription:
    """The subscription a token names. Raises BadParameter for a token that is not ours (or
    a confirmation older than `digest_confirm_hours` at `now`) and NotFound when the
    subscription it names is gone."""
    serializer = _serializer(config, purpose, now)
    try:
        if purpose == CONFIRM:
            payload = serializer.loads(token, max_age=config.digest_confirm_hours * 3600)
        else:
            payload = serializer.loads(token)
    except SignatureExpired:
        raise BadParameter(
            "This confirmation link has expired; subscribe again to get a new one."
        ) from None
    except BadSignature:
        raise BadParameter("This link is not valid (it may have been cut short).") from None
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        raise BadParameter("This link is not valid.")
    with store.connect() as conn:
        found = get_subscription(conn, payload[0])
    if found is None or found.email != payload[1]:
        raise NotFound("This subscription no longer exists.")
    return found


# --- the confirmation mail ------------------------------------------------------------------


def _address_key(email: str) -> str:
    # The limiter's key: a hash, so the rate_windows table lists no addresses.
    return "subscribe-mail:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def send_confirmation(
    store: Store,
    config: Config,
    subscription: Subscription,
    base_url: str,
    now: datetime,
    limiter: Limiter,
) -> bool:
    """Mail the confirmation link unless the address had its `rate_subscribe_email` of them;
    returns whether it went. Raises Unavailable when the mail server refused or was not
    reachable (the visitor may try again)."""
    if limiter.hit(_address_key(subscription.email), parse_rate(config.rate_subscribe_email)):
        return False
    subject = f"Confirm your subscription to {config.site_name}"
    context = {
        "site_name": config.site_name,
        "subject": subject,
        "email": subscription.email,
        "frequency": subscription.frequency,
        "confirm_url": signed_link(config, base_url, CONFIRM, subscription, now),
        "hours": config.digest_confirm_hours,
    }
    html, text = mail.render_mail("confirm", **context)
    stamp = int(stored_time(now).timestamp())
    message = mail.build_message(
        config,
        to=subscription.email,
        subject=subject,
        html=html,
        text=text,
        message_id=f"<confirm.{subscription.id}.{stamp}@{mail.message_domain(config)}>",
        date=now,
    )
    try:
        with mail.Outbox(config) as outbox:
            outbox.send(message, subscription.email, lambda: True)
    except mail.MailError as error:
        raise Unavailable(f"The confirmation mail could not be sent ({error}).") from None
    with store.begin(counted=False) as conn:
        update_subscription(
            conn, subscription.id, stored_time(now), confirm_sent_at=stored_time(now)
        )
    return True


def _require_mail(config: Config) -> None:
    if not mail.mail_enabled(config):
        raise Unavailable("This site does not send mail (no smtp_host and smtp_from set).")


def _checked_address(email: str) -> str:
    """The address lower-cased, if it is one and SMTP can carry it; else BadParameter."""
    try:
        return mail.check_address(check_email(email).lower())
    except ValueError as error:  # InvalidAccount is a ValueError too
        reason = str(error)
        raise BadParameter(reason[:1].upper() + reason[1:].rstrip(".") + ".") from None


def _frequency(value: str) -> str:
    if value not in FREQUENCIES:
        raise BadParameter("Choose a daily or a weekly digest.")
    return value


# --- visitors -------------------------------------------------------------------------------


def subscribe(
    store: Store,
    config: Config,
    email: str,
    frequency: str,
    base_url: str,
    now: datetime,
    limiter: Limiter,
) -> None:
    """A visitor asks for the digest at `email`. A new or lapsed address becomes pending and
    is sent the confirmation (within its limit); an active one is left alone and sent nothing.
    The caller answers the same in every case. Raises BadParameter for an address or a
    frequency that cannot be used, Unavailable when mail cannot be sent."""
    _require_mail(config)
    address = _checked_address(email)
    frequency = _frequency(frequency)
    moment = stored_time(now)
    with store.begin(counted=False) as conn:
        found = find_subscription(conn, address)
        if found is None:
            try:
                found = add_subscription(
                    conn,
                    address,
                    user_id=None,
                    status=PENDING,
                    frequency=frequency,
                    sections=[s.key for s in sections_for(False)],
                    max_papers=config.digest_max_papers,
                    now=moment,
                )
            except Conflict:  # another request added it meanwhile (PostgreSQL)
                found = find_subscription(conn, address)
                assert found is not None
        elif found.status == ACTIVE:
            return
        else:
            update_subscription(conn, found.id, moment, status=PENDING, frequency=frequency)
            found.status, found.frequency = PENDING, frequency
    send_confirmation(store, config, found, base_url, now, limiter)


def confirm(store: Store, config: Config, token: str, now: datetime) -> Subscription:
    """Follow a confirmation link: a pending subscription becomes active. Using the link again
    changes nothing; a subscription ended since then is not started again by an old link."""
    found = subscription_of_token(store, config, CONFIRM, token, now)
    if found.status == ACTIVE:
        return found
    if found.status != PENDING:
        raise BadParameter("This subscription was ended after the link was sent; subscribe again.")
    moment = stored_time(now)
    with store.begin(counted=False) as conn:
        update_subscription(
            conn,
            found.id,
            moment,
            status=ACTIVE,
            confirmed_at=moment,
            failures=0,
            pause_reason=None,
        )
        confirmed = get_subscription(conn, found.id)
    assert confirmed is not None
    return confirmed


def unsubscribe(store: Store, config: Config, token: str, now: datetime) -> Subscription:
    """End the subscription a signed unsubscribe (or manage) token names; no login needed, the
    token is the authority. Doing it twice changes nothing."""
    try:
        found = subscription_of_token(store, config, UNSUBSCRIBE, token, now)
    except BadParameter:
        found = subscription_of_token(store, config, MANAGE, token, now)
    if found.status == UNSUBSCRIBED:
        return found
    moment = stored_time(now)
    with store.begin(counted=False) as conn:
        update_subscription(conn, found.id, moment, status=UNSUBSCRIBED, unsubscribed_at=moment)
        ended = get_subscription(conn, found.id)
    assert ended is not None
    return ended


# --- what a subscription holds ----------------------------------------------------------------


@dataclass(frozen=True)
class DigestSettings:
    frequency: str
    sections: list[str]
    max_papers: int
    negative_keywords: list[str]


def parse_settings(
    has_account: bool, frequency: str, sections: list[str], max_papers: str, keywords: str
) -> DigestSettings:
    """The settings form's fields, checked. Raises BadParameter naming the field."""
    allowed = {s.key for s in sections_for(has_account)}
    unknown = [key for key in sections if key not in allowed]
    if unknown:
        raise BadParameter(f"There is no section {unknown[0]!r} to choose.")
    if not sections:
        raise BadParameter("Choose at least one section.")
    try:
        maximum = int(max_papers)
    except ValueError:
        raise BadParameter("The maximum number of papers must be a whole number.") from None
    if not 1 <= maximum <= MAX_PAPERS_LIMIT:
        raise BadParameter(f"The maximum number of papers must be from 1 to {MAX_PAPERS_LIMIT}.")
    ordered = [key for key in SECTIONS if key in sections]
    return DigestSettings(
        _frequency(frequency), ordered, maximum, parse_negative_keywords(keywords)
    )


def change_settings(
    store: Store, subscription: Subscription, settings: DigestSettings, now: datetime
) -> Subscription:
    moment = stored_time(now)
    with store.begin(counted=False) as conn:
        update_subscription(
            conn,
            subscription.id,
            moment,
            frequency=settings.frequency,
            sections=settings.sections,
            max_papers=settings.max_papers,
            negative_keywords=settings.negative_keywords,
        )
        changed = get_subscription(conn, subscription.id)
    assert changed is not None
    return changed


# --- account holders ------------------------------------------------------------------------


def subscription_of(store: Store, user: User) -> Subscription | None:
    with store.connect() as conn:
        return subscription_of_user(conn, user.id)


def subscription_by_email(store: Store, email: str) -> Subscription:
    """The subscription of `email`; NotFound when it has none."""
    with store.connect() as conn:
        found = find_subscription(conn, email)
    if found is None:
        raise NotFound(f"{email or 'That address'} has no subscription.")
    return found


def switch_on(
    store: Store,
    config: Config,
    user: User,
    frequency: str,
    base_url: str,
    now: datetime,
    limiter: Limiter,
) -> tuple[Subscription, bool]:
    """An account holder switches the digest on (again). Their address goes straight to
    active when it confirmed a subscription before, else it is sent the confirmation (the
    second value says whether one was needed). A paused subscription starts again with its
    failure count at 0. An address that subscribed without an account joins the account."""
    _require_mail(config)
    address = _checked_address(user.email)
    frequency = _frequency(frequency)
    moment = stored_time(now)
    with store.begin(counted=False) as conn:
        found = subscription_of_user(conn, user.id)
        if found is not None and found.email != address:
            # The account's address changed since: the old confirmation says nothing of it.
            update_subscription(conn, found.id, moment, email=address, confirmed_at=None)
            found.email, found.confirmed_at = address, None
        if found is None:
            found = find_subscription(conn, address)
            if found is not None:
                if found.user_id is not None and found.user_id != user.id:
                    raise Conflict("Another account already receives the digest at this address.")
                update_subscription(conn, found.id, moment, user_id=user.id)
        if found is None:
            found = add_subscription(
                conn,
                address,
                user_id=user.id,
                status=PENDING,
                frequency=frequency,
                sections=[s.key for s in sections_for(True)],
                max_papers=config.digest_max_papers,
                now=moment,
            )
        status = ACTIVE if found.confirmed_at is not None else PENDING
        update_subscription(
            conn,
            found.id,
            moment,
            status=status,
            frequency=frequency,
            failures=0,
            pause_reason=None,
        )
        current = get_subscription(conn, found.id)
    assert current is not None
    if status == PENDING:
        send_confirmation(store, config, current, base_url, now, limiter)
        return current, True
    return current, False


def switch_off(store: Store, user: User, now: datetime) -> Subscription | None:
    """An account holder switches the digest off; None when they had none."""
    moment = stored_time(now)
    with store.begin(counted=False) as conn:
        found = subscription_of_user(conn, user.id)
        if found is None:
            return None
        if found.status != UNSUBSCRIBED:
            update_subscription(conn, found.id, moment, status=UNSUBSCRIBED, unsubscribed_at=moment)
        return get_subscription(conn, found.id)


def resume(store: Store, subscription: Subscription, now: datetime) -> Subscription:
    """Start a paused subscription again (from the manage page of its mails)."""
    if subscription.status != PAUSED:
        return subscription
    with store.begin(counted=False) as conn:
        update_subscription(
            conn, subscription.id, stored_time(now), status=ACTIVE, failures=0, pause_reason=None
        )
        resumed = get_subscription(conn, subscription.id)
    assert resumed is not None
    return resumed
