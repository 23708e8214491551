"""Stored embeddings: which papers still need one, saving them, and nearest neighbours.

A paper needs a vector when it has none, when its vector came from an older version, or when
another model made it. SQLite keeps float32 bytes and answers neighbours here exactly: the
usearch index beside the file (search/ann.py) is asked first, and this scan covers what it cannot
(vectors newer than the index, filters few papers pass, no index built yet). PostgreSQL keeps
pgvector values and answers with its HNSW index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.papers import NO_FILTER, PaperFilter
from .filters import paper_conditions
from .schema import paper_vectors, papers

DIMENSIONS = 384
# pgvector's least search breadth: Recall@10 0.975 at 1M papers (0.862 at 64, 0.990 at 400;
# bench/pgvector_recall.py, docs/benchmarks.md) for ~5 ms more than 64; the usearch index
# beside SQLite searches wider: EF_SEARCH = 512 in search/ann.py.
HNSW_EF_SEARCH = 200


def _pending(columns: Sequence[Any], model: str) -> sa.Select[Any]:
    """Visible papers with no vector from `model`, or one made for an older version."""
    vector = paper_vectors.alias("v")
    return (
        sa.select(*columns)
        .select_from(papers.outerjoin(vector, vector.c.arxiv_id == papers.c.arxiv_id))
        .where(
            papers.c.hidden.is_(False),
            sa.or_(
                vector.c.arxiv_id.is_(None),
                vector.c.model != model,
                vector.c.version < sa.func.coalesce(papers.c.latest_version, 0),
            ),
        )
    )


def pending_papers(conn: Connection, model: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` visible papers without a current vector from `model`, newest first."""
    columns = [papers.c.arxiv_id, papers.c.title, papers.c.abstract, papers.c.latest_version]
    query = (
        _pending(columns, model)
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.arxiv_id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def count_pending(conn: Connection, model: str) -> int:
    return int(conn.execute(_pending([sa.func.count()], model)).scalar_one())


def _pg_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


def save_vectors(
    conn: Connection, model: str, items: Sequence[tuple[str, int, np.ndarray]]
) -> None:
    """Replace the vectors of these (arxiv_id, version, vector) papers; one row per paper."""
    if not items:
        return
    # Microseconds: only the rows of one call share a stamp, so "saved after the index's
    # watermark" (ann.py) never confuses a later save with one the index already holds.
    now = datetime.now(UTC).replace(tzinfo=None)
    ids = [arxiv_id for arxiv_id, _, _ in items]
    conn.execute(sa.delete(paper_vectors).where(paper_vectors.c.arxiv_id.in_(ids)))
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                "INSERT INTO paper_vectors (arxiv_id, version, model, embedding, created_at) "
                "VALUES (:arxiv_id, :version, :model, CAST(:embedding AS vector), :now)"
            ),
            [
                {
                    "arxiv_id": a,
                    "version": v,
                    "model": model,
                    "embedding": _pg_literal(e),
                    "now": now,
                }
                for a, v, e in items
            ],
        )
    else:
        conn.execute(
            sa.insert(paper_vectors),
            [
                {
                    "arxiv_id": a,
                    "version": v,
                    "model": model,
                    "embedding": np.asarray(e, dtype="<f4").tobytes(),
                    "created_at": now,
                }
                for a, v, e in items
            ],
        )


def vector_of(conn: Connection, arxiv_id: str, model: str) -> np.ndarray | None:
    if conn.dialect.name == "postgresql":
        row = conn.execute(
            sa.text(
                "SELECT embedding::text FROM paper_vectors WHERE arxiv_id = :id AND model = :model"
            ),
            {"id": arxiv_id, "model": model},
        ).first()
        if row is None:
            return None
        return np.array([float(x) for x in row[0].strip("[]").split(",")], dtype=np.float32)
    row = conn.execute(
        sa.select(paper_vectors.c.embedding).where(
            paper_vectors.c.arxiv_id == arxiv_id, paper_vectors.c.model == model
        )
    ).first()
    return None if row is None else np.frombuffer(row[0], dtype="<f4")


class _Vector(sa.types.UserDefinedType[Any]):
    """pgvector's `vector` type, for CAST(:q AS vector) in queries."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "vector"


def nearest(
    conn: Connection,
    vector: np.ndarray,
    model: str,
    limit: int,
    exclude: Sequence[str] = (),
    *,
    where: PaperFilter = NO_FILTER,
    since: tuple[datetime, str] | None = None,
) -> list[tuple[str, float]]:
    """(arxiv_id, cosine similarity) of the stored vectors closest to `vector`, closest first.
    Hidden papers and `exclude` are left out; the filter applies before ranking, so `limit`
    results come back whenever that many papers pass it. With `since`, only vectors saved
    after that (created_at, arxiv_id) watermark are compared."""
    conditions = [
        paper_vectors.c.model == model,
        papers.c.hidden.is_(False),
        *paper_conditions(where),
    ]
    if since is not None:
        conditions.append(sa.tuple_(paper_vectors.c.created_at, paper_vectors.c.arxiv_id) > since)
    if exclude:
        conditions.append(paper_vectors.c.arxiv_id.not_in(list(exclude)))
    joined = paper_vectors.join(papers, papers.c.arxiv_id == paper_vectors.c.arxiv_id)
    if conn.dialect.name == "postgresql":
        query_vector = sa.cast(sa.literal(_pg_literal(vector), sa.Text), _Vector())
        distance = paper_vectors.c.embedding.op("<=>", return_type=sa.Float)(query_vector)
        # pgvector's HNSW scan yields at most hnsw.ef_search rows (40 by default), before
        # the filters: widen it to the wanted count, and let it keep scanning (0.8's
        # iterative scan) while the filters reject candidates.
        conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, min(limit, 1000))}")
        conn.exec_driver_sql("SET LOCAL hnsw.iterative_scan = relaxed_order")
        query = (
            sa.select(paper_vectors.c.arxiv_id, (1 - distance).label("similarity"))
            .select_from(joined)
            .where(*conditions)
            .order_by(distance)
            .limit(limit)
        )
        found = [(row.arxiv_id, float(row.similarity)) for row in conn.execute(query)]
        return sorted(found, key=lambda pair: -pair[1])  # relaxed order: nearly sorted
    query = (
        sa.select(paper_vectors.c.arxiv_id, paper_vectors.c.embedding)
        .select_from(joined)
        .where(*conditions)
    )
    ids: list[str] = []
    chunks: list[bytes] = []
    for arxiv_id, blob in conn.execute(query):
        ids.append(arxiv_id)
        chunks.append(blob)
    if not ids:
        return []
    matrix = np.frombuffer(b"".join(chunks), dtype="<f4").reshape(len(ids), -1)
    scores = matrix @ np.asarray(vector, dtype=np.float32)
    top = np.argsort(-scores)[:limit]
    return [(ids[i], float(scores[i])) for i in top]


def saved_since(
    conn: Connection, model: str, since: tuple[datetime, str], limit: int
) -> set[str] | None:
    """Papers whose vector from `model` was saved after the (created_at, arxiv_id) mark, or
    None when there are more than `limit` of them."""
    query = (
        sa.select(paper_vectors.c.arxiv_id)
        .where(
            paper_vectors.c.model == model,
            sa.tuple_(paper_vectors.c.created_at, paper_vectors.c.arxiv_id) > since,
        )
        .limit(limit + 1)
    )
    found = set(conn.execute(query).scalars())
    return None if len(found) > limit else found


def has_vectors(conn: Connection, model: str) -> bool:
    """Whether any paper has a vector from `model` (the semantic leg is worth asking)."""
    query = sa.select(paper_vectors.c.arxiv_id).where(paper_vectors.c.model == model).limit(1)
    return conn.execute(query).first() is not None


def visible_among(conn: Connection, ids: Sequence[str], where: PaperFilter) -> set[str]:
    """Which of `ids` are visible papers passing the filter (for ANN candidates)."""
    if not ids:
        return set()
    query = sa.select(papers.c.arxiv_id).where(
        papers.c.arxiv_id.in_(list(ids)), papers.c.hidden.is_(False), *paper_conditions(where)
    )
    return set(conn.execute(query).scalars())


def count_vectors_since(conn: Connection, model: str, after: tuple[datetime, str] | None) -> int:
    """How many vectors from `model` were saved after the (created_at, arxiv_id) mark (all of
    them for None)."""
    query = sa.select(sa.func.count()).where(paper_vectors.c.model == model)
    if after is not None:
        query = query.where(sa.tuple_(paper_vectors.c.created_at, paper_vectors.c.arxiv_id) > after)
    return int(conn.execute(query).scalar_one())


def vectors_since(
    conn: Connection, model: str, after: tuple[datetime, str] | None, limit: int
) -> list[tuple[str, np.ndarray, datetime]]:
    """Up to `limit` (arxiv_id, vector, created_at) from `model` saved after the mark, oldest
    first (ties by id): pages of what the ANN index beside SQLite must add. SQLite only (the
    bytes are float32); PostgreSQL's pgvector index keeps itself current."""
    query = (
        sa.select(paper_vectors.c.arxiv_id, paper_vectors.c.embedding, paper_vectors.c.created_at)
        .where(paper_vectors.c.model == model)
        .order_by(paper_vectors.c.created_at, paper_vectors.c.arxiv_id)
        .limit(limit)
    )
    if after is not None:  # row values, so ix_paper_vectors_created_at serves it
        query = query.where(sa.tuple_(paper_vectors.c.created_at, paper_vectors.c.arxiv_id) > after)
    return [
        (row.arxiv_id, np.frombuffer(row.embedding, dtype="<f4"), row.created_at)
        for row in conn.execute(query)
    ]
