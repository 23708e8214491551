"""The reads of an author's page, from `paper_authors` (written with each paper by
storage/papers.py): the spellings of a surname with their paper counts, a group of spellings'
papers newest first, their co-authors and categories. Which spellings are one person is
domain/authors.py's rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .papers import id_chunks
from .schema import paper_authors, paper_categories, papers

# An author's co-authors and categories are counted over this many of their newest papers:
# a collaboration of thousands of papers would otherwise cost seconds per page.
COUNTED_PAPERS = 2000


def spelling_counts(conn: Connection, surnames: Sequence[str], initial: str) -> dict[str, int]:
    """Every spelling of an author filed under one of `surnames` and `initial` (the first
    letter of the first given name, domain/authors.py IndexedName) in a visible paper, with
    the number of visible papers it is on: {"Yann LeCun": 12, "Y. LeCun": 3}. No surnames
    give {}."""
    if not surnames:
        return {}
    count = sa.func.count(sa.distinct(paper_authors.c.arxiv_id))
    query = (
        sa.select(paper_authors.c.name, count)
        .select_from(paper_authors.join(papers))
        .where(*_filed(surnames, initial), papers.c.hidden.is_(False))
        .group_by(paper_authors.c.name)
    )
    return {row[0]: int(row[1]) for row in conn.execute(query)}


def _filed(surnames: Sequence[str], initial: str) -> list[sa.ColumnElement[bool]]:
    # What ix_paper_authors_surname finds: a few hundred rows for the commonest surname.
    return [paper_authors.c.surname.in_(list(surnames)), paper_authors.c.initial == initial]


def _authored(surnames: Sequence[str], initial: str, names: Sequence[str]) -> sa.Select[Any]:
    return sa.select(paper_authors.c.arxiv_id).where(
        *_filed(surnames, initial), paper_authors.c.name.in_(list(names))
    )


def papers_by_names(
    conn: Connection,
    surnames: Sequence[str],
    initial: str,
    names: Sequence[str],
    offset: int,
    limit: int,
) -> tuple[list[str], int]:
    """A page of the visible papers with an author spelled as one of `names` (filed under
    `surnames` and `initial`), newest published first (then by id, descending), and how many there are in
    all. No names give ([], 0)."""
    if not names:
        return [], 0
    authored = papers.c.arxiv_id.in_(_authored(surnames, initial, names))
    shown = (papers.c.hidden.is_(False), authored)
    total = conn.execute(sa.select(sa.func.count()).select_from(papers).where(*shown)).scalar_one()
    query = (
        sa.select(papers.c.arxiv_id)
        .where(*shown)
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.arxiv_id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(query).scalars()), int(total)


def newest_ids(
    conn: Connection,
    surnames: Sequence[str],
    initial: str,
    names: Sequence[str],
    limit: int = COUNTED_PAPERS,
) -> list[str]:
    """The ids of the newest `limit` visible papers by `names` (what co-authors and categories
    are counted over)."""
    found, _ = papers_by_names(conn, surnames, initial, names, 0, limit)
    return found


def coauthor_counts(
    conn: Connection, arxiv_ids: Sequence[str], skip: Sequence[str]
) -> Counter[str]:
    """How many of `arxiv_ids` each other spelling of an author is on, leaving out `skip`
    (the author's own spellings): Counter({"Ada Lovelace": 3, ...})."""
    skipped = set(skip)
    counts: Counter[str] = Counter()
    for chunk in id_chunks(list(arxiv_ids)):
        query = sa.select(paper_authors.c.arxiv_id, paper_authors.c.name).where(
            paper_authors.c.arxiv_id.in_(chunk)
        )
        seen = {(row.arxiv_id, row.name) for row in conn.execute(query)}
        counts.update(name for _, name in seen if name not in skipped)
    return counts


def category_counts(conn: Connection, arxiv_ids: Sequence[str]) -> list[tuple[str, int]]:
    """The categories `arxiv_ids` are filed under (primary or cross-list) with how many of
    them each, most first (then by name)."""
    counts: Counter[str] = Counter()
    for chunk in id_chunks(list(arxiv_ids)):
        query = sa.select(paper_categories.c.category).where(paper_categories.c.arxiv_id.in_(chunk))
        counts.update(conn.execute(query).scalars())
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
