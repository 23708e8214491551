"""The sections of an email digest and the one interface they share, so that each kind of
paper list (trending, a reader's Following, a reader's For you) is one small function.

A section is prepared once per digest run (`prepare(store, config, now)`: load what every
reader shares, such as the trending list or a vector index) and then asked, for each reader,
for its papers best first: `picker(reader, limit, exclude)` returns at most `limit` Picks, none
of them in `exclude` (the papers this reader was already sent). Each Pick carries its `why`,
one line the mail prints under the title. The composer (services/digests.py) drops papers the
reader's negative keywords name and papers an earlier section took, spreads the reader's
maximum over their sections, and freezes the result.

A new section is one entry in SECTIONS below. Sections that need an account
(`needs_account`) are offered in account settings only; a subscriber by email alone gets the
others.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import datetime

from ..config import Config
from ..domain.papers import ListFilter
from ..storage import Store
from ..storage.users import get_user
from . import foryou
from .daily import trending
from .follows import following, window
from .searching import Searcher


@dataclass(frozen=True)
class Reader:
    """Whom a digest is for: what a section may use to choose papers."""

    subscription_id: int
    user_id: int | None  # None: subscribed by email alone, no account
    email: str
    frequency: str  # daily | weekly


@dataclass(frozen=True)
class Pick:
    """One paper a section proposes, with the line that says why it is there."""

    arxiv_id: str
    why: str


# A prepared section: (reader, limit, exclude) -> at most `limit` picks, best first.
Picker = Callable[[Reader, int, Set[str]], list[Pick]]


@dataclass(frozen=True)
class Section:
    key: str  # stored in subscriptions.sections and digest_items.section
    title: str  # the heading in the mail and the label in settings
    prepare: Callable[[Store, Config, datetime], Picker]
    needs_account: bool = True


def prepare_trending(store: Store, config: Config, now: datetime) -> Picker:
    """The site's trending list (services/daily.py), computed once per run; each reader gets
    its first papers they have not been sent yet."""
    ranked = trending(store, config, ListFilter(), now)

    def pick(reader: Reader, limit: int, exclude: Set[str]) -> list[Pick]:
        picks: list[Pick] = []
        for entry in ranked:
            if len(picks) >= limit:
                break
            if entry.item.arxiv_id in exclude:
                continue
            upvotes = entry.item.upvotes
            why = (
                f"Trending: {upvotes} upvote{'s' if upvotes != 1 else ''}, "
                f"on the daily list of {entry.item.day.day} {entry.item.day:%B %Y}"
            )
            picks.append(Pick(entry.item.arxiv_id, why))
        return picks

    return pick


def prepare_following(store: Store, config: Config, now: datetime) -> Picker:
    """The reader's Following (services/follows.py): the newest papers of the last
    `following_days` that match their follows, with the follows each matched. Searches use the
    keyword leg alone (no model is loaded for a digest run)."""
    searcher = Searcher(store, config, None)
    since, until = window(config, now)

    def pick(reader: Reader, limit: int, exclude: Set[str]) -> list[Pick]:
        if reader.user_id is None:
            return []
        found = following(store, searcher, reader.user_id, since, until, limit + len(exclude))
        picks = [
            Pick(item.paper.arxiv_id, "Following: " + " · ".join(f.why for f in item.follows))
            for item in found
            if item.paper.arxiv_id not in exclude
        ]
        return picks[:limit]

    return pick


def prepare_for_you(store: Store, config: Config, now: datetime) -> Picker:
    """The reader's For you (services/foryou.py): the window is prepared once per run, then
    each reader gets the page's ranking of it, restricted to the papers close to their
    library, upvotes or pasted abstract. Follows and trending papers are left out: they
    have their own sections. A reader with an empty profile gets no For you papers."""
    span, window = foryou.default_window(store, config, now)

    def pick(reader: Reader, limit: int, exclude: Set[str]) -> list[Pick]:
        if reader.user_id is None or not len(window):
            return []
        with store.connect() as conn:
            user = get_user(conn, reader.user_id)
        if user is None:
            return []
        result = foryou.rank_reader(
            store,
            config,
            user,
            span,
            window,
            fill=(),
            limit=limit,
            exclude=exclude,
            with_follows=False,
        )
        kinds = {signal.arxiv_id: signal.kind for signal in result.profile.signals}
        return [
            Pick(item.paper.arxiv_id, foryou.why_text(item, kinds))
            for item in result.items
            if item.why.kind == "paper"
        ]

    return pick


SECTIONS: dict[str, Section] = {
    section.key: section
    for section in [
        Section("trending", "Trending", prepare_trending, needs_account=False),
        Section("following", "From what you follow", prepare_following),
        Section("for_you", "For you", prepare_for_you),
    ]
}


def sections_for(has_account: bool) -> list[Section]:
    """The sections a subscriber may choose: all of them with an account, else those that need
    none."""
    return [s for s in SECTIONS.values() if has_account or not s.needs_account]
