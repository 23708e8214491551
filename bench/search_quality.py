"""Search quality on judged queries: MRR@10 and Recall@1/5/10 for the keyword leg, the
semantic leg and hybrid fusion, over the demo catalog plus real distractors.

    .venv/bin/python bench/search_quality.py [--distractors 5000] [--keyword-distractors 72133]
                                             [--sweep] [--max-tokens 128]

`bench/judged_queries.json` holds 60 queries written as a researcher would ask (paraphrases,
not titles), each answered by one demo paper. Distractors are the first N papers of
shared/data/arxiv-sample (the bulk-snapshot sample). All legs run with --distractors; the
keyword leg also runs with --keyword-distractors (embedding 72k papers takes hours here). The
catalogs are built once under bench/results/ and reused. Results go to
bench/results/search_quality.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"


def build(folder: Path, distractors: int, embed: bool, max_tokens: int = 128):  # type: ignore[no-untyped-def]
    from dailypapers.ingest.demo import load_demo
    from dailypapers.ingest.run import ingest_snapshot
    from dailypapers.search.keyword import KeywordIndex
    from dailypapers.search.vector import Embedder, embed_pending
    from dailypapers.storage import open_store

    if max_tokens != 256:  # a copy of the first (256-token) catalog, its vectors made again
        base = folder
        folder = folder.with_name(f"{folder.name}-t{max_tokens}")
        if not folder.exists() and (base / "built").exists():
            shutil.copytree(base, folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{folder / 'catalog.db'}")
    marker = folder / "built"
    if not marker.exists():
        load_demo(store)
        subset = folder / "distractors.jsonl.gz"
        with gzip.open(SAMPLE, "rb") as source, gzip.open(subset, "wb") as target:
            for number, line in enumerate(source):
                if number >= distractors:
                    break
                target.write(line)
        print(ingest_snapshot(store, subset).summary(), flush=True)
        KeywordIndex(folder / "keyword").rebuild(store)
        marker.write_text("ok")
    KeywordIndex(folder / "keyword").update(store)  # rebuilt when its fields changed
    embedder = Embedder(max_tokens=max_tokens) if embed else None
    if embedder is not None:
        start = time.perf_counter()
        count = embed_pending(
            store,
            embedder,
            progress=lambda d, t: print(f"\r  embedded {d:,}/{t:,}", end="", flush=True),
        )
        if count:
            seconds = time.perf_counter() - start
            print(f"\n  {count:,} papers embedded in {seconds:.0f} s", flush=True)
            (folder / "embedding.json").write_text(
                json.dumps({"papers": count, "seconds": round(seconds, 1), "model": embedder.name})
            )
    return store, KeywordIndex(folder / "keyword"), embedder


def score(rankings: dict[str, list[str]], answers: dict[str, str]) -> dict[str, float]:
    reciprocal, hits = 0.0, {1: 0, 5: 0, 10: 0}
    for query, answer in answers.items():
        ranking = rankings[query][:10]
        if answer in ranking:
            position = ranking.index(answer) + 1
            reciprocal += 1 / position
            for k in hits:
                hits[k] += position <= k
    n = len(answers)
    return {
        "MRR@10": round(reciprocal / n, 3),
        **{f"R@{k}": round(v / n, 3) for k, v in hits.items()},
    }


def merged_answers(store, queries) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each query's answer, a seed paper's local id replaced by its arXiv twin's where the
    distractors brought the twin (the two merge on ingest: storage/twins.py)."""
    from dailypapers.storage.twins import merged_into

    with store.connect() as conn:
        return {text: merged_into(conn, answer) or answer for text, answer in queries}


def evaluate(store, keyword, embedder, queries) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    from dailypapers.domain.query import parse_query
    from dailypapers.search.backends import StoredVectors
    from dailypapers.search.hybrid import hybrid_search, semantic_text
    from dailypapers.storage.vectors import nearest

    answers = merged_answers(store, queries)
    exact = StoredVectors(store, embedder.name) if embedder is not None else None
    legs: dict[str, dict[str, list[str]]] = {"keyword": {}}
    if embedder is not None:
        legs["semantic"], legs["hybrid"] = {}, {}
    for text, _ in queries:
        parsed = parse_query(text)
        legs["keyword"][text] = [h.arxiv_id for h in keyword.search(parsed, limit=10)]
        if embedder is not None:
            vector = embedder.embed([semantic_text(parsed)])[0]
            with store.connect() as conn:
                legs["semantic"][text] = [i for i, _ in nearest(conn, vector, embedder.name, 10)]
            legs["hybrid"][text] = [
                h.arxiv_id
                for h in hybrid_search(
                    store, parsed, keyword=keyword, semantic=exact, embedder=embedder, limit=10
                )
            ]
    return {leg: score(rankings, answers) for leg, rankings in legs.items()}


def sweep(store, keyword, embedder, queries) -> list[dict[str, float]]:  # type: ignore[no-untyped-def]
    """MRR@10 of the fusion for a grid of keyword weights, RRF k and candidate depths (the
    semantic weight fixed at 1), on all queries and on each half (even/odd positions), so a
    setting that only fits some queries shows. Each leg is asked once, 200 deep."""
    from dailypapers.domain.query import parse_query
    from dailypapers.search.hybrid import fuse_rankings, semantic_text
    from dailypapers.storage.vectors import nearest

    legs = {}
    for text, _ in queries:
        parsed = parse_query(text)
        vector = embedder.embed([semantic_text(parsed)])[0]
        with store.connect() as conn:
            semantic = [i for i, _ in nearest(conn, vector, embedder.name, 200)]
        legs[text] = ([h.arxiv_id for h in keyword.search(parsed, limit=200)], semantic)
    answers = merged_answers(store, queries)
    texts = [text for text, _ in queries]
    halves = {"all": texts, "even": texts[::2], "odd": texts[1::2]}
    rows = []
    for weight in (0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 3.0):
        for k in (10, 30, 60, 100):
            for depth in (20, 50, 100, 200):
                row: dict[str, float] = {"keyword_weight": weight, "k": k, "depth": depth}
                for name, subset in halves.items():
                    fused = {
                        q: [
                            i
                            for i, _ in fuse_rankings(
                                [(legs[q][0][:depth], weight), (legs[q][1][:depth], 1.0)], k=k
                            )[:10]
                        ]
                        for q in subset
                    }
                    row[name] = score(fused, {q: answers[q] for q in subset})["MRR@10"]
                rows.append(row)
    rows.sort(key=lambda r: -r["all"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--distractors", type=int, default=5000)
    parser.add_argument("--keyword-distractors", type=int, default=72133)
    parser.add_argument(
        "--sweep", action="store_true", help="also try a grid of fusion weights, k and depths"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=128, help="tokens of each paper the model reads"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    suffix = "" if args.max_tokens == 128 else f"-t{args.max_tokens}"
    args.out = args.out or RESULTS / f"search_quality{suffix}.json"
    if not SAMPLE.exists():
        sys.exit(f"needs the arXiv sample at {SAMPLE}")
    queries = [tuple(q) for q in json.loads((ROOT / "bench" / "judged_queries.json").read_text())]
    results = {"queries": len(queries)}
    store, keyword, embedder = build(
        RESULTS / f"quality-{args.distractors}", args.distractors, True, args.max_tokens
    )
    results["model"] = embedder.name
    results[f"{args.distractors} distractors"] = evaluate(store, keyword, embedder, queries)
    print(json.dumps(results, indent=2), flush=True)
    if args.sweep:
        grid = sweep(store, keyword, embedder, queries)
        results["fusion sweep"] = grid
        print("fusion sweep, best first (MRR@10 on all / even / odd queries):")
        for row in grid[:10]:
            print(
                f"  keyword weight {row['keyword_weight']:<4} k {row['k']:<4} depth "
                f"{row['depth']:<4} {row['all']:.3f} / {row['even']:.3f} / {row['odd']:.3f}"
            )
    store, keyword, _ = build(
        RESULTS / f"quality-{args.keyword_distractors}", args.keyword_distractors, embed=False
    )
    results[f"{args.keyword_distractors} distractors"] = evaluate(store, keyword, None, queries)
    print(json.dumps(results, indent=2))
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
