"""Sending the email digests: one run queues the digest of every active subscription for the
day's period, then takes digests one at a time, composes and freezes each, and sends it.

Crash safety, step by step (storage/digests.py keeps the rows):
1. A digest row per (subscription, period), inserted once: a second run, or a run every five
   minutes from cron, inserts nothing new, so each digest is sent once.
2. A run takes a digest under a lease (`digest_lease_seconds`); a run that dies leaves it to
   be taken over when the lease ends.
3. Its papers are chosen and frozen, and recorded as shown, in one transaction with the state
   `ready` and its deterministic Message-ID; a retry sends the same papers.
4. Before DATA the state becomes `data`, committed; only the server's 250 makes it `sent`.
   A digest found in `data` by a later run was being received when its run died: the server
   may have it, so it is `possibly_sent`, never sent again. One found in `connecting` never
   reached DATA and is sent.
5. A 4xx or a lost connection is `retry`, taken again after a backoff; a 5xx is `failed` and
   counts against the subscription, paused after `digest_max_failures` in a row.

Every `clock()` answers an aware UTC time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

from ..config import Config
from ..domain.digests import (
    ACTIVE,
    CANCELLED,
    CONNECTING,
    DATA,
    EMPTY,
    FAILED,
    POSSIBLY_SENT,
    QUEUED,
    READY,
    RETRY,
    SENT,
    Digest,
    DigestItem,
    Subscription,
    blocked_by,
    period_of,
)
from ..domain.errors import BadParameter, Conflict, NotFound
from ..domain.papers import Paper
from ..storage import Store
from ..storage.digests import (
    claim_digest,
    digest_counts,
    digests_in,
    digests_of,
    freeze_digest,
    get_digest,
    held_digests,
    items_of,
    move_digest,
    open_digests,
    queue_digests,
    shown_papers,
    waiting_digests,
)
from ..storage.papers import get_papers
from ..storage.subscriptions import (
    active_subscriptions,
    count_subscriptions,
    find_subscription,
    get_subscription,
    record_failure,
    reset_failures,
)
from . import mail
from .digest_sections import SECTIONS, Picker, Reader, sections_for
from .subscriptions import MANAGE, UNSUBSCRIBE, signed_link, stored_time

log = logging.getLogger(__name__)

# Temporary failures wait 5 minutes, then twice as long each time, up to 6 hours; after 3
# days of them the digest is given up (it would be stale) without counting against the
# address, which did not refuse anything.
RETRY_FIRST = timedelta(minutes=5)
RETRY_LONGEST = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(days=3)
SNIPPET_CHARACTERS = 280
ARXIV = "https://arxiv.org"

Clock = Callable[[], datetime]
Progress = Callable[[int, int | None, str], None]


class RunStopped(Exception):
    """The mail server cannot take any mail now (unreachable, a refused login or sender);
    the run stops and a later one goes on where it stopped."""


# --- composing ------------------------------------------------------------------------------


@dataclass
class Composed:
    """A digest's papers, in order, with the papers themselves for rendering."""

    items: list[DigestItem]
    papers: dict[str, Paper]


class Sections:
    """The sections of one run, each prepared the first time a reader needs it (the trending
    list is computed once, not once per reader)."""

    def __init__(self, store: Store, config: Config, now: datetime) -> None:
        self.store, self.config, self.now = store, config, now
        self._pickers: dict[str, Picker] = {}

    def picker(self, key: str) -> Picker:
        if key not in self._pickers:
            self._pickers[key] = SECTIONS[key].prepare(self.store, self.config, self.now)
        return self._pickers[key]


def _quotas(total: int, count: int) -> list[int]:
    """`total` papers spread over `count` sections, the first ones getting the remainder.

    >>> _quotas(10, 3)
    [4, 3, 3]
    """
    return [total // count + (1 if n < total % count else 0) for n in range(count)]


def compose(store: Store, subscription: Subscription, sections: Sections) -> Composed:
    """The papers of this subscription's next digest: from each of its sections (those that
    exist and that it may have) papers it was never sent, none its negative keywords name,
    no paper twice; at most `max_papers`, shared among the sections (a section with too few
    leaves its room to the others). An empty list means nothing new."""
    keys = [s.key for s in sections_for(subscription.user_id is not None)]
    chosen = [key for key in subscription.sections if key in keys]
    if not chosen:
        return Composed([], {})
    with store.connect() as conn:
        shown = shown_papers(conn, subscription.id)
    reader = Reader(
        subscription.id, subscription.user_id, subscription.email, subscription.frequency
    )
    maximum = subscription.max_papers
    # Room for papers the negative keywords or an earlier section will take out.
    ask = maximum * 3 + len(subscription.negative_keywords)
    candidates = {key: sections.picker(key)(reader, ask, shown) for key in chosen}
    wanted = [pick.arxiv_id for picks in candidates.values() for pick in picks]
    with store.connect() as conn:
        papers = {paper.arxiv_id: paper for paper in get_papers(conn, wanted)}
    usable = {
        key: [
            pick
            for pick in picks
            if pick.arxiv_id in papers
            and pick.arxiv_id not in shown
            and not blocked_by(
                subscription.negative_keywords,
                papers[pick.arxiv_id].title,
                papers[pick.arxiv_id].abstract,
            )
        ]
        for key, picks in candidates.items()
    }
    taken: dict[str, str] = {}  # arxiv_id -> section
    whys: dict[str, str] = {}
    quotas = _quotas(maximum, len(chosen))
    for key, quota in zip(chosen, quotas, strict=True):
        count = 0
        for pick in usable[key]:
            if count >= quota:
                break
            if pick.arxiv_id not in taken:
                taken[pick.arxiv_id], whys[pick.arxiv_id] = key, pick.why
                count += 1
    for key in chosen:  # room left by short sections goes to the others, in order
        for pick in usable[key]:
            if len(taken) >= maximum:
                break
            if pick.arxiv_id not in taken:
                taken[pick.arxiv_id], whys[pick.arxiv_id] = key, pick.why
    ordered = sorted(taken, key=lambda arxiv_id: chosen.index(taken[arxiv_id]))
    items = [
        DigestItem(arxiv_id, taken[arxiv_id], position, whys[arxiv_id])
        for position, arxiv_id in enumerate(ordered)
    ]
    return Composed(items, {i.arxiv_id: papers[i.arxiv_id] for i in items})


# --- rendering ------------------------------------------------------------------------------


def period_label(period: str) -> str:
    """`2026-03-05` -> `Thursday 5 March 2026`; `2026-W10` -> `week 10 of 2026`."""
    if "-W" in period:
        year, week = period.split("-W")
        return f"week {int(week)} of {year}"
    day = date.fromisoformat(period)
    return f"{day:%A} {day.day} {day:%B %Y}"


def _authors(paper: Paper) -> str:
    names = paper.authors
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARACTERS:
        return flat
    return flat[:SNIPPET_CHARACTERS].rsplit(" ", 1)[0] + " ..."


@dataclass
class RenderedDigest:
    subject: str
    html: str
    text: str
    unsubscribe_url: str
    manage_url: str


def render_digest(
    config: Config,
    base_url: str,
    subscription: Subscription,
    period: str,
    composed: Composed,
    now: datetime,
) -> RenderedDigest:
    """The subject and both bodies of a digest with its papers; links are absolute under
    `base_url`, the unsubscribe and manage links signed for this subscription at `now` (the
    digest's composing time: the same digest gets the same links)."""
    count = len(composed.items)
    label = period_label(period)
    subject = f"{config.site_name}: {count} paper{'s' if count != 1 else ''} for {label}"
    sections = []
    for key in dict.fromkeys(item.section for item in composed.items):
        papers = []
        for item in (i for i in composed.items if i.section == key):
            paper = composed.papers[item.arxiv_id]
            papers.append(
                {
                    "title": " ".join(paper.title.split()),
                    "authors": _authors(paper),
                    "why": item.why,
                    "snippet": _snippet(paper.abstract),
                    "url": f"{base_url}/papers/{paper.arxiv_id}",
                    "arxiv_url": None if paper.is_local else f"{ARXIV}/abs/{paper.arxiv_id}",
                    "pdf_url": None if paper.is_local else f"{ARXIV}/pdf/{paper.arxiv_id}",
                }
            )
        title = SECTIONS[key].title if key in SECTIONS else key
        sections.append({"title": title, "papers": papers})
    unsubscribe_url = signed_link(config, base_url, UNSUBSCRIBE, subscription, now)
    manage_url = signed_link(config, base_url, MANAGE, subscription, now)
    html, text = mail.render_mail(
        "digest",
        site_name=config.site_name,
        site_url=base_url + "/",
        subject=subject,
        heading=f"Your {subscription.frequency} papers: {label}",
        sections=sections,
        email=subscription.email,
        frequency=subscription.frequency,
        unsubscribe_url=unsubscribe_url,
        manage_url=manage_url,
    )
    return RenderedDigest(subject, html, text, unsubscribe_url, manage_url)


def message_id(config: Config, subscription_id: int, period: str) -> str:
    """The digest's Message-ID: the same every time it is built, so a mail sent twice would
    at least be one message to the reader's client."""
    return f"<digest.{subscription_id}.{period}@{mail.message_domain(config)}>"


def digest_message(
    config: Config,
    base_url: str,
    subscription: Subscription,
    digest: Digest,
    composed: Composed,
) -> EmailMessage:
    """The mail of a frozen digest, with RFC 8058's one-click List-Unsubscribe."""
    assert digest.message_id and digest.composed_at
    composed_at = digest.composed_at.replace(tzinfo=UTC)
    rendered = render_digest(config, base_url, subscription, digest.period, composed, composed_at)
    return mail.build_message(
        config,
        to=subscription.email,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        message_id=digest.message_id,
        date=composed_at,
        headers={
            "List-Id": f"{config.site_name} digest <digest.{mail.message_domain(config)}>",
            "List-Unsubscribe": f"<{rendered.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


# --- a run ----------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What a run did: digests queued, and how each it handled ended."""

    daily_period: str
    weekly_period: str
    dry_run: bool = False
    queued: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    paused: int = 0  # subscriptions paused by this run (too many permanent failures)
    held: int = 0  # open digests other runs hold at the end
    waiting: int = 0  # open digests waiting for a retry later
    before_hour: bool = False  # today's digests not queued yet (digest_hour_utc)
    error: str | None = None  # why the run stopped early
    problems: list[str] = field(default_factory=list)  # "email: status" of the bad ones
    previews: list[tuple[str, int]] = field(default_factory=list)  # dry run: (email, papers)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def clean(self) -> bool:
        """Every digest handled was sent or had nothing new, and none is left over."""
        troubled = (FAILED, RETRY, POSSIBLY_SENT)
        return (
            self.error is None
            and not any(self.outcomes.get(state) for state in troubled)
            and not self.held
            and not self.waiting
        )

    def summary(self) -> str:
        if self.dry_run:
            papers = sum(count for _, count in self.previews)
            mails = sum(1 for _, count in self.previews if count)
            return (
                f"dry run for {self.daily_period} / {self.weekly_period}: {mails} digests "
                f"with {papers} papers would be sent, {len(self.previews) - mails} with nothing new"
            )
        parts = [f"{self.queued} queued"] + [
            f"{count} {state.replace('_', ' ')}" for state, count in sorted(self.outcomes.items())
        ]
        if self.paused:
            parts.append(f"{self.paused} subscriptions paused")
        if self.held:
            parts.append(f"{self.held} held by another run (a later run finishes them)")
        if self.waiting:
            parts.append(f"{self.waiting} waiting to retry")
        head = f"digests for {self.daily_period} / {self.weekly_period}: "
        if self.before_hour:
            head += "(today's go out from digest_hour_utc) "
        return head + ", ".join(parts)


def due_periods(day: date) -> tuple[str, str]:
    return period_of("daily", day), period_of("weekly", day)


def _aware(clock: Clock) -> datetime:
    now = clock()
    return now if now.tzinfo else now.replace(tzinfo=UTC)


class DigestRun:
    """One run of `digest send`; `run_digests` below is the way to start one."""

    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Clock,
        report: RunReport,
        base_url: str,
        outbox: mail.Outbox,
        progress: Progress | None,
    ) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.report, self.base_url, self.outbox = report, base_url, outbox
        self.progress = progress
        self.owner = uuid.uuid4().hex
        self.sections = Sections(store, config, _aware(clock))

    def now(self) -> datetime:
        return stored_time(_aware(self.clock))

    def lease(self) -> datetime:
        return self.now() + timedelta(seconds=self.config.digest_lease_seconds)

    def move(self, digest: Digest, **values: object) -> bool:
        with self.store.begin(counted=False) as conn:
            return move_digest(conn, digest.id, self.owner, self.now(), **values)

    def finish(
        self, digest: Digest, subscription: Subscription | None, status: str, **values: object
    ) -> None:
        """Leave `digest` in a final (or waiting) state and let go of its lease."""
        if self.move(digest, status=status, lease_owner=None, lease_until=None, **values):
            self.report.count(status)
            if status in (FAILED, RETRY, POSSIBLY_SENT, CANCELLED) and subscription is not None:
                detail = values.get("detail")
                self.report.problems.append(
                    f"{subscription.email}: {status.replace('_', ' ')}"
                    + (f" ({detail})" if detail else "")
                )

    def handle(self, digest: Digest) -> None:
        with self.store.connect() as conn:
            subscription = get_subscription(conn, digest.subscription_id)
        assert subscription is not None  # the digest row goes with its subscription
        if digest.status == DATA:
            self.finish(
                digest,
                subscription,
                POSSIBLY_SENT,
                detail="a run stopped while the mail server was receiving it; not sent again",
            )
            return
        if subscription.status != ACTIVE:
            reason = (
                "unsubscribed" if subscription.status == "unsubscribed" else subscription.status
            )
            self.finish(digest, subscription, CANCELLED, detail=f"subscription {reason}")
            return
        if digest.status == QUEUED:
            frozen = self.freeze(digest, subscription)
            if frozen is None or frozen.status != READY:
                return  # nothing new, or another run took it over
            digest = frozen
        self.send(digest, subscription)

    def freeze(self, digest: Digest, subscription: Subscription) -> Digest | None:
        """Compose the digest and freeze its papers; the digest as it is now, or None when
        another run took it over meanwhile. A paper that another run gave this reader in the
        meantime (another period's digest) makes it compose again."""
        for _ in range(3):
            try:
                return self._freeze_once(digest, subscription)
            except Conflict:
                continue
        raise RunStopped("digests of one reader kept taking the same papers")

    def _freeze_once(self, digest: Digest, subscription: Subscription) -> Digest | None:
        composed = compose(self.store, subscription, self.sections)
        status = READY if composed.items else EMPTY
        values: dict[str, object] = {"status": status, "lease_until": self.lease()}
        if status == EMPTY:
            values.update(lease_owner=None, lease_until=None, detail=None)
        else:
            values["message_id"] = message_id(self.config, subscription.id, digest.period)
        with self.store.begin(counted=False) as conn:
            if not freeze_digest(conn, digest, self.owner, composed.items, self.now(), **values):
                return None
            current = get_digest(conn, digest.id)
        if status == EMPTY:
            self.report.count(EMPTY)
        return current

    def send(self, digest: Digest, subscription: Subscription) -> None:
        if self.now() - digest.created_at > GIVE_UP_AFTER:
            self.finish(
                digest,
                subscription,
                FAILED,
                detail=f"gave up after {digest.attempts} attempts: {digest.detail}",
            )
            return
        with self.store.connect() as conn:
            items = items_of(conn, digest.id)
            papers = {
                paper.arxiv_id: paper for paper in get_papers(conn, [i.arxiv_id for i in items])
            }
        items = [item for item in items if item.arxiv_id in papers]  # hidden since: left out
        message = digest_message(
            self.config, self.base_url, subscription, digest, Composed(items, papers)
        )
        if not self.move(
            digest, status=CONNECTING, attempts=digest.attempts + 1, lease_until=self.lease()
        ):
            return  # another run took it over
        try:
            delivered = self.outbox.send(
                message,
                subscription.email,
                before_data=lambda: self.move(digest, status=DATA, lease_until=self.lease()),
            )
        except mail.MailError as error:
            self.failed(digest, subscription, error)
            return
        if not delivered:
            return
        with self.store.begin(counted=False) as conn:
            if move_digest(
                conn,
                digest.id,
                self.owner,
                self.now(),
                status=SENT,
                sent_at=self.now(),
                detail=None,
                next_attempt_at=None,
                lease_owner=None,
                lease_until=None,
            ):
                reset_failures(conn, subscription.id)
                self.report.count(SENT)

    def failed(self, digest: Digest, subscription: Subscription, error: mail.MailError) -> None:
        detail = str(error)
        if error.possibly_delivered:
            self.finish(digest, subscription, POSSIBLY_SENT, detail=detail)
            return
        if not error.for_recipient:
            # Nothing went to anyone: this digest goes first in the next run, no backoff.
            self.finish(digest, subscription, RETRY, detail=detail, next_attempt_at=None)
            raise RunStopped(detail)
        if error.temporary:
            wait = min(RETRY_FIRST * 2**digest.attempts, RETRY_LONGEST)  # attempts before this one
            self.finish(
                digest, subscription, RETRY, detail=detail, next_attempt_at=self.now() + wait
            )
            return
        self.finish(digest, subscription, FAILED, detail=detail)
        with self.store.begin(counted=False) as conn:
            paused = record_failure(
                conn,
                subscription.id,
                self.config.digest_max_failures,
                f"the mail server refused {self.config.digest_max_failures} digests in a row "
                f"(last: {detail})",
                self.now(),
            )
        if paused:
            self.report.paused += 1

    def run(self, subscription_id: int | None) -> None:
        with self.store.connect() as conn:
            total = open_digests(conn)
        done = 0
        while True:
            digest = claim_digest(self.store, self.owner, self.now(), self.lease(), subscription_id)
            if digest is None:
                break
            try:
                self.handle(digest)
            except RunStopped as stop:
                self.report.error = f"the mail server cannot take mail now: {stop}"
                break
            done += 1
            if self.progress is not None:
                self.progress(done, max(total, done), f"{sum(self.report.outcomes.values())} done")


def run_digests(
    store: Store,
    config: Config,
    clock: Clock,
    *,
    day: date | None = None,
    only_email: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    outbox: mail.Outbox | None = None,
) -> RunReport:
    """Queue and send the digests due on `day` (default: today, from `digest_hour_utc` on),
    and every digest an earlier run left open (retries, a killed run's). `only_email` limits
    the run to that subscriber. `dry_run` composes what would be sent and writes nothing.
    Raises BadParameter when mail is not set up (no smtp_host, smtp_from or base_url) or the
    address has no subscription."""
    now = _aware(clock)
    explicit_day = day is not None
    day = day or now.date()
    daily, weekly = due_periods(day)
    report = RunReport(daily, weekly, dry_run=dry_run)
    subscription_id = None
    if only_email is not None:
        with store.connect() as conn:
            found = find_subscription(conn, only_email)
        if found is None:
            raise NotFound(f"{only_email} has no subscription.")
        subscription_id = found.id
    if dry_run:
        report.previews = _dry_run(store, config, now, subscription_id)
        return report
    if not mail.mail_enabled(config):
        raise BadParameter("set smtp_host and smtp_from to send digests")
    if not config.base_url:
        raise BadParameter("set base_url: the links in digests need the site's address")
    if not explicit_day and now.hour < config.digest_hour_utc:
        report.before_hour = True
    else:
        with store.begin(counted=False) as conn:
            report.queued = queue_digests(conn, daily, weekly, stored_time(now), subscription_id)
    own_outbox = outbox is None
    box = outbox or mail.Outbox(config)
    try:
        DigestRun(store, config, clock, report, config.base_url.rstrip("/"), box, progress).run(
            subscription_id
        )
    finally:
        if own_outbox:
            box.close()
    with store.connect() as conn:
        later = stored_time(_aware(clock))
        report.held = held_digests(conn, later)
        report.waiting = waiting_digests(conn, later)
    return report


def _dry_run(
    store: Store, config: Config, now: datetime, subscription_id: int | None
) -> list[tuple[str, int]]:
    sections = Sections(store, config, now)
    with store.connect() as conn:
        subscriptions = active_subscriptions(conn, subscription_id)
    return [(s.email, len(compose(store, s, sections).items)) for s in subscriptions]


# --- previews and status --------------------------------------------------------------------


@dataclass
class Preview:
    subscription: Subscription
    period: str
    items: list[DigestItem]
    rendered: RenderedDigest


def preview_digest(
    store: Store, config: Config, subscription: Subscription, base_url: str, now: datetime
) -> Preview:
    """What the subscription's next digest would hold if it were composed `now` (nothing is
    written: the papers are not recorded as shown)."""
    composed = compose(store, subscription, Sections(store, config, now))
    period = period_of(subscription.frequency, now.date())
    rendered = render_digest(config, base_url, subscription, period, composed, now)
    return Preview(subscription, period, composed.items, rendered)


def subscription_for_preview(store: Store, subscription_id: int) -> Subscription:
    with store.connect() as conn:
        found = get_subscription(conn, subscription_id)
    if found is None:
        raise NotFound("There is no such subscription.")
    return found


@dataclass
class Status:
    """For admins: subscriptions and digests by state, and the digests that need a look."""

    subscriptions: dict[str, int]
    digests: dict[str, int]
    troubled: list[tuple[Digest, str]]


def digest_status(store: Store, periods: list[str] | None = None) -> Status:
    with store.connect() as conn:
        return Status(
            count_subscriptions(conn),
            digest_counts(conn, periods),
            digests_in(conn, [POSSIBLY_SENT, FAILED, RETRY]),
        )


def recent_digests(store: Store, subscription: Subscription, limit: int = 10) -> list[Digest]:
    """The subscription's latest digests, newest first (their status lines say what became of
    each)."""
    with store.connect() as conn:
        return digests_of(conn, subscription.id, limit)
