"""Searching the catalog, the one way the search page, its feed, the JSON API and the CLI do
it: an arXiv id or URL jumps to that paper; otherwise the hybrid ranking (keyword and semantic
legs, filters inside each); while no index of any kind exists, a plain substring search stands
in. Also the papers similar to a paper. docs/search.md describes the whole."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Config
from ..domain.papers import NO_FILTER, DailyItem, Paper, PaperFilter
from ..domain.query import ParsedQuery, parse_query
from ..search.backends import KeywordSearch, SemanticSearch, keyword_backend, semantic_backend
from ..search.hybrid import hybrid_search
from ..search.keyword import KeywordIndex
from ..search.vector import Embedder
from ..storage import Store
from ..storage.comments import comment_counts
from ..storage.daily import daily_entries
from ..storage.papers import find_papers_containing, get_papers
from ..storage.vectors import has_vectors, vector_of

SUBSTRING_TERMS = 12  # words the stand-in substring search looks for, at most


@dataclass
class Found:
    """A paper in results: the paper, its daily-list entry (or None), its visible comments."""

    paper: Paper
    entry: DailyItem | None
    comments: int = 0
    similarity: float | None = None


@dataclass
class Results:
    """What a search found, best first. `searched` is False when the query and the page's
    filter asked for nothing; `indexed` is False while no index of any kind exists (the
    results then come from the substring search)."""

    query: ParsedQuery
    found: list[Found] = field(default_factory=list)
    searched: bool = True
    indexed: bool = True


class Searcher:
    """Searches one catalog. Keep one per process: it holds the keyword index once built and
    the embedder, whose model loads on the first query that needs it."""

    def __init__(self, store: Store, config: Config, embedder: Embedder | None) -> None:
        self.store, self.config, self.embedder = store, config, embedder
        self._keyword: KeywordIndex | None = None

    @property
    def keyword_index(self) -> KeywordIndex | None:
        """The tantivy index this searcher holds, once it has found one."""
        return self._keyword

    def keyword(self) -> KeywordSearch | None:
        """The keyword leg: the tantivy index once built (kept for the process's life); before
        that PostgreSQL's full text or None (SQLite), asked again each time so the index is
        picked up as soon as the indexer has built it."""
        if self._keyword is not None:
            return self._keyword
        found = keyword_backend(self.store, self.config.data_dir)
        if isinstance(found, KeywordIndex):
            self._keyword = found
        return found

    def semantic(self) -> SemanticSearch | None:
        """The semantic leg, when the catalog has vectors from this process's model."""
        if self.embedder is None:
            return None
        with self.store.connect() as conn:
            if not has_vectors(conn, self.embedder.name):
                return None
        return semantic_backend(self.store, self.config.data_dir, self.embedder.name)

    def search(
        self, text: str | ParsedQuery, where: PaperFilter = NO_FILTER, limit: int = 20
    ) -> Results:
        """Visible papers for a query string (or a parsed query) and the page's filter, best
        first, at most `limit`. An id or URL gives that paper alone (if the catalog has it)."""
        query = parse_query(text) if isinstance(text, str) else text
        results = Results(query)
        wanted = query.filter(where)
        if query.paper_id:
            ids = [query.paper_id]
        elif query.empty and not (wanted.categories or wanted.years):
            # Nothing asked (a code-only filter is not a search: it would list the catalog).
            results.searched = False
            ids = []
        else:
            keyword = self.keyword()
            hits = hybrid_search(
                self.store,
                query,
                keyword=keyword,
                semantic=self.semantic(),
                embedder=self.embedder,
                limit=limit,
                where=where,
                depth=self.config.fusion_depth,
                keyword_share=self.config.fusion_keyword_share,
                keyword_share_long=self.config.fusion_keyword_share_long,
            )
            ids = [hit.arxiv_id for hit in hits]
            if not ids and keyword is None:  # no index of any kind yet
                results.indexed = False
                terms = [*query.words, *(w for p in query.phrases for w in p), *query.authors]
                with self.store.connect() as conn:
                    ids = find_papers_containing(conn, terms[:SUBSTRING_TERMS], wanted, limit)
        results.found = self._found(ids)
        return results

    def similar(self, arxiv_id: str, limit: int = 10) -> list[Found] | None:
        """The visible papers closest in meaning to a paper, closest first, the paper itself
        left out, each with its cosine `similarity`; None while the paper has no vector."""
        if self.embedder is None:
            return None
        model = self.embedder.name
        with self.store.connect() as conn:
            vector = vector_of(conn, arxiv_id, model)
        if vector is None:
            return None
        semantic = semantic_backend(self.store, self.config.data_dir, model)
        nearest = semantic.nearest(vector, limit, [arxiv_id])
        found = self._found([arxiv_id for arxiv_id, _ in nearest])
        scores = dict(nearest)
        for item in found:
            item.similarity = scores[item.paper.arxiv_id]
        return found

    def _found(self, ids: list[str]) -> list[Found]:
        if not ids:
            return []
        with self.store.connect() as conn:
            papers = get_papers(conn, ids)
            visible = [p.arxiv_id for p in papers]
            entries = daily_entries(conn, visible)
            counts = comment_counts(conn, visible)
        return [Found(p, entries.get(p.arxiv_id), counts.get(p.arxiv_id, 0)) for p in papers]
