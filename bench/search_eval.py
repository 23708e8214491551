"""Search quality on queries nobody tuned for (issue 10): ../shared/eval/tuning-queries.tsv,
100 known-item queries written independently of this code, each with one target among the
72,133 papers of ../shared/data/arxiv-sample.

    .venv/bin/python bench/search_eval.py [--others 4900] [--keyword-all] [--backend int8]

A fixed split keeps tuning honest: within each query kind, queries alternate between `tune`
and `held-out` in file order, so both halves hold every kind. Tune on `tune`; report
`held-out`, then `all`. Reported per leg (keyword: tantivy BM25; semantic: MiniLM @128, exact
cosine; hybrid: the product's fusion with its settings) and for two plain baselines (SQLite
FTS5 BM25 over title, abstract and authors with equal weights, an OR of the words; naive RRF of
that BM25 and the semantic leg), per query kind: MRR@10 and Recall@1/5/10.

The catalog is the 100 targets plus the first `--others` other papers of the sample (5k in all
by default), built once under bench/results/ and reused. `--keyword-all` also scores the
keyword leg and the FTS5 baseline over all 72,133 papers (embedding them all takes hours here).
Results go to bench/results/search_eval.json.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
QUERIES = SHARED / "eval" / "tuning-queries.tsv"
sys.path.insert(0, str(ROOT / "bench"))

from search_quality import score  # noqa: E402

DEPTH = 10


def load_queries() -> list[dict[str, str]]:
    """The queries with their split: alternating within each kind, in file order."""
    with QUERIES.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    seen: dict[str, int] = defaultdict(int)
    for row in rows:
        row["split"] = "tune" if seen[row["kind"]] % 2 == 0 else "held-out"
        seen[row["kind"]] += 1
    return rows


def catalog_lines(targets: set[str], others: int | None) -> list[bytes]:
    """Snapshot lines: every target, and the first `others` other papers (all when None)."""
    lines: list[bytes] = []
    kept = 0
    with gzip.open(SAMPLE, "rb") as source:
        for line in source:
            is_target = json.loads(line)["id"] in targets
            if is_target or others is None or kept < others:
                lines.append(line)
                kept += 0 if is_target else 1
    return lines


def build(
    folder: Path, lines: list[bytes], embed: bool, backend: str = "onnx"
) -> tuple[Any, Any, Any, Path]:
    """The catalog (SQLite), its tantivy index, the embedder (or None) and an FTS5 file."""
    from embed import embedder_for

    from dailypapers.ingest.run import ingest_snapshot
    from dailypapers.search.keyword import KeywordIndex
    from dailypapers.search.vector import embed_pending
    from dailypapers.storage import open_store

    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{folder / 'catalog.db'}")
    fts = folder / "fts5.db"
    if not (folder / "built").exists():
        snapshot = folder / "catalog.jsonl.gz"
        with gzip.open(snapshot, "wb") as target:
            target.writelines(lines)
        print(ingest_snapshot(store, snapshot).summary(), flush=True)
        KeywordIndex(folder / "keyword").rebuild(store)
        _build_fts5(fts, lines)
        (folder / "built").write_text("ok")
    KeywordIndex(folder / "keyword").update(store)  # rebuilt when its fields changed
    embedder = None
    if embed:
        embedder = embedder_for(backend, threads=0)  # papers and queries alike
        done = embed_pending(
            store,
            embedder,
            progress=lambda d, t: print(f"\r  embedded {d:,}/{t:,}", end="", flush=True),
        )
        if done:
            print(flush=True)
    return store, KeywordIndex(folder / "keyword"), embedder, fts


def _build_fts5(path: Path, lines: list[bytes]) -> None:
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE VIRTUAL TABLE papers USING fts5(arxiv_id UNINDEXED, title, abstract, authors)"
        )
        rows = []
        for line in lines:
            paper = json.loads(line)
            rows.append(
                (
                    paper["id"],
                    paper.get("title", ""),
                    paper.get("abstract", ""),
                    paper.get("authors", ""),
                )
            )
        db.executemany("INSERT INTO papers VALUES (?, ?, ?, ?)", rows)


def fts5_search(path: Path, text: str, limit: int) -> list[str]:
    """The baseline: bm25() over the three columns, equal weights, an OR of the query's words."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        return []
    query = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
    with sqlite3.connect(path) as db:
        found = db.execute(
            "SELECT arxiv_id FROM papers WHERE papers MATCH ? ORDER BY bm25(papers) LIMIT ?",
            (query, limit),
        )
        return [row[0] for row in found]


def rankings(
    store: Any, keyword: Any, embedder: Any, fts: Path, queries: list[dict[str, str]]
) -> dict[str, dict[str, list[str]]]:
    """Each leg's top ids for each query (100 deep, so fusion can be redone offline)."""
    from dailypapers.config import load_config
    from dailypapers.domain.query import parse_query
    from dailypapers.search.backends import StoredVectors
    from dailypapers.search.hybrid import fuse_rankings, hybrid_search, semantic_text

    config = load_config(environ={})
    legs: dict[str, dict[str, list[str]]] = defaultdict(dict)
    exact = StoredVectors(store, embedder.name) if embedder is not None else None
    for row in queries:
        text = row["query"]
        parsed = parse_query(text)
        legs["keyword"][text] = [h.arxiv_id for h in keyword.search(parsed, limit=100)]
        legs["fts5 baseline"][text] = fts5_search(fts, text, 100)
        if embedder is None or exact is None:
            continue
        vector = embedder.embed([semantic_text(parsed) or text])[0]
        legs["semantic"][text] = [i for i, _ in exact.nearest(vector, 100)]
        legs["hybrid"][text] = [
            h.arxiv_id
            for h in hybrid_search(
                store,
                parsed,
                keyword=keyword,
                semantic=exact,
                embedder=embedder,
                limit=DEPTH,
                depth=config.fusion_depth,
                keyword_weight=config.fusion_keyword_weight,
                semantic_weight=config.fusion_semantic_weight,
            )
        ]
        legs["naive rrf baseline"][text] = [
            i
            for i, _ in fuse_rankings(
                [(legs["fts5 baseline"][text], 1.0), (legs["semantic"][text], 1.0)]
            )
        ]
    return legs


def report(legs: dict[str, dict[str, list[str]]], queries: list[dict[str, str]]) -> dict[str, Any]:
    """Scores per leg for each split and each kind (of the held-out half and of all)."""
    out: dict[str, Any] = {}
    groups: dict[str, list[dict[str, str]]] = {
        "held-out": [q for q in queries if q["split"] == "held-out"],
        "tune": [q for q in queries if q["split"] == "tune"],
        "all": queries,
    }
    for kind in sorted({q["kind"] for q in queries}):
        groups[f"all / {kind}"] = [q for q in queries if q["kind"] == kind]
    for name, group in groups.items():
        answers = {q["query"]: q["arxiv_id"] for q in group}
        out[name] = {
            leg: {"n": len(group), **score({t: r[t] for t in answers}, answers)}
            for leg, r in legs.items()
        }
    return out


def print_table(title: str, results: dict[str, Any]) -> None:
    print(f"\n{title}")
    legs = list(next(iter(results.values())))
    print(f"{'queries':<26}" + "".join(f"{leg:>20}" for leg in legs))
    for group, by_leg in results.items():
        n = next(iter(by_leg.values()))["n"]
        cells = "".join(
            f"{by_leg[leg]['MRR@10']:>11.3f} R10 {by_leg[leg]['R@10']:.2f}" for leg in legs
        )
        print(f"{group + f' ({n})':<26}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", type=int, default=4900, help="non-target papers in the catalog")
    parser.add_argument("--keyword-all", action="store_true", help="also keyword legs at 72k")
    parser.add_argument(
        "--backend",
        default="onnx",
        choices=["onnx", "torch", "int8"],
        help="what embeds papers and queries: an embedding_backend, or bench/embed.py's int8 "
        "experiment (results in search_eval-int8.json; its vectors replace the catalog's)",
    )
    args = parser.parse_args()
    if not SAMPLE.exists() or not QUERIES.exists():
        sys.exit(f"needs {SAMPLE} and {QUERIES}")
    queries = load_queries()
    targets = {q["arxiv_id"] for q in queries}
    lines = catalog_lines(targets, args.others)
    store, keyword, embedder, fts = build(
        RESULTS / f"eval-{len(lines)}", lines, embed=True, backend=args.backend
    )
    missing = targets - present(store, targets)
    if missing:
        sys.exit(f"run invalid: {len(missing)} targets missing from the catalog")
    results: dict[str, Any] = {"catalog": len(lines), "model": embedder.name}
    results[f"{len(lines)} papers"] = report(
        rankings(store, keyword, embedder, fts, queries), queries
    )
    print_table(f"{len(lines)} papers: MRR@10 (and Recall@10)", results[f"{len(lines)} papers"])
    if args.keyword_all:
        every = catalog_lines(targets, None)
        store, keyword, _, fts = build(RESULTS / f"eval-{len(every)}", every, embed=False)
        scored = report(rankings(store, keyword, None, fts, queries), queries)
        results[f"{len(every)} papers"] = scored
        print_table(f"{len(every)} papers (keyword legs only)", scored)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "search_eval" if args.backend in ("onnx", "torch") else f"search_eval-{args.backend}"
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")


def present(store: Any, ids: set[str]) -> set[str]:
    """Which of `ids` the catalog holds (visible): a missing target makes the run invalid."""
    from dailypapers.storage.papers import get_papers

    with store.connect() as conn:
        return {paper.arxiv_id for paper in get_papers(conn, sorted(ids))}


if __name__ == "__main__":
    main()
