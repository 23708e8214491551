"""The approximate nearest-neighbour index beside a SQLite catalog: usearch HNSW (cosine, f16
storage, M=16, ef_add 128, ef_search 64; ARCHITECTURE.md measured Recall@10 0.967 at 200k)
over the stored vectors of one model.

The database stays the source of truth: `update` adds the vectors saved since the last run
(a watermark on paper_vectors.created_at; a paper's old vector is removed first), `rebuild`
starts again from all of them. Keys are 63-bit digests of the arXiv id; `ids.json` maps them
back. PostgreSQL does not need this file: pgvector's HNSW index answers there.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from usearch.index import Index

from ..storage import Store
from ..storage.schema import paper_vectors
from ..storage.vectors import DIMENSIONS

_BATCH = 5000
LOOK_BACK = timedelta(seconds=60)


def vector_key(arxiv_id: str) -> int:
    return int.from_bytes(hashlib.sha1(arxiv_id.encode()).digest()[:8], "big") >> 1  # noqa: S324


class VectorIndex:
    def __init__(self, folder: Path, model: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-").lower()
        self.folder = folder / slug
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "vectors.usearch"
        self.model = model
        self.ids: dict[int, str] = {}
        self.watermark: tuple[datetime, str] | None = None
        self.index = self._new()
        meta = self.folder / "ids.json"
        if self.path.is_file() and meta.is_file():
            data = json.loads(meta.read_text())
            self.ids = {int(k): v for k, v in data["ids"].items()}
            until = data["until"]
            self.watermark = (datetime.fromisoformat(until[0]), until[1]) if until else None
            self.index.load(str(self.path))

    @classmethod
    def for_data_dir(cls, data_dir: str | Path, model: str) -> VectorIndex:
        return cls(Path(data_dir).expanduser() / "search" / "vectors", model)

    @staticmethod
    def _new() -> Index:
        return Index(
            ndim=DIMENSIONS,
            metric="cos",
            dtype="f16",
            connectivity=16,
            expansion_add=128,
            expansion_search=64,
        )

    def __len__(self) -> int:
        return len(self.index)

    def rebuild(self, store: Store) -> int:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.index, self.ids, self.watermark = self._new(), {}, None
        return self.update(store)

    def update(self, store: Store) -> int:
        """Add the vectors saved since the last update (a paper's previous vector is removed
        first); returns how many. The index file, the id map and the watermark are written
        after each batch, so a killed run redoes at most one batch."""
        cursor = self.watermark
        now = datetime.now(UTC).replace(tzinfo=None)
        if cursor is not None and now - cursor[0] < LOOK_BACK:
            # A vector stamped just before the watermark may not have been committed when the
            # last run read: while the watermark is recent, read the last minute again.
            cursor = (cursor[0] - LOOK_BACK, "")
        done = 0
        while True:
            query = (
                sa.select(
                    paper_vectors.c.arxiv_id, paper_vectors.c.embedding, paper_vectors.c.created_at
                )
                .where(paper_vectors.c.model == self.model)
                .order_by(paper_vectors.c.created_at, paper_vectors.c.arxiv_id)
                .limit(_BATCH)
            )
            if cursor is not None:
                query = query.where(
                    sa.or_(
                        paper_vectors.c.created_at > cursor[0],
                        sa.and_(
                            paper_vectors.c.created_at == cursor[0],
                            paper_vectors.c.arxiv_id > cursor[1],
                        ),
                    )
                )
            with store.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return done
            keys = [vector_key(r.arxiv_id) for r in rows]
            for key in keys:
                if key in self.ids:
                    self.index.remove(key)
            vectors = np.stack([np.frombuffer(r.embedding, dtype="<f4") for r in rows])
            self.index.add(np.array(keys, dtype=np.uint64), vectors)
            self.ids.update({key: r.arxiv_id for key, r in zip(keys, rows, strict=True)})
            cursor = (rows[-1].created_at, rows[-1].arxiv_id)
            if self.watermark is None or cursor > self.watermark:
                self.watermark = cursor
            self._save()
            done += len(rows)

    def _save(self) -> None:
        temporary = self.folder / "vectors.usearch.tmp"
        self.index.save(str(temporary))
        temporary.replace(self.path)
        meta = self.folder / "ids.json.tmp"
        until = [self.watermark[0].isoformat(), self.watermark[1]] if self.watermark else None
        meta.write_text(
            json.dumps({"until": until, "ids": {str(k): v for k, v in self.ids.items()}})
        )
        meta.replace(self.folder / "ids.json")

    def search(
        self, vector: np.ndarray, count: int, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """(arxiv_id, cosine similarity), closest first; `exclude` left out."""
        if len(self.index) == 0:
            return []
        matches = self.index.search(
            np.asarray(vector, dtype=np.float32), min(count + len(exclude), len(self.index))
        )
        found = []
        for key, distance in zip(matches.keys.tolist(), matches.distances.tolist(), strict=True):
            arxiv_id = self.ids.get(int(key))
            if arxiv_id is not None and arxiv_id not in exclude:
                found.append((arxiv_id, 1.0 - float(distance)))
        return found[:count]


def semantic_neighbours(
    store: Store,
    data_dir: str,
    model: str,
    vector: np.ndarray,
    limit: int,
    exclude: Sequence[str] = (),
    *,
    categories: Sequence[str] = (),
    years: tuple[int, int] | None = None,
    has_code: bool = False,
) -> list[tuple[str, float]]:
    """Nearest stored vectors, closest first, filters applied. PostgreSQL asks pgvector's
    HNSW index; SQLite asks the usearch index when one has been built (over-fetching, then
    filtering in SQL, and scanning exactly when too few candidates pass the filters), or
    scans the stored vectors exactly when none has."""
    from ..storage.vectors import nearest, visible_among

    filters: dict[str, Any] = {"categories": categories, "years": years, "has_code": has_code}
    if store.dialect == "sqlite":
        index = VectorIndex.for_data_dir(data_dir, model)
        if len(index):
            candidates = index.search(vector, limit * 4, exclude)
            with store.connect() as conn:
                allowed = visible_among(conn, [i for i, _ in candidates], **filters)
            found = [(i, s) for i, s in candidates if i in allowed][:limit]
            if len(found) == limit or len(candidates) < limit * 4:
                return found
    with store.connect() as conn:
        return nearest(conn, vector, model, limit, exclude, **filters)


def similar_papers(
    store: Store, data_dir: str, model: str, arxiv_id: str, limit: int
) -> list[tuple[dict[str, Any], float]] | None:
    """(paper, cosine similarity) nearest to a paper's own vector, the paper itself left out;
    None when the paper has no vector from `model` yet."""
    from ..storage.papers import get_paper
    from ..storage.vectors import vector_of

    with store.connect() as conn:
        vector = vector_of(conn, arxiv_id, model)
    if vector is None:
        return None
    found = semantic_neighbours(store, data_dir, model, vector, limit, [arxiv_id])
    with store.connect() as conn:
        papers = [(get_paper(conn, i), score) for i, score in found]
    return [(paper, score) for paper, score in papers if paper is not None]
