"""The keyword leg on PostgreSQL: the `search_vector` column (title A, authors B, abstract D;
migration 0003) matched with a tsquery built from ParsedQuery and ranked by ts_rank_cd, with
the filters in the same statement. Words hold only word characters, so the tsquery text is
always valid."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..storage import Store
from .keyword import KeywordHit
from .query import ParsedQuery


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


class FullTextSearch:
    """Same interface as KeywordIndex.search, answered by PostgreSQL."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def search(
        self, query: ParsedQuery, *, limit: int = 20, has_code: bool = False
    ) -> list[KeywordHit]:
        english, simple = _tsquery(query)
        if not (english or simple or query.categories or query.years):
            return []
        params: dict[str, Any] = {"limit": limit}
        terms = []
        if english:
            terms.append("to_tsquery('english', :english)")
            params["english"] = english
        if simple:
            terms.append("to_tsquery('simple', :simple)")
            params["simple"] = simple
        conditions = ["NOT p.hidden"]
        if terms:
            conditions.append("p.search_vector @@ q.query")
            # ts_rank_cd has no notion of how rare a word is, so one frequent word can beat a
            # paper that matches most of the query; scaling by the share of query words
            # matched (Lucene's coordination factor) restores that.
            rank = "ts_rank_cd(p.search_vector, q.query, 1)"
            if len(query.words) > 1:
                matched = " + ".join(
                    f"(p.search_vector @@ to_tsquery('english', :w{i}))::int"
                    for i in range(len(query.words))
                )
                params.update({f"w{i}": word for i, word in enumerate(query.words)})
                rank = f"{rank} * power(({matched})::float / {len(query.words)}, 2)"
            source = f"papers p, (SELECT {' && '.join(terms)} AS query) q"
        else:  # filters alone: newest first
            rank = "0.0"
            source = "papers p"
        if query.categories:
            conditions.append(
                "EXISTS (SELECT 1 FROM paper_categories c WHERE c.arxiv_id = p.arxiv_id "
                "AND c.category = ANY(:categories))"
            )
            params["categories"] = list(query.categories)
        if query.years:
            conditions.append(
                "p.published_at >= make_date(:first, 1, 1) "
                "AND p.published_at < make_date(:last + 1, 1, 1)"
            )
            params["first"], params["last"] = query.years
        if has_code:
            conditions.append("p.has_code")
        sql = (
            f"SELECT p.arxiv_id, {rank} AS score FROM {source} "
            f"WHERE {' AND '.join(conditions)} "
            "ORDER BY score DESC, p.published_at DESC NULLS LAST, p.arxiv_id LIMIT :limit"
        )
        with self.store.connect() as conn:
            rows = conn.execute(sa.text(sql), params).all()
        return [KeywordHit(row.arxiv_id, float(row.score)) for row in rows]
