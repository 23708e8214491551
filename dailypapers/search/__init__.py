"""Search: the query language (query.py) and the keyword leg: a tantivy index beside the
database on SQLite (keyword.py), the database's own full text on PostgreSQL (fulltext.py).
The semantic leg and fusion follow (issue 4)."""

from __future__ import annotations

from typing import Protocol

from ..storage import Store
from .keyword import KeywordHit, KeywordIndex
from .query import ParsedQuery


class KeywordSearch(Protocol):
    def search(
        self, query: ParsedQuery, *, limit: int = 20, has_code: bool = False
    ) -> list[KeywordHit]: ...


def keyword_search(store: Store, data_dir: str) -> KeywordSearch | None:
    """The keyword leg for this store; None on SQLite while no index has been built."""
    if store.dialect == "postgresql":
        from .fulltext import FullTextSearch

        return FullTextSearch(store)
    index = KeywordIndex.for_data_dir(data_dir)
    return index if index.watermark is not None else None
