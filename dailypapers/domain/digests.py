"""Email digests as the site keeps them: a Subscription (who, how often, what), a Digest (one
mail of one subscription for one period) and its frozen DigestItems, with the rules that need
no I/O: which period a day falls in, which papers a reader's negative keywords drop, and the
line that says what became of a digest ("sent", "nothing new", "failed: ...").

A digest moves through these states (services/digests.py writes them, storage/digests.py
keeps them):

    queued --compose--> ready --> connecting --> data --250--> sent
       |                  \\            \\           \\--kill--> possibly_sent
       |                   \\            \\--4xx, no connection--> retry --> (ready again)
       \\--nothing new--> empty           \\--5xx--> failed
    queued | ready | retry --reader left--> cancelled
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

FREQUENCIES = ("daily", "weekly")
MAX_PAPERS_LIMIT = 50  # what a reader may ask for at most: a digest is not a catalog dump
MAX_NEGATIVE_KEYWORDS = 50

# Subscription states.
PENDING = "pending"  # waiting for the confirmation link: nothing else is ever sent
ACTIVE = "active"
PAUSED = "paused"  # too many permanent failures in a row; the reader switches it back on
UNSUBSCRIBED = "unsubscribed"

# Digest states.
QUEUED = "queued"
READY = "ready"
CONNECTING = "connecting"
DATA = "data"
SENT = "sent"
EMPTY = "empty"
RETRY = "retry"
FAILED = "failed"
POSSIBLY_SENT = "possibly_sent"
CANCELLED = "cancelled"

# States a run may take a digest in (when no other run holds its lease).
OPEN_STATES = (QUEUED, READY, CONNECTING, DATA, RETRY)
FINAL_STATES = (SENT, EMPTY, FAILED, POSSIBLY_SENT, CANCELLED)


@dataclass
class Subscription:
    id: int
    email: str
    user_id: int | None
    status: str
    frequency: str
    sections: list[str]
    max_papers: int
    negative_keywords: list[str]
    failures: int
    pause_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None
    confirm_sent_at: datetime | None
    unsubscribed_at: datetime | None
    updated_at: datetime


@dataclass
class DigestItem:
    """One paper frozen into a digest: its section, place and the line saying why."""

    arxiv_id: str
    section: str
    position: int
    why: str


@dataclass
class Digest:
    id: int
    subscription_id: int
    period: str
    status: str
    detail: str | None
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    message_id: str | None
    created_at: datetime
    composed_at: datetime | None
    sent_at: datetime | None
    updated_at: datetime
    items: list[DigestItem] = field(default_factory=list)


def period_of(frequency: str, day: date) -> str:
    """The period a digest of `frequency` sent on `day` belongs to: the day itself for daily
    digests, the ISO week for weekly ones.

    >>> period_of("daily", date(2026, 3, 5)), period_of("weekly", date(2026, 3, 5))
    ('2026-03-05', '2026-W10')
    """
    if frequency == "weekly":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def parse_negative_keywords(text: str) -> list[str]:
    """A reader's negative keywords from a form field: one per line or comma-separated,
    trimmed, lower-cased, duplicates and empties dropped, in the order given.

    >>> parse_negative_keywords("Diffusion, LLM\\n  llm \\n\\nprotein folding")
    ['diffusion', 'llm', 'protein folding']
    """
    found: dict[str, None] = {}
    for part in re.split(r"[,\n]", text):
        word = " ".join(part.split()).lower()
        if word:
            found[word[:100]] = None
    return list(found)[:MAX_NEGATIVE_KEYWORDS]


def blocked_by(keywords: list[str], title: str, abstract: str) -> str | None:
    """The first negative keyword found, as a whole word or phrase, in the title or abstract
    (case-insensitive); None when none is.

    >>> blocked_by(["llm", "protein folding"], "LLMs for chemistry", "We fold proteins")
    >>> blocked_by(["llm", "protein folding"], "An LLM agent", "")
    'llm'
    """
    text = f"{title}\n{abstract}".lower()
    for keyword in keywords:
        if re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", text):
            return keyword
    return None


def status_line(digest: Digest) -> str:
    """What a reader (or an admin) is told about one digest.

    >>> from datetime import datetime as dt
    >>> d = Digest(1, 1, "2026-03-05", "failed", "550 no such mailbox", 1, None, None, None,
    ...            None, dt(2026, 3, 5), None, None, dt(2026, 3, 5))
    >>> status_line(d)
    'failed: 550 no such mailbox'
    """
    detail = f": {digest.detail}" if digest.detail else ""
    return {
        SENT: "sent",
        EMPTY: "nothing new",
        FAILED: f"failed{detail}",
        RETRY: f"will retry{detail}",
        POSSIBLY_SENT: "possibly sent (the run stopped while the mail server was receiving it)",
        CANCELLED: f"not sent{detail}",
    }.get(digest.status, "being sent")
