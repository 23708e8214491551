"""Search quality, one table for both query sets: MRR@10 and Recall@1/5/10 of each leg and of
the fused ranking, per query kind, over a 5k and a 72k catalog.

    .venv/bin/python bench/search_quality.py [--sizes 5000 72133]

Query sets:
- independent: ../shared/eval/tuning-queries.tsv, 100 known-item queries written without
  this code (README beside it), each with one target in ../shared/data/arxiv-sample. A fixed
  split keeps tuning honest: within each kind, queries alternate between `tune` and
  `held-out` in file order. Tune on `tune` (bench/fusion.py), report `held-out`, then all.
- judged: bench/judged_queries.json, 60 researcher-style queries answered by demo papers,
  written by this project after reading the answers and looked at in earlier tuning, so
  flattering; reported as a second opinion.

Catalogs: the demo (71 papers, the judged targets) plus the sample: at 5000, the 100
independent targets and the first 4,900 other papers; at 72133, all of it. Each is built once
under bench/results/eval-<n>/ (SQLite, the tantivy index, every paper embedded by the real
model; embedding 72k papers takes about an hour on this 2-core machine) and reused.

Legs: keyword (tantivy BM25), semantic (MiniLM, exact cosine), hybrid (the product's
hybrid_search with its settings), and two plain baselines: SQLite FTS5 BM25 over title,
abstract and authors with equal weights (an OR of the words), and naive RRF (k 60, equal
weights) of that BM25 and the semantic leg. Each leg's top 100 with scores goes to
bench/results/legs-<n>.json (for bench/fusion.py); the scores to
bench/results/search_quality.json.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
INDEPENDENT = SHARED / "eval" / "tuning-queries.tsv"
JUDGED = ROOT / "bench" / "judged_queries.json"
DEPTH = 100  # each leg's candidates kept (the product's fusion_depth)
Query = dict[str, str]  # query, arxiv_id, kind, split, set


def load_queries() -> list[Query]:
    """Both query sets; the independent one with its split (alternating within each kind)."""
    with INDEPENDENT.open(newline="") as handle:
        independent = list(csv.DictReader(handle, delimiter="\t"))
    seen: dict[str, int] = defaultdict(int)
    for row in independent:
        row["split"] = "tune" if seen[row["kind"]] % 2 == 0 else "held-out"
        row["set"] = "independent"
        seen[row["kind"]] += 1
    judged = [
        {"query": text, "arxiv_id": answer, "kind": "judged", "split": "seen", "set": "judged"}
        for text, answer in json.loads(JUDGED.read_text())
    ]
    return independent + judged


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


def build(folder: Path, lines: list[bytes]) -> tuple[Any, Any, Any, Path]:
    """The catalog (SQLite: the demo and `lines`), its tantivy index, the embedder, and the
    FTS5 baseline's file. Resumes where an interrupted build stopped."""
    from dailypapers.ingest.demo import load_demo
    from dailypapers.ingest.run import ingest_snapshot
    from dailypapers.search.keyword import KeywordIndex
    from dailypapers.search.vector import Embedder, embed_pending
    from dailypapers.storage import open_store

    folder.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{folder / 'catalog.db'}")
    fts = folder / "fts5.db"
    if not (folder / "built").exists():
        snapshot = folder / "catalog.jsonl.gz"
        with gzip.open(snapshot, "wb") as target:
            target.writelines(lines)
        print(ingest_snapshot(store, snapshot).summary(), flush=True)
        (folder / "built").write_text("ok")
    if not (folder / "demo").exists():
        load_demo(store)
        _build_fts5(store, fts)
        (folder / "demo").write_text("ok")
    KeywordIndex(folder / "keyword").update(store)  # rebuilt when its fields changed
    embedder = Embedder()
    done = embed_pending(
        store,
        embedder,
        progress=lambda d, t: print(f"\r  embedded {d:,}/{t:,}", end="", flush=True),
    )
    if done:
        print(flush=True)
    return store, KeywordIndex(folder / "keyword"), embedder, fts


def _build_fts5(store: Any, path: Path) -> None:
    from dailypapers.storage.papers import changed_papers

    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE VIRTUAL TABLE papers USING fts5(arxiv_id UNINDEXED, title, abstract, authors)"
        )
        last = None
        while True:
            with store.connect() as conn:
                rows = changed_papers(conn, None, last, 5000)
            if not rows:
                break
            last = (rows[-1]["modified_at"], rows[-1]["arxiv_id"])
            db.executemany(
                "INSERT INTO papers VALUES (?, ?, ?, ?)",
                [(r["arxiv_id"], r["title"], r["abstract"], " ".join(r["authors"])) for r in rows],
            )


def fts5_search(path: Path, text: str, limit: int) -> list[tuple[str, float]]:
    """The baseline: bm25() over the three columns, equal weights, an OR of the query's words."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        return []
    query = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
    with sqlite3.connect(path) as db:
        found = db.execute(
            "SELECT arxiv_id, -bm25(papers) FROM papers WHERE papers MATCH ? "
            "ORDER BY bm25(papers) LIMIT ?",
            (query, limit),
        )
        return [(row[0], float(row[1])) for row in found]


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> list[str]:
    """Plain reciprocal rank fusion, equal weights (a baseline, not the product's fusion)."""
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] += 1 / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])


def leg_results(
    folder: Path, store: Any, keyword: Any, embedder: Any, fts: Path, queries: list[Query]
) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Each leg's top DEPTH (id, score) for each query, cached beside the catalog."""
    from dailypapers.domain.query import parse_query
    from dailypapers.search.backends import StoredVectors
    from dailypapers.search.hybrid import semantic_text

    exact = StoredVectors(store, embedder.name)
    legs: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(dict)
    for row in queries:
        text = row["query"]
        parsed = parse_query(text)
        legs["keyword"][text] = [(h.arxiv_id, h.score) for h in keyword.search(parsed, limit=DEPTH)]
        legs["fts5"][text] = fts5_search(fts, text, DEPTH)
        vector = embedder.embed([semantic_text(parsed) or text])[0]
        legs["semantic"][text] = [(i, float(s)) for i, s in exact.nearest(vector, DEPTH)]
    (RESULTS / f"legs-{folder.name.removeprefix('eval-')}.json").write_text(json.dumps(legs))
    return legs


def rankings(
    store: Any,
    keyword: Any,
    embedder: Any,
    legs: dict[str, dict[str, list[tuple[str, float]]]],
    queries: list[Query],
) -> dict[str, dict[str, list[str]]]:
    """Every column of the table: the legs, the product's hybrid search, the baselines."""
    from dailypapers.config import load_config
    from dailypapers.domain.query import parse_query
    from dailypapers.search.backends import StoredVectors
    from dailypapers.search.hybrid import hybrid_search

    config = load_config(environ={})
    exact = StoredVectors(store, embedder.name)
    ranked: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for row in queries:
        text = row["query"]
        ranked["keyword"][text] = [i for i, _ in legs["keyword"][text]]
        ranked["semantic"][text] = [i for i, _ in legs["semantic"][text]]
        ranked["hybrid"][text] = [
            hit.arxiv_id
            for hit in hybrid_search(
                store,
                parse_query(text),
                keyword=keyword,
                semantic=exact,
                embedder=embedder,
                limit=10,
                depth=config.fusion_depth,
                keyword_share=config.fusion_keyword_share,
                keyword_share_long=config.fusion_keyword_share_long,
            )
        ]
        ranked["fts5 bm25"][text] = [i for i, _ in legs["fts5"][text]]
        ranked["naive rrf"][text] = rrf([ranked["fts5 bm25"][text], ranked["semantic"][text]])
    return ranked


def score(ranked: dict[str, list[str]], answers: dict[str, str]) -> dict[str, float]:
    """MRR@10 and Recall@1/5/10 of rankings against one answer per query."""
    reciprocal, hits = 0.0, {1: 0, 5: 0, 10: 0}
    for query, answer in answers.items():
        ranking = ranked[query][:10]
        if answer in ranking:
            position = ranking.index(answer) + 1
            reciprocal += 1 / position
            for k in hits:
                hits[k] += position <= k
    n = len(answers) or 1
    return {
        "MRR@10": round(reciprocal / n, 3),
        **{f"R@{k}": round(v / n, 3) for k, v in hits.items()},
    }


def groups(queries: list[Query]) -> dict[str, list[Query]]:
    """The table's rows: the independent set's halves and kinds, then the judged set."""
    independent = [q for q in queries if q["set"] == "independent"]
    rows = {
        "independent held-out": [q for q in independent if q["split"] == "held-out"],
        "independent tune": [q for q in independent if q["split"] == "tune"],
        "independent all": independent,
    }
    for kind in sorted({q["kind"] for q in independent}):
        rows[f"  {kind}"] = [q for q in independent if q["kind"] == kind]
    rows["judged (seen)"] = [q for q in queries if q["set"] == "judged"]
    return rows


def report(ranked: dict[str, dict[str, list[str]]], queries: list[Query]) -> dict[str, Any]:
    return {
        name: {
            column: {"n": len(group), **score(r, {q["query"]: q["arxiv_id"] for q in group})}
            for column, r in ranked.items()
        }
        for name, group in groups(queries).items()
    }


def print_table(title: str, results: dict[str, Any]) -> None:
    print(f"\n{title}: MRR@10 and R@1/R@5/R@10")
    columns = list(next(iter(results.values())))
    print(f"{'queries':<28}" + "".join(f"{c:>24}" for c in columns))
    for name, by_column in results.items():
        n = next(iter(by_column.values()))["n"]
        cells = "".join(
            f"{v['MRR@10']:>8.3f} {v['R@1']:.2f}/{v['R@5']:.2f}/{v['R@10']:.2f}"
            for v in by_column.values()
        )
        print(f"{name + f' ({n})':<28}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[5000, 72133], help="sample papers per catalog"
    )
    args = parser.parse_args()
    if not SAMPLE.exists() or not INDEPENDENT.exists():
        sys.exit(f"needs {SAMPLE} and {INDEPENDENT}")
    queries = load_queries()
    targets = {q["arxiv_id"] for q in queries if q["set"] == "independent"}
    results: dict[str, Any] = {}
    for size in args.sizes:
        lines = catalog_lines(targets, None if size >= 72133 else size - len(targets))
        folder = RESULTS / f"eval-{len(lines)}"
        store, keyword, embedder, fts = build(folder, lines)
        queries = merged_answers(store, queries)
        missing = {q["arxiv_id"] for q in queries} - present(store, queries)
        if missing:
            sys.exit(f"run invalid: targets missing from the catalog: {sorted(missing)}")
        legs = leg_results(folder, store, keyword, embedder, fts, queries)
        scored = report(rankings(store, keyword, embedder, legs, queries), queries)
        results[f"{len(lines)} sample papers + demo"] = scored
        results["model"] = embedder.name
        print_table(f"{len(lines):,} sample papers + the demo", scored)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search_quality.json").write_text(json.dumps(results, indent=2) + "\n")


def merged_answers(store: Any, queries: list[Query]) -> list[Query]:
    """The queries with each answer that is a seed paper merged into its arXiv twin (the
    sample brought it: storage/twins.py) replaced by the twin's id."""
    from dailypapers.storage.twins import merged_into

    with store.connect() as conn:
        return [
            {**q, "arxiv_id": merged_into(conn, q["arxiv_id"]) or q["arxiv_id"]} for q in queries
        ]


def present(store: Any, queries: list[Query]) -> set[str]:
    """Which targets the catalog holds (visible): a missing one makes the run invalid."""
    from dailypapers.storage.papers import get_papers

    with store.connect() as conn:
        return {p.arxiv_id for p in get_papers(conn, sorted({q["arxiv_id"] for q in queries}))}


if __name__ == "__main__":
    main()
