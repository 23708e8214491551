"""For you speed (issue 11): one reader's list on a window of 5,000 real papers, and the lists of
100,000 synthetic readers made of real papers, with the product's ranking
(dailypapers/search/recommend.py).

    .venv/bin/python bench/recommend_speed.py [--readers 100000] [--repeat 3]

- Window: the first 5,000 papers listed in Q1 2026 from week 4 on (weeks 4-6 of the sample),
  its document frequencies over them and the 20,000 papers listed before, as the product
  reads them. Preparing it (tokenising 25,000 titles and abstracts, tf-idf rows, density) is
  timed apart: the service does it once per window and catalog change.
- One reader: each of 200 real readers of bench/recommend.py (the authors' libraries, 3 to 60
  papers) ranked once with `limit` 50 on a window whose shared neighbour lists are emptied
  before each reader, so each timing includes its papers' neighbour lists; median and p95.
- Many readers: 100,000 synthetic readers, each of one to three interests, each interest 3
  to 15 papers drawn from one of 2,000 k-means groups of the papers listed before 2026 (real
  vectors and texts). Composing = `recommend.compose` (the lists `rank` gives, 256 readers
  at a time, in two forked processes) with `limit` 10 on one window, after the neighbour
  lists of every distinct paper (computed once, in batches of 64, in two forked processes;
  counted in the time). Wall clock of the whole run, per repeat, the median quoted.
Results go to bench/results/recommend_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# One BLAS thread: the ranking runs its own two threads where it has many readers.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recommend_data as data  # noqa: E402

from dailypapers.search import recommend  # noqa: E402
from dailypapers.search.terms import TermStats, bag_of  # noqa: E402

WINDOW = 5_000
REFERENCE = 20_000


def window_rows(corpus: data.Corpus) -> tuple[np.ndarray, np.ndarray]:
    weeks = data.week_of(corpus)
    rows = np.flatnonzero(weeks >= 4)
    rows = rows[np.argsort(corpus.days[rows], kind="stable")][:WINDOW]
    order = np.argsort(corpus.days, kind="stable")
    earlier = order[corpus.days[order] < corpus.days[rows].min()][-REFERENCE:]
    return rows, earlier


def prepare(corpus: data.Corpus, rows: np.ndarray, earlier: np.ndarray) -> tuple[Any, float]:
    """The window from raw text, timed: what the service does once per window."""
    started = time.perf_counter()
    bags = [bag_of(corpus.texts[r]) for r in rows]
    reference = [bag_of(corpus.texts[r]) for r in earlier]
    stats = TermStats([*bags, *reference])
    window = recommend.Window(
        [corpus.ids[r] for r in rows], corpus.vectors[rows], bags, stats,
        counted={corpus.ids[r] for r in earlier},
    )  # fmt: skip
    return window, time.perf_counter() - started


def one_reader(window: Any, corpus: data.Corpus, bags: list[Any], count: int) -> dict[str, Any]:
    readers = [r for r in data.find_readers(corpus) if r.half == "report"]
    chosen = np.random.default_rng(5).choice(len(readers), count, replace=False)
    timings, sizes = [], []
    for index in chosen:
        library = readers[index].library[::-1]
        positives = [
            recommend.Positive(corpus.ids[r], corpus.vectors[r], bags[r], "saved") for r in library
        ]
        window.forget()  # this reader's papers are new to the window
        started = time.perf_counter()
        ranking = recommend.rank(window, positives, limit=50)
        timings.append((time.perf_counter() - started) * 1000)
        sizes.append(len(library))
        assert len(ranking.picks) == 50
    return {
        "readers": count,
        "library_papers_median": statistics.median(sizes),
        "library_papers_max": max(sizes),
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(float(np.percentile(timings, 95)), 2),
    }


def synthetic_readers(corpus: data.Corpus, count: int, seed: int) -> list[np.ndarray]:
    """Libraries of 1-3 interests, each 3-15 papers of one k-means group (of 2,000) of the
    papers listed before 2026."""
    rng = np.random.default_rng(seed)
    cutoff = (data.LIBRARY_BEFORE - data.date(1970, 1, 1)).days
    before = np.flatnonzero(corpus.days < cutoff)
    vectors = corpus.vectors[before]
    centroids = vectors[rng.choice(len(before), 2000, replace=False)]
    for _ in range(4):
        labels = np.concatenate(
            [
                np.argmax(vectors[i : i + 8192] @ centroids.T, axis=1)
                for i in range(0, len(vectors), 8192)
            ]
        )
        for c in range(len(centroids)):
            members = vectors[labels == c]
            if len(members):
                total = members.sum(axis=0)
                centroids[c] = total / np.linalg.norm(total)
    groups = [before[labels == c] for c in range(len(centroids))]
    groups = [g for g in groups if len(g) >= 3]
    libraries = []
    for _ in range(count):
        parts = []
        for group_index in rng.choice(len(groups), rng.integers(1, 4), replace=False):
            group = groups[group_index]
            size = min(len(group), int(rng.integers(3, 16)))
            parts.append(rng.choice(group, size, replace=False))
        libraries.append(np.concatenate(parts))
    return libraries


def many_readers(
    window: Any, corpus: data.Corpus, bags: list[Any], libraries: list[np.ndarray]
) -> tuple[float, float]:
    """Seconds to compose every list, and of those, seconds spent on the papers' neighbour
    lists (computed first for every distinct paper, in batches, as a digest run would)."""
    window.forget()
    started = time.perf_counter()
    readers = [
        [recommend.Positive(corpus.ids[r], corpus.vectors[r], bags[r], "saved") for r in library]
        for library in libraries
    ]
    distinct = {p.arxiv_id: p for positives in readers for p in positives}
    window.neighbours_of(list(distinct.values()), processes=2)
    neighbours = time.perf_counter() - started
    recommend.compose(window, readers, limit=10, processes=2)
    return time.perf_counter() - started, neighbours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=data.RESULTS / "recommend_speed.json")
    args = parser.parse_args()
    corpus = data.load_corpus()
    bags = data.load_bags(corpus)
    rows, earlier = window_rows(corpus)
    load_before = os.getloadavg()[0]
    preparing = []
    window = None
    for _ in range(args.repeat):
        window, seconds = prepare(corpus, rows, earlier)
        preparing.append(seconds)
    print(f"window of {len(rows):,} papers (+{len(earlier):,} for frequencies) prepared in "
          f"{statistics.median(preparing):.2f} s (median of {args.repeat})", flush=True)  # fmt: skip
    single = one_reader(window, corpus, bags, 200)
    print(f"one reader: median {single['median_ms']} ms, p95 {single['p95_ms']} ms "
          f"(libraries of {single['library_papers_median']} papers, median)", flush=True)  # fmt: skip
    libraries = synthetic_readers(corpus, args.readers, seed=3)
    composing, lists = [], []
    for repeat in range(args.repeat):
        seconds, neighbours = many_readers(window, corpus, bags, libraries)
        composing.append(seconds)
        lists.append(neighbours)
        print(f"{args.readers:,} readers composed in {seconds:.1f} s, of which {neighbours:.1f} s "
              f"on neighbour lists (run {repeat + 1})", flush=True)  # fmt: skip
    result = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        },  # fmt: skip
        "window_papers": len(rows),
        "reference_papers": len(earlier),
        "prepare_window_s": round(statistics.median(preparing), 2),
        "one_reader": single,
        "many_readers": {
            "readers": args.readers,
            "library_papers_mean": round(float(np.mean([len(x) for x in libraries])), 1),
            "distinct_papers": int(len(np.unique(np.concatenate(libraries)))),
            "seconds_median": round(statistics.median(composing), 1),
            "neighbour_lists_seconds_median": round(statistics.median(lists), 1),
            "seconds": [round(s, 1) for s in composing],
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
