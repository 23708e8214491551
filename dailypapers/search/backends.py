"""The one place that picks the search backends for a catalog: which keyword leg and which
semantic leg answer, and which indexes beside the database need upkeep.

| catalog    | keyword leg                                   | semantic leg                 |
|------------|-----------------------------------------------|------------------------------|
| SQLite     | tantivy (keyword.py), none before it is built | usearch (ann.py), exact scan before it is built |
| PostgreSQL | tantivy, the database's full text before it   | pgvector's HNSW index        |
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ..domain.papers import NO_FILTER, PaperFilter
from ..domain.query import ParsedQuery
from ..storage import Store
from ..storage.fulltext import fulltext_search
from ..storage.vectors import nearest
from .ann import VectorIndex, semantic_neighbours
from .keyword import KeywordHit, KeywordIndex

Progress = Callable[[int, int], None]
# The usearch index is rewritten when this many vectors wait, or when the oldest has waited
# this long; until then searches compare the waiting ones exactly (ann.py).
VECTOR_DELTA_MAX = 2000
VECTOR_DELTA_SECONDS = 3600.0


class KeywordSearch(Protocol):
    def search(
        self, query: ParsedQuery, *, limit: int = 20, where: PaperFilter = NO_FILTER
    ) -> list[KeywordHit]:
        """Best matches first, the query's filters and `where`'s applied."""
        ...


class SemanticSearch(Protocol):
    def nearest(
        self,
        vector: np.ndarray,
        limit: int,
        exclude: Sequence[str] = (),
        where: PaperFilter = NO_FILTER,
    ) -> list[tuple[str, float]]:
        """(arxiv_id, cosine similarity) closest first, filter applied, `exclude` left out."""
        ...

    def update_index(self, progress: Progress | None = None, *, rebuild: bool = False) -> int:
        """Bring the index beside the database up to date; returns the vectors added."""
        ...

    def update_index_if_due(self) -> int:
        """Update the index when enough vectors wait for it (a background round)."""
        ...

    def index_size(self) -> int | None:
        """Vectors in the index beside the database; None when the database keeps its own."""
        ...


class FullText:
    """PostgreSQL's full text as a keyword leg (until the tantivy index is built)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def search(
        self, query: ParsedQuery, *, limit: int = 20, where: PaperFilter = NO_FILTER
    ) -> list[KeywordHit]:
        with self.store.connect() as conn:
            found = fulltext_search(conn, query, query.filter(where), limit)
        return [KeywordHit(arxiv_id, score) for arxiv_id, score in found]


class StoredVectors:
    """The database's own neighbour search: pgvector's HNSW index on PostgreSQL (which the
    database keeps current), an exact scan of the stored vectors on SQLite."""

    def __init__(self, store: Store, model: str) -> None:
        self.store, self.model = store, model

    def nearest(
        self,
        vector: np.ndarray,
        limit: int,
        exclude: Sequence[str] = (),
        where: PaperFilter = NO_FILTER,
    ) -> list[tuple[str, float]]:
        with self.store.connect() as conn:
            return nearest(conn, vector, self.model, limit, exclude, where=where)

    def update_index(self, progress: Progress | None = None, *, rebuild: bool = False) -> int:
        return 0

    def update_index_if_due(self) -> int:
        return 0

    def index_size(self) -> int | None:
        return None


class IndexedVectors:
    """SQLite: the usearch index in the data folder, plus an exact look at what it lacks."""

    def __init__(self, store: Store, data_dir: str, model: str) -> None:
        self.store, self.data_dir, self.model = store, data_dir, model

    def nearest(
        self,
        vector: np.ndarray,
        limit: int,
        exclude: Sequence[str] = (),
        where: PaperFilter = NO_FILTER,
    ) -> list[tuple[str, float]]:
        return semantic_neighbours(
            self.store, self.data_dir, self.model, vector, limit, exclude, where=where
        )

    def update_index(self, progress: Progress | None = None, *, rebuild: bool = False) -> int:
        index = VectorIndex.for_data_dir(self.data_dir, self.model)
        return (
            index.rebuild(self.store, progress) if rebuild else index.update(self.store, progress)
        )

    def update_index_if_due(self) -> int:
        index = VectorIndex.for_data_dir(self.data_dir, self.model)
        waiting = index.pending(self.store)
        age = time.time() - index.saved_at if index.saved_at else float("inf")
        # Searches compare the vectors saved since the index was written exactly, so
        # rewriting the whole index file can wait for a bigger delta or an hour.
        if waiting >= VECTOR_DELTA_MAX or (waiting and age > VECTOR_DELTA_SECONDS):
            return index.update(self.store)
        return 0

    def index_size(self) -> int | None:
        return len(VectorIndex.for_data_dir(self.data_dir, self.model))


def keyword_backend(store: Store, data_dir: str) -> KeywordSearch | None:
    """The keyword leg: the tantivy index in `data_dir` once one has been built (on either
    database); before that, PostgreSQL's own full text, or None on SQLite."""
    index = KeywordIndex.for_data_dir(data_dir)
    if index.watermark is not None:
        return index
    if store.dialect == "postgresql":
        return FullText(store)
    return None


def semantic_backend(store: Store, data_dir: str, model: str) -> SemanticSearch:
    """The semantic leg for vectors of `model`: pgvector on PostgreSQL, usearch on SQLite."""
    if store.dialect == "postgresql":
        return StoredVectors(store, model)
    return IndexedVectors(store, data_dir, model)
