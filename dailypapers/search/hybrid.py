"""Hybrid search: the keyword leg and the semantic leg, each with the filters applied inside
it, fused by weighted reciprocal rank.

    score(paper) = sum over legs of  weight_leg / (rrf_k + rank_in_leg)

A long query (a pasted abstract) goes to the semantic leg alone; a query of filters or authors
alone to the keyword leg alone. Exclusions are honoured in both legs (the semantic leg drops
papers whose title or abstract contains an excluded word or phrase).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ..domain.papers import NO_FILTER, PaperFilter
from ..domain.query import ParsedQuery
from ..storage import Store
from ..storage.papers import get_papers
from .backends import KeywordSearch, SemanticSearch
from .keyword import KeywordHit
from .vector import Embedder

RRF_K = 60
_LEGS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="keyword-leg")


@dataclass(frozen=True)
class Hit:
    arxiv_id: str
    score: float
    keyword_rank: int | None
    semantic_rank: int | None


def fuse_rankings(
    rankings: Sequence[tuple[Sequence[str], float]], k: int = RRF_K
) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion of ranked id lists, best first; ties by first seen.

    >>> fuse_rankings([(["a", "b"], 1.0), (["b", "c"], 1.0)])[0][0]
    'b'
    """
    scores: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def semantic_text(query: ParsedQuery) -> str:
    """The words of a query as the model should read them (filters and exclusions left out)."""
    parts = [" ".join(query.words)] + [" ".join(p) for p in query.phrases]
    return " ".join(p for p in parts if p).strip()


def _excluded(text: str, query: ParsedQuery) -> bool:
    lowered = " " + " ".join(re.findall(r"\w+", text.lower())) + " "
    return any(f" {w} " in lowered for w in query.excluded_words) or any(
        f" {' '.join(p)} " in lowered for p in query.excluded_phrases
    )


def hybrid_search(
    store: Store,
    query: ParsedQuery,
    *,
    keyword: KeywordSearch | None,
    semantic: SemanticSearch | None,
    embedder: Embedder | None,
    limit: int = 20,
    where: PaperFilter = NO_FILTER,
    depth: int = 100,
    keyword_weight: float = 1.5,
    semantic_weight: float = 1.0,
) -> list[Hit]:
    """The fused ranking for `query` with the page's filter `where` (ParsedQuery.filter), best
    first, at most `limit` papers. A leg given as None is left out; the semantic leg needs
    both the index (`semantic`) and the model that made its vectors (`embedder`)."""
    keyword_ids: list[str] = []
    semantic_ids: list[str] = []
    text = semantic_text(query)
    keyword_leg: Future[list[KeywordHit]] | None = None
    if keyword is not None and not query.long:
        # The keyword leg runs while the query is embedded (torch releases the GIL).
        keyword_leg = _LEGS.submit(keyword.search, query, limit=depth, where=where)
    if semantic is not None and embedder is not None and text and not query.authors:
        vector = embedder.embed_query(text[:4000])
        found = [
            arxiv_id for arxiv_id, _ in semantic.nearest(vector, depth, (), query.filter(where))
        ]
        if query.excluded_words or query.excluded_phrases:
            with store.connect() as conn:
                papers = get_papers(conn, found)
            found = [p.arxiv_id for p in papers if not _excluded(f"{p.title} {p.abstract}", query)]
        semantic_ids = found
    if keyword_leg is not None:
        keyword_ids = [hit.arxiv_id for hit in keyword_leg.result()]
    fused = fuse_rankings([(keyword_ids, keyword_weight), (semantic_ids, semantic_weight)])
    keyword_rank = {i: r for r, i in enumerate(keyword_ids, 1)}
    semantic_rank = {i: r for r, i in enumerate(semantic_ids, 1)}
    return [Hit(i, s, keyword_rank.get(i), semantic_rank.get(i)) for i, s in fused[:limit]]
