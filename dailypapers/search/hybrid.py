"""Hybrid search: the keyword leg and the semantic leg, each with the filters applied inside
it, fused by a convex combination of their scores:

    score(paper) = share * bm25(paper) / best bm25  +  (1 - share) * cosine(paper)

A paper one leg did not bring gets that leg's last (lowest) score among the `depth` it did
bring: it scores at most that. `share` is the `fusion_keyword_share` setting, or
`fusion_keyword_share_long` for a query of more than LONG_QUERY_WORDS words. Why scores and
not ranks: on the independent queries (bench/fusion.py, tuned on one half, reported on the
other) reciprocal rank fusion fell below the keyword leg alone, because it throws away how far
ahead a leg's first paper is; the convex combination kept the better leg's ranking where one
leg was sure and mixed them where neither was (docs/search.md has the numbers).

A query of filters or authors alone goes to the keyword leg alone; a passage (a pasted
abstract) goes to both, the keyword leg searching its most distinctive words. Exclusions are
honoured in both legs (the semantic leg drops papers whose title or abstract contains an
excluded word or phrase).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ..config import FUSION_KEYWORD_SHARE, FUSION_KEYWORD_SHARE_LONG
from ..domain.papers import NO_FILTER, PaperFilter
from ..domain.query import ParsedQuery
from ..storage import Store
from ..storage.papers import get_papers
from .backends import KeywordSearch, SemanticSearch
from .keyword import KeywordHit
from .vector import Embedder

# Longer queries are descriptions or pasted abstracts, where the keyword leg is surer (its
# distinctive words rarely all meet in a wrong paper): they get the larger keyword share.
LONG_QUERY_WORDS = 20
_LEGS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="keyword-leg")


@dataclass(frozen=True)
class Hit:
    arxiv_id: str
    score: float
    keyword_rank: int | None
    semantic_rank: int | None


def fuse_scores(
    keyword: Sequence[tuple[str, float]], semantic: Sequence[tuple[str, float]], share: float
) -> list[tuple[str, float]]:
    """The convex combination of two legs' (id, score) lists, each best first: the keyword
    leg's scores divided by its best, the semantic leg's cosines as they are, a paper a leg
    did not bring given that leg's lowest score. Best first; ties keep the keyword leg's
    order, then the semantic leg's.

    >>> fused = fuse_scores([("a", 8.0), ("b", 4.0)], [("b", 0.9), ("c", 0.5)], 0.5)
    >>> [(item, round(score, 3)) for item, score in fused]
    [('a', 0.75), ('b', 0.7), ('c', 0.5)]
    """
    top = keyword[0][1] if keyword and keyword[0][1] > 0 else 1.0
    words = {item: score / top for item, score in keyword}
    meaning = dict(semantic)
    words_floor = keyword[-1][1] / top if keyword else 0.0
    meaning_floor = semantic[-1][1] if semantic else 0.0
    fused = {
        item: share * words.get(item, words_floor) + (1 - share) * meaning.get(item, meaning_floor)
        for item in [*words, *(i for i in meaning if i not in words)]
    }
    return sorted(fused.items(), key=lambda pair: -pair[1])


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
    keyword_share: float = FUSION_KEYWORD_SHARE,
    keyword_share_long: float = FUSION_KEYWORD_SHARE_LONG,
) -> list[Hit]:
    """The fused ranking for `query` with the page's filter `where` (ParsedQuery.filter), best
    first, at most `limit` papers. A leg given as None is left out; the semantic leg needs
    both the index (`semantic`) and the model that made its vectors (`embedder`)."""
    keyword_hits: list[tuple[str, float]] = []
    semantic_hits: list[tuple[str, float]] = []
    text = semantic_text(query)
    keyword_leg: Future[list[KeywordHit]] | None = None
    if keyword is not None:
        # The keyword leg runs while the query is embedded (torch releases the GIL).
        keyword_leg = _LEGS.submit(keyword.search, query, limit=depth, where=where)
    if semantic is not None and embedder is not None and text and not query.authors:
        vector = embedder.embed_query(text[:4000])
        semantic_hits = semantic.nearest(vector, depth, (), query.filter(where))
        if query.excluded_words or query.excluded_phrases:
            with store.connect() as conn:
                papers = get_papers(conn, [arxiv_id for arxiv_id, _ in semantic_hits])
            kept = {p.arxiv_id for p in papers if not _excluded(f"{p.title} {p.abstract}", query)}
            semantic_hits = [hit for hit in semantic_hits if hit[0] in kept]
    if keyword_leg is not None:
        keyword_hits = [(hit.arxiv_id, hit.score) for hit in keyword_leg.result()]
    long = len(text.split()) > LONG_QUERY_WORDS
    fused = fuse_scores(keyword_hits, semantic_hits, keyword_share_long if long else keyword_share)
    keyword_rank = {i: r for r, (i, _) in enumerate(keyword_hits, 1)}
    semantic_rank = {i: r for r, (i, _) in enumerate(semantic_hits, 1)}
    return [Hit(i, s, keyword_rank.get(i), semantic_rank.get(i)) for i, s in fused[:limit]]
