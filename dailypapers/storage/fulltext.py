"""PostgreSQL's own full text, the keyword leg until the tantivy index exists: the
`search_vector` column (title A, authors B, abstract D; migration 0003) matched with a tsquery
built from a ParsedQuery and ranked by ts_rank_cd, with the filters in the same statement.
Words hold only word characters, so the tsquery text is always valid."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.papers import PaperFilter
from ..domain.query import ParsedQuery
from .filters import paper_conditions
from .schema import papers

_VECTOR: sa.ColumnClause[Any] = sa.literal_column("papers.search_vector")
_ENGLISH: sa.ColumnClause[Any] = sa.literal_column("'english'::regconfig")
_SIMPLE: sa.ColumnClause[Any] = sa.literal_column("'simple'::regconfig")


def _tsquery(query: ParsedQuery) -> tuple[str, str]:
    """(english part, simple part): words OR'ed, phrases and exclusions in the english part,
    authors (required, unstemmed) in the simple part."""
    parts: list[str] = []
    if query.words:
        parts.append("(" + " | ".join(query.words) + ")")
    parts += ["(" + " <-> ".join(phrase) + ")" for phrase in query.phrases]
    english = " & ".join(parts)
    excluded = [f"!{word}" for word in query.excluded_words]
    excluded += ["!(" + " <-> ".join(phrase) + ")" for phrase in query.excluded_phrases]
    if english and excluded:
        english = f"({english}) & " + " & ".join(excluded)
    simple = " & ".join(f"{author}:B" for author in query.authors)
    return english, simple


def _matches(tsquery: sa.ColumnElement[object]) -> sa.ColumnElement[bool]:
    return _VECTOR.op("@@", return_type=sa.Boolean)(tsquery)


def fulltext_search(
    conn: Connection, query: ParsedQuery, where: PaperFilter, limit: int
) -> list[tuple[str, float]]:
    """(arxiv_id, score) best first; a query of filters alone lists the newest papers passing
    them; [] when the query asks for nothing. PostgreSQL only."""
    english, simple = _tsquery(query)
    if not (english or simple or where.categories or where.years):
        return []
    terms = []
    if english:
        terms.append(sa.func.to_tsquery(_ENGLISH, english))
    if simple:
        terms.append(sa.func.to_tsquery(_SIMPLE, simple))
    conditions = [papers.c.hidden.is_(False), *paper_conditions(where)]
    score: sa.ColumnElement[float]
    if terms:
        combined = terms[0] if len(terms) == 1 else terms[0].op("&&")(terms[1])
        conditions.append(_matches(combined))
        score = sa.func.ts_rank_cd(_VECTOR, combined, 1)
        if len(query.words) > 1:
            # ts_rank_cd has no notion of how rare a word is, so one frequent word can beat a
            # paper that matches most of the query; scaling by the share of query words
            # matched (Lucene's coordination factor) restores that.
            matched = sum(
                (
                    sa.cast(_matches(sa.func.to_tsquery(_ENGLISH, word)), sa.Integer)
                    for word in query.words
                ),
                sa.literal(0),
            )
            share = sa.cast(matched, sa.Float) / len(query.words)
            score = score * sa.func.power(share, 2)
    else:  # filters alone: newest first
        score = sa.literal(0.0)
    statement = (
        sa.select(papers.c.arxiv_id, score.label("score"))
        .where(*conditions)
        .order_by(sa.desc("score"), papers.c.published_at.desc().nulls_last(), papers.c.arxiv_id)
        .limit(limit)
    )
    return [(row.arxiv_id, float(row.score)) for row in conn.execute(statement)]
