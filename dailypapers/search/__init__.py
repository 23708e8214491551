"""Search: the query language (query.py); the keyword leg, a tantivy index beside the
database (keyword.py; PostgreSQL's own full text, fulltext.py, until one is built); the
semantic leg (vector.py, ann.py) and their fusion (hybrid.py); index upkeep (background.py).
docs/search.md describes the whole."""

from __future__ import annotations

from typing import Any, Protocol

from ..storage import Store
from .keyword import KeywordHit, KeywordIndex
from .query import ParsedQuery


class KeywordSearch(Protocol):
    def search(
        self, query: ParsedQuery, *, limit: int = 20, has_code: bool = False
    ) -> list[KeywordHit]: ...


def keyword_search(store: Store, data_dir: str) -> KeywordSearch | None:
    """The keyword leg: the tantivy index in `data_dir` once one has been built (on either
    database); before that, PostgreSQL's own full text, or None on SQLite."""
    index = KeywordIndex.for_data_dir(data_dir)
    if index.watermark is not None:
        return index
    if store.dialect == "postgresql":
        from .fulltext import FullTextSearch

        return FullTextSearch(store)
    return None


def run_hybrid(
    store: Store,
    config: Any,
    query: ParsedQuery,
    *,
    keyword: KeywordSearch | None,
    embedder: Any,
    limit: int,
    has_code: bool = False,
) -> list[str]:
    """Ids for a parsed query, best first: hybrid when the catalog has vectors from
    `embedder`'s model, keyword alone otherwise. `config` is the loaded Config."""
    from ..storage.vectors import has_vectors
    from .hybrid import hybrid_search

    semantic = None
    if embedder is not None:
        with store.connect() as conn:
            if has_vectors(conn, embedder.name):
                semantic = embedder
    hits = hybrid_search(
        store,
        query,
        keyword=keyword,
        embedder=semantic,
        limit=limit,
        has_code=has_code,
        depth=config.fusion_depth,
        keyword_weight=config.fusion_keyword_weight,
        semantic_weight=config.fusion_semantic_weight,
        data_dir=config.data_dir,
    )
    return [hit.arxiv_id for hit in hits]
