"""Following, the one way the Following page, its JSON twin, its private feed, the CLI (and
later the email digests and the "why" of recommendations) do it: add and remove a reader's
follows (domain/follows.py says what each kind is and how it is normalised), and find the
catalog's new papers that match them, each with the follows it matched.

How the matching stays cheap on a big catalog: every read is bounded by a window of
publication time (`following_days`), which the index on `papers.published_at` serves.
Categories are one SQL query; organisations and authors page through the window's papers
that name one, newest first, stopping once `limit` papers matched (authors are compared with
domain/authors.py's grouping, only in rows where a followed surname occurs); each followed
search is one query of the keyword leg (tantivy, or PostgreSQL's full text before it exists;
the substring stand-in on SQLite before any index), with the window as a filter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from ..config import Config
from ..domain.authors import AuthorKey, author_key, fold, squash
from ..domain.errors import BadParameter, Conflict, NotFound, TooMany
from ..domain.follows import (
    Follow,
    NewFollow,
    canonical_search,
    check_category,
    check_kind,
    clean_label,
    followed_query,
    normalize_author,
    normalize_organization,
    parse_author_value,
    with_categories,
)
from ..domain.papers import Paper, PaperFilter
from ..domain.people import User
from ..domain.query import ParsedQuery, parse_query
from ..search.keyword import STOP_WORDS
from ..storage import Store
from ..storage.follows import (
    Mark,
    add_follow,
    catalog_spelling,
    count_follows,
    delete_follow,
    find_follow,
    popular_categories,
    published_times,
    recent_author_lists,
    recent_in_categories,
    recent_organizations,
)
from ..storage.follows import list_follows as stored_follows
from ..storage.papers import find_papers_containing, get_papers
from .searching import SUBSTRING_TERMS, Searcher

# Hits one followed search brings from the keyword leg: its best in the window, by relevance.
# A search matching more papers than this in `following_days` is too broad to read anyway.
SEARCH_DEPTH = 1000
SCAN_PAGE = 2000  # papers read per page when paging through the window (authors, organisations)


class FollowedPaper(NamedTuple):
    """A paper of the window and the reader's follows it matched (in the order followed)."""

    paper: Paper
    follows: list[Follow]


# --- the reader's follows --------------------------------------------------------------------


def list_follows(store: Store, user_id: int) -> list[Follow]:
    """The reader's follows, oldest first."""
    with store.connect() as conn:
        return stored_follows(conn, user_id)


def _category_spellings(text: str) -> list[str]:
    """How the catalog may spell a typed category: as typed, then arXiv's usual case
    (`cs.cl` -> `cs.CL`; `math.ag` -> `math.AG`), then all lowercase (`cond-mat.mes-hall`)."""
    archive, dot, subject = text.partition(".")
    if not dot:
        return [text, archive.lower()]
    return [text, f"{archive.lower()}.{subject.upper()}", f"{archive.lower()}.{subject.lower()}"]


def spell_category(store: Store, text: str) -> str:
    """The category as the catalog files papers under it; BadParameter when the catalog has
    no paper in it (a typo would otherwise be followed forever and match nothing)."""
    check_category(text)
    with store.connect() as conn:
        spelled = catalog_spelling(conn, _category_spellings(text))
    if spelled is None:
        raise BadParameter(f"no paper of this catalog is in the category {text!r}; check it")
    return spelled


def prepare_follow(store: Store, kind: object, text: object) -> NewFollow:
    """Check and normalise what a reader asks to follow; BadParameter naming the problem."""
    kind = check_kind(kind)
    label = clean_label(text)
    if kind == "category":
        label = spell_category(store, label)
        return NewFollow(kind, label, label)
    if kind == "author":
        return NewFollow(kind, normalize_author(label), label)
    if kind == "organization":
        return NewFollow(kind, normalize_organization(label), label)
    query = followed_query(label)
    spelled = {}
    for category in query.categories:
        # A cat: the catalog lacks stays as typed: it matches nothing, as on the search page.
        with suppress(BadParameter):
            spelled[category] = spell_category(store, category)
    return NewFollow(kind, canonical_search(with_categories(query, spelled)), label)


def follow(
    store: Store, config: Config, user: User, kind: object, text: object
) -> tuple[Follow, bool]:
    """Follow something; returns the follow and whether it is new (following it again is not
    an error: the existing follow comes back). TooMany past `follows_max`, or past
    `follow_searches_max` for searches."""
    new = prepare_follow(store, kind, text)
    with store.begin(counted=False) as conn:
        existing = find_follow(conn, user.id, new.kind, new.value)
        if existing is not None:
            return existing, False
        if count_follows(conn, user.id) >= config.follows_max:
            raise TooMany(
                f"You follow {config.follows_max} things, the most one account may "
                "(follows_max): unfollow some first."
            )
        if new.kind == "search" and count_follows(conn, user.id, "search") >= (
            config.follow_searches_max
        ):
            raise TooMany(
                f"You follow {config.follow_searches_max} searches, the most one account may "
                "(follow_searches_max): unfollow one first."
            )
        try:
            return add_follow(conn, user.id, new), True
        except Conflict:  # the same follow, added by a request that ran alongside
            found = find_follow(conn, user.id, new.kind, new.value)
            assert found is not None
            return found, False


def unfollow(store: Store, user: User, follow_id: int) -> Follow:
    """Remove one of the reader's follows; NotFound when the reader has no follow of that id."""
    with store.begin(counted=False) as conn:
        removed = delete_follow(conn, user.id, follow_id)
    if removed is None:
        raise NotFound(f"You follow nothing with the id {follow_id}.")
    return removed


def find_followed(store: Store, user: User, kind: object, text: object) -> Follow | None:
    """The reader's follow of this thing (typed in any of its spellings), or None."""
    new = prepare_follow(store, kind, text)
    with store.connect() as conn:
        return find_follow(conn, user.id, new.kind, new.value)


def popular(store: Store, limit: int = 12) -> list[tuple[str, int]]:
    """Categories to offer a reader who follows nothing: the most filed among recent papers."""
    with store.connect() as conn:
        return popular_categories(conn, limit)


# --- the new papers they match ---------------------------------------------------------------


def window(config: Config, now: datetime) -> tuple[datetime, datetime]:
    """The window a Following page reads: the last `following_days` days up to `now`."""
    return now - timedelta(days=config.following_days), now


def following(
    store: Store,
    searcher: Searcher,
    user_id: int,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[FollowedPaper]:
    """The visible papers published in [since, until) that match any of the reader's
    follows, newest first (ties by arXiv id), at most `limit`, each with every follow it
    matched. No follows give []."""
    return match_follows(store, searcher, list_follows(store, user_id), since, until, limit)


def match_follows(
    store: Store,
    searcher: Searcher,
    follows: list[Follow],
    since: datetime,
    until: datetime,
    limit: int,
) -> list[FollowedPaper]:
    """`following` for a list of follows (a digest can pass one reader's, a test any).

    Exact newest-first: each kind's read returns its own newest `limit` matches, and the
    newest `limit` of the union are among them, so a shown paper lists every follow it
    matched. The one approximation: a search matching more than SEARCH_DEPTH papers in the
    window contributes its SEARCH_DEPTH most relevant."""
    since, until = _stored(since), _stored(until)
    if not follows or limit < 1 or since >= until:
        return []
    found: dict[str, tuple[datetime, set[int]]] = {}

    def matched(arxiv_id: str, published: datetime, follow: Follow) -> None:
        found.setdefault(arxiv_id, (published, set()))[1].add(follow.id)

    kinds: dict[str, list[Follow]] = {}
    for item in follows:
        kinds.setdefault(item.kind, []).append(item)
    with store.connect() as conn:
        categories = {item.value: item for item in kinds.get("category", [])}
        rows = recent_in_categories(conn, list(categories), since, until, limit)
        for arxiv_id, published, filed in rows:
            for category in filed:
                matched(arxiv_id, published, categories[category])
    if "author" in kinds:
        _match_authors(store, kinds["author"], since, until, limit, matched)
    if "organization" in kinds:
        _match_organizations(store, kinds["organization"], since, until, limit, matched)
    for item in kinds.get("search", []):
        _match_search(store, searcher, item, since, until, matched)

    newest = sorted(found, key=lambda i: (found[i][0], i), reverse=True)[:limit]
    order = {item.id: index for index, item in enumerate(follows)}
    by_id = {item.id: item for item in follows}
    with store.connect() as conn:
        papers = get_papers(conn, newest)
    return [
        FollowedPaper(
            paper,
            [by_id[i] for i in sorted(found[paper.arxiv_id][1], key=order.__getitem__)],
        )
        for paper in papers
    ]


Found = Callable[[str, datetime, Follow], None]
Row = TypeVar("Row", bound=tuple[str, datetime, Any])


def _page_through(
    read: Callable[[Mark | None], list[Row]], match: Callable[[Row], bool], limit: int
) -> None:
    """Read the window newest first, a page at a time, until `limit` rows matched or the
    window ends. Rows start with (arxiv_id, published_at)."""
    matches: int = 0
    mark: Mark | None = None
    while True:
        rows = read(mark)
        matches += sum(match(row) for row in rows)
        if matches >= limit or len(rows) < SCAN_PAGE:
            return
        mark = (rows[-1][1], rows[-1][0])


def _match_authors(
    store: Store, follows: list[Follow], since: datetime, until: datetime, limit: int, found: Found
) -> None:
    # Followed names by every surname they may have: a paper's author is compared only with
    # the followed names that share one of its surnames.
    wanted: dict[str, list[tuple[AuthorKey, Follow]]] = {}
    for item in follows:
        key = parse_author_value(item.value)
        for surname in key.surnames:
            wanted.setdefault(surname, []).append((key, item))

    def match(row: tuple[str, datetime, str]) -> bool:
        arxiv_id, published, text = row
        # Cheap first: most papers name none of the followed surnames.
        squashed = squash(fold(text))
        if not any(surname in squashed for surname in wanted):
            return False
        hits: set[Follow] = set()
        for name in json.loads(text):
            key = author_key(name)
            if key is None:
                continue
            for surname in key.surnames:
                hits.update(item for want, item in wanted.get(surname, ()) if want.takes(key))
        for item in hits:
            found(arxiv_id, published, item)
        return bool(hits)

    def read(mark: Mark | None) -> list[tuple[str, datetime, str]]:
        with store.connect() as conn:
            return recent_author_lists(conn, since, until, mark, SCAN_PAGE)

    _page_through(read, match, limit)


def _match_organizations(
    store: Store, follows: list[Follow], since: datetime, until: datetime, limit: int, found: Found
) -> None:
    wanted: dict[str, list[Follow]] = {}
    for item in follows:
        wanted.setdefault(item.value, []).append(item)

    def match(row: tuple[str, datetime, list[str]]) -> bool:
        arxiv_id, published, names = row
        hits = {i for name in names for i in wanted.get(normalize_organization(name), [])}
        for item in hits:
            found(arxiv_id, published, item)
        return bool(hits)

    def read(mark: Mark | None) -> list[tuple[str, datetime, list[str]]]:
        with store.connect() as conn:
            return recent_organizations(conn, since, until, mark, SCAN_PAGE)

    _page_through(read, match, limit)


def required_words(query: ParsedQuery) -> ParsedQuery:
    """The query with every word required: each becomes a one-word phrase, which every
    keyword leg (tantivy, PostgreSQL's full text, the substring stand-in) already requires.
    Function words are dropped unless the query has nothing else."""
    words = list(dict.fromkeys(query.words))
    kept = [word for word in words if word not in STOP_WORDS] or words
    return replace(query, words=[], phrases=[*([w] for w in kept), *query.phrases], long=False)


def _match_search(
    store: Store, searcher: Searcher, item: Follow, since: datetime, until: datetime, found: Found
) -> None:
    query = required_words(parse_query(item.value))
    where = PaperFilter(published=(since, until))
    keyword = searcher.keyword()
    if keyword is not None:
        ids = [hit.arxiv_id for hit in keyword.search(query, limit=SEARCH_DEPTH, where=where)]
    else:  # SQLite before any index: the same stand-in the search page uses
        terms = [*(w for p in query.phrases for w in p), *query.authors][:SUBSTRING_TERMS]
        with store.connect() as conn:
            ids = find_papers_containing(conn, terms, query.filter(where), SEARCH_DEPTH)
    with store.connect() as conn:
        times = published_times(conn, ids)
    for arxiv_id, published in times.items():
        if since <= published < until:  # the index keeps whole seconds
            found(arxiv_id, published, item)


def _stored(moment: datetime) -> datetime:
    """Naive UTC, as times are stored; an aware time is converted."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
