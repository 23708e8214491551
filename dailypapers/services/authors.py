"""An author's page, the one way the page `/authors/{name}`, its JSON twin and anything else
that shows an author do it: the spellings of the catalog that name the person asked for
(domain/authors.py's rule for pages), their papers newest first, a page at a time, and over
their newest papers the co-authors and categories, each with a count.

Why it stays fast on a big catalog: the name's surname and first initial are one indexed
look-up in `paper_authors` (every spelling filed under them with its count: only names that
share both can be one person), the grouping runs on those spellings in Python, and the papers
are read by id, a page at a time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..domain.authors import AuthorGroup, author_key, group_spellings
from ..domain.errors import BadParameter, NotFound
from ..domain.papers import Paper
from ..storage import Store
from ..storage.authors import (
    category_counts,
    coauthor_counts,
    newest_ids,
    papers_by_names,
    spelling_counts,
)
from ..storage.papers import get_papers

MAX_NAME = 300  # characters: longer than any author of arXiv's
COAUTHORS_SHOWN = 40


@dataclass(frozen=True)
class AuthorPage:
    """One page of an author: `group` says which spellings were merged (and which other people
    an initial could stand for); `coauthors` are (spelling, papers together) and `categories`
    (category, papers), most first, over the newest COUNTED_PAPERS of their papers."""

    group: AuthorGroup
    counts: dict[str, int]  # papers per spelling of `group.spellings`
    papers: list[Paper]
    total: int
    page: int
    page_size: int
    coauthors: list[tuple[str, int]]
    categories: list[tuple[str, int]]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def clean_name(text: str) -> str:
    """An author's name from a URL with its spaces collapsed; BadParameter when it is too long,
    NotFound when it holds no letters (no paper can have such an author)."""
    name = " ".join(text.replace("\x00", " ").split())
    if len(name) > MAX_NAME:
        raise BadParameter(f"an author's name is at most {MAX_NAME} characters")
    if author_key(name) is None:
        raise NotFound(f"No author is named {name[:80]!r}: a name needs letters.")
    return name


def author_page(store: Store, text: str, page: int = 1, page_size: int = 50) -> AuthorPage:
    """The author named `text` (as arXiv writes names): page `page` of their papers, newest
    first. NotFound when no visible paper has an author of that name (or a grouped one)."""
    name = clean_name(text)
    key = author_key(name)
    assert key is not None
    with store.connect() as conn:
        counts = spelling_counts(conn, key.surnames, key.initial)
        group = group_spellings(name, counts)
        found = [s for s in group.spellings if counts.get(s)]
        if not found:
            raise NotFound(f"No paper of this catalog has an author named {name[:80]!r}.")
        offset = (page - 1) * page_size
        ids, total = papers_by_names(conn, key.surnames, key.initial, found, offset, page_size)
        papers = get_papers(conn, ids)
        if total <= page_size and page == 1:
            newest = ids
        else:
            newest = newest_ids(conn, key.surnames, key.initial, found)
        together = coauthor_counts(conn, newest, group.spellings)
        categories = category_counts(conn, newest)
    return AuthorPage(
        group=group,
        counts={s: counts.get(s, 0) for s in group.spellings},
        papers=papers,
        total=total,
        page=page,
        page_size=page_size,
        coauthors=_merge_coauthors(together),
        categories=categories,
    )


def _merge_coauthors(together: dict[str, int]) -> list[tuple[str, int]]:
    """Co-author spellings with the same key (`Ada Lovelace`, `ADA LOVELACE`) counted as one,
    under the spelling seen most (one not all in capitals on a tie); the most papers together
    first, then by name."""
    shown: dict[str, str] = {}  # key -> the spelling shown
    totals: Counter[str] = Counter()
    for spelling, count in sorted(together.items(), key=lambda i: (-i[1], i[0].isupper(), i[0])):
        key = author_key(spelling)
        label = str(key) if key is not None else spelling
        shown.setdefault(label, spelling)
        totals[label] += count
    ranked = sorted(((shown[label], total) for label, total in totals.items()), key=_most_first)
    return ranked[:COAUTHORS_SHOWN]


def _most_first(pair: tuple[str, int]) -> tuple[int, str]:
    return -pair[1], pair[0]


def person_entries(store: Store, name: str, limit: int = 500) -> list[tuple[Paper, int, str]]:
    """The author entries of the person `name` names (the spellings their page merges), on
    their newest `limit` visible papers: (paper, place in its author list, spelling). What a
    claimant confirms after a claim is approved (services/claims.py)."""
    key = author_key(name)
    if key is None:
        return []
    with store.connect() as conn:
        group = group_spellings(name, spelling_counts(conn, key.surnames, key.initial))
        ids, _ = papers_by_names(conn, key.surnames, key.initial, group.spellings, 0, limit)
        papers = get_papers(conn, ids)
    spellings = set(group.spellings)
    return [
        (paper, position, spelling)
        for paper in papers
        for position, spelling in enumerate(paper.authors)
        if spelling in spellings
    ]
