"""For you: one reader's ranking of the recently published papers (the last `for_you_days`
days of the catalog) from what they upvoted, saved, imported, pasted and followed, with what
they marked "not interested" pushed down; the page, the JSON API and `dailypapers recommend`
all call `for_you` and show the same list. The ranking is search/recommend.py's.

The reader's profile is gathered by small source functions, each reading one kind of signal:
SIGNAL_SOURCES give positive papers (an upvote, a paper saved to or imported into the library)
and FOLLOW_SOURCES match the window's papers to the reader's follows (services/follows.py's
matching, labelled as the Following page labels them). Adding a source is one function
appended to one of the two lists.

The window (candidates, their tf-idf rows over the window and the 20,000 papers published
before it, their density) is prepared once per process and reused until the catalog's papers
in it change; on a real catalog preparing it takes a few seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from ..config import Config
from ..domain.errors import BadParameter
from ..domain.follows import Follow
from ..domain.library import IMPORTED, SAVED
from ..domain.papers import ListFilter, Paper
from ..domain.people import User
from ..search import recommend
from ..search.terms import TermStats, bag_of
from ..search.vector import Embedder, model_name, paper_text
from ..storage import Store
from ..storage.follows import list_follows
from ..storage.foryou import (
    Connection,
    add_dismissal,
    clear_dismissals,
    earlier_texts,
    get_profile,
    library_papers,
    list_dismissals,
    newest_published,
    papers_with_vectors,
    remove_dismissal,
    set_abstract,
    set_started,
    upvoted_papers,
    window_fingerprint,
    window_papers,
)
from ..storage.papers import get_papers, paper_exists
from .daily import trending
from .follows import match_follows
from .searching import Searcher

REFERENCE_PAPERS = 20_000  # published before the window, counted in its word frequencies
MAX_SIGNALS = recommend.TUNING.max_positives
ABSTRACT_CHARACTERS = (40, 5000)  # what a pasted abstract may hold


@dataclass(frozen=True)
class Signal:
    """A positive paper of the profile: what the reader did with it and when."""

    arxiv_id: str
    kind: str  # a key of recommend.KINDS: saved, imported, upvoted
    at: datetime


# (connection, reader, signals from this moment on or None for all, at most) -> newest first
SignalSource = Callable[[Connection, User, datetime | None, int], list[Signal]]


@dataclass(frozen=True)
class FollowQuery:
    """What a follow source matches against: the window's papers (ids, and the span they were
    published in) and the reader's follows."""

    store: Store
    searcher: Searcher
    span: Span
    ids: Sequence[str]
    follows: Sequence[Follow]


# (what to match) -> id of a window paper -> labels of the follows it matches
FollowSource = Callable[[FollowQuery], dict[str, list[str]]]


def upvote_signals(conn: Connection, user: User, since: datetime | None, most: int) -> list[Signal]:
    """The reader's upvotes."""
    return [Signal(i, "upvoted", at) for i, at in upvoted_papers(conn, user.id, since, most)]


def library_signals(
    conn: Connection, user: User, since: datetime | None, most: int
) -> list[Signal]:
    """The papers of the reader's library: saved from a card or page, or imported (a paper
    an import of one's own export brought back keeps how it first came)."""
    return [
        Signal(arxiv_id, IMPORTED if how == IMPORTED else SAVED, at)
        for arxiv_id, at, how in library_papers(conn, user.id, since, most)
    ]


def followed_papers(query: FollowQuery) -> dict[str, list[str]]:
    """The window's papers that match the reader's follows, each with how the follows read
    beside a paper on the Following page (`cs.CL`, `author: Ada Lovelace`)."""
    if not query.follows or not query.ids:
        return {}
    inside = set(query.ids)
    found = match_follows(
        query.store,
        query.searcher,
        list(query.follows),
        query.span.start,
        query.span.end,
        len(query.ids),
    )
    return {
        item.paper.arxiv_id: [f.why for f in item.follows]
        for item in found
        if item.paper.arxiv_id in inside
    }


SIGNAL_SOURCES: list[SignalSource] = [upvote_signals, library_signals]
FOLLOW_SOURCES: list[FollowSource] = [followed_papers]


@dataclass
class Profile:
    """Everything that steers one reader's list, as the "what drives your feed" page shows it."""

    signals: list[Signal] = field(default_factory=list)  # newest first, one per paper
    dismissed: list[tuple[str, str, datetime]] = field(default_factory=list)  # id, title, when
    abstract: str | None = None
    abstract_vector: np.ndarray | None = None
    started_at: datetime | None = None
    follows: list[Follow] = field(default_factory=list)  # oldest first

    @property
    def empty(self) -> bool:
        """Nothing to rank by: the page asks for an import, follows or an abstract."""
        return not self.signals and self.abstract_vector is None and not self.follows


def gather_profile(conn: Connection, user: User, model: str) -> Profile:
    """The reader's profile from every source (signals after their start-over moment; the
    follows whenever made: they are explicit, and unfollowing is how one drops them)."""
    row = get_profile(conn, user.id)
    found: dict[str, Signal] = {}
    for source in SIGNAL_SOURCES:
        for signal in source(conn, user, row.started_at, MAX_SIGNALS):
            known = found.get(signal.arxiv_id)
            if known is None or recommend.KINDS[signal.kind] > recommend.KINDS[known.kind]:
                found[signal.arxiv_id] = signal
    signals = sorted(found.values(), key=lambda s: (s.at, s.arxiv_id), reverse=True)
    vector = row.abstract_vector if row.abstract_model == model else None
    return Profile(
        signals[:MAX_SIGNALS],
        list_dismissals(conn, user.id),
        row.abstract,
        vector,
        row.started_at,
        list_follows(conn, user.id),
    )


# --- the window ------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """The days whose published papers are the candidates, both ends included."""

    since: date
    until: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time())

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time())


def window_span(
    store: Store,
    config: Config,
    now: datetime,
    since: date | None = None,
    until: date | None = None,
) -> Span:
    """The window: `since` to `until` when given; otherwise the `for_you_days` days that end on
    the day of the newest paper published by `now` (so a catalog that is not updated every
    day still has a window), or on `now`'s day in an empty catalog."""
    if since is not None and until is not None and since > until:
        raise BadParameter(f"--since {since} is after --until {until}")
    if until is None:
        if since is not None:
            until = since + timedelta(days=config.for_you_days - 1)
        else:
            with store.connect() as conn:
                newest = newest_published(conn, now.replace(tzinfo=None))
            until = (newest or now).date()
    if since is None:
        since = until - timedelta(days=config.for_you_days - 1)
    return Span(since, until)


class _Windows:
    """Prepared windows of this process, reused while the catalog's window is unchanged."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.held: dict[tuple[Any, ...], tuple[tuple[Any, ...], recommend.Window]] = {}

    def get(self, store: Store, model: str, span: Span) -> recommend.Window:
        key = (str(store.engine.url), model, span)
        with self.lock:
            with store.connect() as conn:
                mark = window_fingerprint(conn, span.start, span.end, model)
            held = self.held.get(key)
            if held is not None and held[0] == mark:
                return held[1]
            window = _prepare(store, model, span)
            self.held.pop(key, None)
            self.held[key] = (mark, window)
            while len(self.held) > self.size:
                self.held.pop(next(iter(self.held)))
            return window


WINDOWS = _Windows()


def _prepare(store: Store, model: str, span: Span) -> recommend.Window:
    with store.connect() as conn:
        found = window_papers(conn, span.start, span.end, model)
        reference = earlier_texts(conn, span.start, REFERENCE_PAPERS)
    bags = [bag_of(paper_text(p.title, p.abstract)) for p in found]
    earlier = [bag_of(paper_text(title, abstract)) for _, title, abstract in reference]
    vectors = np.stack([p.vector for p in found]) if found else np.zeros((0, 384), dtype=np.float32)
    return recommend.Window(
        [p.arxiv_id for p in found],
        vectors,
        bags,
        TermStats([*bags, *earlier]),
        counted={arxiv_id for arxiv_id, _, _ in reference},
    )


def default_window(store: Store, config: Config, now: datetime) -> tuple[Span, recommend.Window]:
    """The window readers are ranked on by default at `now`, prepared (or this process's
    copy, when its papers have not changed)."""
    span = window_span(store, config, now)
    return span, WINDOWS.get(store, model_name(config.embedding_max_tokens), span)


def prepare_window(store: Store, config: Config, now: datetime) -> int:
    """Prepare the default window ahead of the first reader (a job may call it after an
    index round); how many candidates it holds."""
    return len(default_window(store, config, now)[1])


# --- the ranking -----------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    paper: Paper
    score: float
    why: recommend.Why
    why_title: str | None  # the closest paper's title, for a "paper" why
    interest: int | None


@dataclass
class ForYou:
    span: Span
    candidates: int
    items: list[Item]
    cold_start: bool  # nothing in the profile: the list is trending papers
    interests: list[list[str]]  # each interest's paper ids (None for the pasted abstract)
    demoted: int
    profile: Profile


def for_you(
    store: Store,
    config: Config,
    user: User | None,
    now: datetime,
    *,
    since: date | None = None,
    until: date | None = None,
    limit: int = 50,
    abstract: str | None = None,
    embedder: Embedder | None = None,
    searcher: Searcher | None = None,
    exclude: Collection[str] = (),
) -> ForYou:
    """The reader's list (an anonymous reader's when `user` is None). `abstract`, a text
    pasted now (embedded with `embedder`), joins the profile for this call only. A reader
    with nothing in the profile gets the trending papers, then the window's newest: the
    list is empty only when the catalog is. `searcher` matches followed searches (a
    keyword-only one is made when None); `exclude` (papers a digest already sent) never
    appear."""
    if not 1 <= limit <= 200:
        raise BadParameter("limit must be from 1 to 200")
    model = model_name(config.embedding_max_tokens)
    span = window_span(store, config, now, since, until)
    window = WINDOWS.get(store, model, span)
    hot = [t.item.arxiv_id for t in trending(store, config, ListFilter(), now)]
    return rank_reader(
        store,
        config,
        user,
        span,
        window,
        fill=[*hot, *window.ids[::-1]],
        limit=limit,
        abstract=abstract,
        embedder=embedder,
        searcher=searcher,
        exclude=exclude,
    )


def rank_reader(
    store: Store,
    config: Config,
    user: User | None,
    span: Span,
    window: recommend.Window,
    *,
    fill: Sequence[str],
    limit: int,
    abstract: str | None = None,
    embedder: Embedder | None = None,
    searcher: Searcher | None = None,
    exclude: Collection[str] = (),
    with_follows: bool = True,
) -> ForYou:
    """`for_you` on a window prepared once (a digest run ranks every reader on one).
    `fill` (ids, best first: trending, then the window's newest) tops the list up and is
    the whole list of a reader with an empty profile; a digest passes none. Without
    `with_follows` the reader's follows are not matched (the digest has its own Following
    section)."""
    model = model_name(config.embedding_max_tokens)
    profile = Profile()
    follows: dict[str, list[str]] = {}
    with store.connect() as conn:
        if user is not None:
            profile = gather_profile(conn, user, model)
    if user is not None and profile.abstract and profile.abstract_vector is None and embedder:
        profile.abstract_vector = _embed_kept(store, config, user, profile.abstract, embedder)
    with store.connect() as conn:
        known = papers_with_vectors(
            conn, [s.arxiv_id for s in profile.signals] + [d[0] for d in profile.dismissed], model
        )
    if profile.follows and with_follows:
        query = FollowQuery(
            store, searcher or Searcher(store, config, None), span, window.ids, profile.follows
        )
        for match in FOLLOW_SOURCES:
            for arxiv_id, labels in match(query).items():
                follows.setdefault(arxiv_id, []).extend(labels)
    positives = _positives(profile, known)
    if abstract is not None:
        positives.insert(0, _pasted(check_abstract(abstract), embedder))
    elif profile.abstract_vector is not None and profile.abstract:
        positives.insert(
            0,
            recommend.Positive(None, profile.abstract_vector, bag_of(profile.abstract), "abstract"),
        )
    dismissed_ids = [d[0] for d in profile.dismissed]
    dismissed = [known[i][2] for i in dismissed_ids if i in known]
    cold = not positives and profile.empty
    if cold:
        # Trending papers (in the window or not), then the window's newest: a new reader's
        # page is empty only when the catalog is.
        ranking = recommend.Ranking([], [], 0)
        picks = _trending_picks(list(fill), {*dismissed_ids, *exclude}, limit)
    else:
        ranking = recommend.rank(
            window,
            positives,
            dismissed=np.stack(dismissed) if dismissed else None,
            dismissed_ids=dismissed_ids,
            follows=follows,
            trending=fill,
            exclude=exclude,
            limit=limit,
        )
        picks = ranking.picks
    return ForYou(
        span,
        len(window),
        _items(store, picks),
        cold,
        [[positives[m].arxiv_id or "" for m in i.members] for i in ranking.interests],
        ranking.demoted,
        profile,
    )


def _embed_kept(
    store: Store, config: Config, user: User, text: str, embedder: Embedder
) -> np.ndarray:
    """A kept abstract without a vector of this model (restored from an export, or kept
    before the model changed), embedded and stored again."""
    vector: np.ndarray = embedder.embed([text])[0]
    with store.begin() as conn:
        set_abstract(conn, user.id, text, model_name(config.embedding_max_tokens), vector)
    return vector


def _trending_picks(ids: list[str], skip: set[str], limit: int) -> list[recommend.Pick]:
    picks: list[recommend.Pick] = []
    for arxiv_id in dict.fromkeys(ids):
        if arxiv_id not in skip and len(picks) < limit:
            picks.append(recommend.Pick(arxiv_id, 0.0, recommend.Why("trending"), None))
    return picks


def _positives(
    profile: Profile, known: dict[str, tuple[str, str, np.ndarray]]
) -> list[recommend.Positive]:
    positives = []
    for signal in profile.signals:
        if signal.arxiv_id not in known:
            continue  # not embedded yet
        title, abstract, vector = known[signal.arxiv_id]
        positives.append(
            recommend.Positive(
                signal.arxiv_id, vector, bag_of(paper_text(title, abstract)), signal.kind
            )
        )
    return positives


def check_abstract(text: str) -> str:
    """A pasted abstract, stripped; BadParameter when it is too short or too long."""
    text = " ".join(text.split())
    low, high = ABSTRACT_CHARACTERS
    if len(text) < low:
        raise BadParameter(f"Paste an abstract of at least {low} characters.")
    if len(text) > high:
        raise BadParameter(
            f"An abstract may hold at most {high} characters; this one has {len(text)}."
        )
    return text


def _pasted(text: str, embedder: Embedder | None) -> recommend.Positive:
    if embedder is None:
        raise BadParameter(
            "Ranking by an abstract needs the embedding model, which is not installed."
        )
    vector = embedder.embed([text])[0]
    return recommend.Positive(None, vector, bag_of(text), "abstract")


def _items(store: Store, picks: list[recommend.Pick]) -> list[Item]:
    wanted = [p.arxiv_id for p in picks] + [p.why.arxiv_id for p in picks if p.why.arxiv_id]
    with store.connect() as conn:
        found = {paper.arxiv_id: paper for paper in get_papers(conn, wanted)}
    items = []
    for pick in picks:
        paper = found.get(pick.arxiv_id)
        if paper is None:
            continue  # hidden since the window was prepared
        closest = found.get(pick.why.arxiv_id) if pick.why.arxiv_id else None
        items.append(
            Item(paper, pick.score, pick.why, closest.title if closest else None, pick.interest)
        )
    return items


def why_text(item: Item, kinds: Mapping[str, str]) -> str:
    """Why a paper is in the list, as one line of plain text (a digest prints it under the
    title). `kinds`: how each paper of the profile got there (Signal.kind by id)."""
    if item.why.kind == "paper" and item.why.arxiv_id:
        title = item.why_title or item.why.arxiv_id
        if kinds.get(item.why.arxiv_id) == "upvoted":
            return f"Close to “{title}”, which you upvoted"
        return f"Close to “{title}” in your library"
    if item.why.kind == "paper":
        return "Close to the abstract you pasted"
    if item.why.kind == "follow":
        return "You follow " + ", ".join(item.why.follows)
    return "Trending"


def as_json(result: ForYou) -> dict[str, Any]:
    """The list as plain data: what `GET /api/me/for-you` answers and `dailypapers recommend
    --json` prints."""
    return {
        "since": result.span.since.isoformat(),
        "until": result.span.until.isoformat(),
        "candidates": result.candidates,
        "coldStart": result.cold_start,
        "demoted": result.demoted,
        "interests": [{"papers": [i for i in ids if i]} for ids in result.interests],
        "papers": [_item_json(item) for item in result.items],
    }


def _item_json(item: Item) -> dict[str, Any]:
    why: dict[str, Any] = {"kind": item.why.kind}
    if item.why.kind == "paper":
        why["paper"] = item.why.arxiv_id  # None: the pasted abstract
        why["title"] = item.why_title
    if item.why.follows:
        why["follows"] = list(item.why.follows)
    paper = item.paper
    return {
        "id": paper.arxiv_id,
        "title": paper.title,
        "authors": paper.authors,
        "categories": paper.categories,
        "publishedAt": paper.published_at.isoformat() if paper.published_at else None,
        "score": round(item.score, 4),
        "interest": item.interest,
        "why": why,
    }


# --- what the reader changes --------------------------------------------------------------


def dismiss(store: Store, user: User, arxiv_id: str) -> bool:
    """Mark a paper "not interested"; whether it was not marked already."""
    with store.begin() as conn:
        if not paper_exists(conn, arxiv_id):
            raise BadParameter(f"No paper {arxiv_id} in this catalog.")
        return add_dismissal(conn, user.id, arxiv_id)


def undismiss(store: Store, user: User, arxiv_id: str) -> bool:
    """Take a "not interested" back; whether there was one."""
    with store.begin() as conn:
        return remove_dismissal(conn, user.id, arxiv_id)


def keep_abstract(store: Store, config: Config, user: User, text: str, embedder: Embedder) -> None:
    """Rank by this abstract from now on (it replaces an earlier one)."""
    text = check_abstract(text)
    vector = embedder.embed([text])[0]
    with store.begin() as conn:
        set_abstract(conn, user.id, text, model_name(config.embedding_max_tokens), vector)


def forget_abstract(store: Store, user: User) -> None:
    with store.begin() as conn:
        set_abstract(conn, user.id, None, None, None)


def start_over(store: Store, user: User) -> None:
    """Forget what drove the feed: upvotes and library papers from before now stop counting
    (they stay upvotes and stay in the library), the "not interested" marks and the pasted
    abstract go. Follows stay: the reader unfollows what they no longer want."""
    with store.begin() as conn:
        clear_dismissals(conn, user.id)
        set_abstract(conn, user.id, None, None, None)
        set_started(conn, user.id)
