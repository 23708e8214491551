"""For you quality, offline (issue 11): the product's ranking (dailypapers/search/recommend.py)
against six baselines, on real papers, with an author-based protocol.

    .venv/bin/python bench/recommend.py [--users 1000] [--seed 1] [--half report]

Protocol, on the 72,133 papers of ../shared/data/arxiv-sample (the 67,378 with a first-listing
date, v1 `created`, are used):
- a reader is an author, named by surname + full first name (accents and case folded; names
  whose first name is initials only, and names on more than 60 papers, likely several people,
  are dropped) with at least 3 papers listed before 2026-01-01 and one listed in Q1 2026;
- the library is those papers before 2026; each ISO week of 2026 from week 1 to week 13
  (2026-01-01 to 2026-03-29) is one digest whose candidates are every paper listed that week
  (161 to 2,194, 931 on average); the wanted papers are the reader's own papers of that week.
  Only weeks where the reader has a paper count (a "user-week");
- features are title and abstract only: author names would give the answer away.
- Scores: nDCG@10 (binary gain) and Recall@10 per user-week, averaged over user-weeks. The
  interval of a difference is a paired bootstrap over readers (a reader's weeks are resampled
  together; 2,000 draws, 95% percentiles).
- Readers are split for good into two halves by a hash of their name: the ranking's constants
  were tuned on `tune`, and the numbers quoted in docs/benchmarks.md are on `report`.
- Groups: readers whose library forms one interest and readers with several, as
  recommend.find_interests finds them with the GROUPING constants below (fixed here, so that
  trying other interest constants with --set does not move readers between groups).

Methods (the baselines are our own code, written from the peers' descriptions):
- category share: each candidate scores the share of the library in its categories;
- zotero-arxiv-daily: cosine to every library paper, weighted 1 / (1 + log10(rank + 1)) by
  recency (newest first), summed;
- max-sim: the highest MiniLM cosine to a library paper;
- logistic regression on MiniLM (Scholar Inbox style): library against 5,000 papers sampled
  from before 2026 (the same for every reader of a seed), class-balanced;
- tf-idf SVM (arxiv-sanity-lite): its tf-idf settings (word 1-2 grams, sublinear tf, 20,000
  terms, max_df 0.1, min_df 5) and LinearSVC(C=0.01, class-balanced) against those negatives;
- RRF of the SVM and max-sim (k = 60);
- ours: recommend.rank with the product's constants; the window's document frequencies come
  from the week's papers and the 20,000 papers listed before it, as the product reads them.

Vectors: bench/results/eval-72133/catalog.db (built by bench/search_quality.py with the
product's model, all-MiniLM-L6-v2 at 128 tokens over title + abstract) is read read-only; when
it is absent the papers are embedded here with the product's Embedder (30-60 minutes on two
cores). Everything slow is cached under bench/results/recommend/. Results go to
bench/results/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recommend_data as data  # noqa: E402

from dailypapers.search import recommend  # noqa: E402
from dailypapers.search.terms import TermStats  # noqa: E402

REFERENCE = 20_000  # earlier papers counted in the window's document frequencies
NEGATIVES = 5_000
BASELINES = ["category share", "zotero", "max-sim", "logistic", "tfidf svm", "rrf svm+max-sim"]
GAINS = 1 / np.log2(np.arange(2, 12))
# The groups of the report: interests around centre papers within cosine 0.35, groups of at
# least 2 papers, at most 6 (the product's defaults when this was written).
GROUPING = replace(
    recommend.TUNING, interest_similarity=0.35, max_interests=6, min_interest_papers=2
)


def measure(ranked: np.ndarray, wanted: np.ndarray) -> tuple[float, float]:
    """nDCG@10 and Recall@10 of candidate rows `ranked` (best first) for the `wanted` rows.

    >>> measure(np.array([5, 3, 9]), np.array([3]))
    (0.6309297535714575, 1.0)
    """
    hits = np.isin(ranked[:10], wanted)
    ideal = GAINS[: min(10, len(wanted))].sum()
    return float((hits * GAINS[: len(hits)]).sum() / ideal), float(hits.sum() / len(wanted))


def top(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Candidate rows by score, best first; ties keep window order."""
    return rows[np.argsort(-scores, kind="stable")[:10]]


class Bench:
    """Everything shared by the readers of one run: the corpus, the weeks' candidates, the
    product's windows, the baselines' features and negatives."""

    def __init__(self, seed: int, tuning: recommend.Tuning) -> None:
        started = time.perf_counter()
        self.corpus = data.load_corpus()
        self.vectors = self.corpus.vectors
        self.bags = data.load_bags(self.corpus)
        self.tfidf = data.load_tfidf(self.corpus)
        self.weeks = data.week_of(self.corpus)
        self.rows = {w: np.flatnonzero(self.weeks == w) for w in range(1, 14)}
        cutoff = (data.LIBRARY_BEFORE - data.date(1970, 1, 1)).days
        before = np.flatnonzero(self.corpus.days < cutoff)
        self.negatives = np.random.default_rng(seed).choice(before, NEGATIVES, replace=False)
        self.tuning = tuning
        self.windows = {w: self._window(w) for w in self.rows}
        print(f"prepared in {time.perf_counter() - started:.0f} s", flush=True)

    def _window(self, week: int) -> recommend.Window:
        """The week as the product sees it: its papers, and document frequencies over them
        and the REFERENCE papers listed before the week."""
        rows = self.rows[week]
        first_day = self.corpus.days[rows].min()
        order = np.argsort(self.corpus.days, kind="stable")
        earlier = order[self.corpus.days[order] < first_day][-REFERENCE:]
        stats = TermStats(self.bags[r] for r in np.concatenate([rows, earlier]))
        return recommend.Window(
            [self.corpus.ids[r] for r in rows],
            self.vectors[rows],
            [self.bags[r] for r in rows],
            stats,
            counted={self.corpus.ids[r] for r in earlier},
            tuning=self.tuning,
        )

    def positives(self, reader: data.Reader) -> list[recommend.Positive]:
        newest_first = reader.library[::-1]
        return [
            recommend.Positive(self.corpus.ids[r], self.vectors[r], self.bags[r], "imported")
            for r in newest_first
        ]


def method_scores(bench: Bench, reader: data.Reader, methods: list[str]) -> dict[str, Any]:
    """Each method's top 10 (candidate rows) for each of the reader's weeks."""
    library = reader.library
    found: dict[str, dict[int, np.ndarray]] = {m: {} for m in methods}
    models: dict[str, Any] = {}
    if "logistic" in methods or "tfidf svm" in methods or "rrf svm+max-sim" in methods:
        models = _train(bench, library, methods)
    shares: dict[str, float] = {}
    for row in library:
        for category in bench.corpus.categories[row]:
            shares[category] = shares.get(category, 0.0) + 1 / len(library)
    ages = np.arange(len(library))[::-1]  # 0 for the newest
    recency = 1 / (1 + np.log10(ages + 1))
    recency /= recency.sum()
    for week in reader.weeks:
        rows = bench.rows[week]
        similar = bench.vectors[rows] @ bench.vectors[library].T
        maxsim = similar.max(axis=1)
        scores: dict[str, Callable[[], np.ndarray]] = {
            "category share": lambda rows=rows: np.array(
                [sum(shares.get(c, 0.0) for c in bench.corpus.categories[r]) for r in rows]
            ),
            "zotero": lambda similar=similar: similar @ recency,
            "max-sim": lambda maxsim=maxsim: maxsim,
            "logistic": lambda rows=rows: models["logistic"].decision_function(bench.vectors[rows]),
            "tfidf svm": lambda rows=rows: models["svm"].decision_function(bench.tfidf[rows]),
        }
        for method in methods:
            if method == "ours":
                continue
            if method == "rrf svm+max-sim":
                fused = _rrf([scores["tfidf svm"](), maxsim])
                found[method][week] = top(fused, rows)
            else:
                found[method][week] = top(scores[method](), rows)
        if "ours" in methods:
            ranking = recommend.rank(
                bench.windows[week], bench.positives(reader), limit=10, tuning=bench.tuning
            )
            position = bench.windows[week].position
            found["ours"][week] = rows[[position[p.arxiv_id] for p in ranking.picks]]
    return found


def _train(bench: Bench, library: np.ndarray, methods: list[str]) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    negatives = np.setdiff1d(bench.negatives, library)
    rows = np.concatenate([library, negatives])
    labels = np.r_[np.ones(len(library)), np.zeros(len(negatives))]
    models: dict[str, Any] = {}
    if "logistic" in methods:
        models["logistic"] = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(
            bench.vectors[rows], labels
        )
    if "tfidf svm" in methods or "rrf svm+max-sim" in methods:
        models["svm"] = LinearSVC(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-6).fit(
            bench.tfidf[rows], labels
        )
    return models


def _rrf(rankings: list[np.ndarray], k: int = 60) -> np.ndarray:
    fused = np.zeros(len(rankings[0]))
    for scores in rankings:
        place = np.empty(len(scores))
        place[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
        fused += 1 / (k + place)
    return fused


def bootstrap(
    ours: np.ndarray, other: np.ndarray, reader_of: np.ndarray, draws: int, seed: int
) -> tuple[float, float]:
    """95% interval of mean(ours - other) over user-weeks, resampling readers."""
    rng = np.random.default_rng(seed)
    readers = np.unique(reader_of)
    difference = ours - other
    per_reader_sum = np.bincount(np.searchsorted(readers, reader_of), weights=difference)
    per_reader_count = np.bincount(np.searchsorted(readers, reader_of)).astype(float)
    means = np.empty(draws)
    for draw in range(draws):
        chosen = rng.integers(0, len(readers), len(readers))
        means[draw] = per_reader_sum[chosen].sum() / per_reader_count[chosen].sum()
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def summarise(
    table: dict[str, np.ndarray], reader_of: np.ndarray, group: np.ndarray, draws: int, seed: int
) -> dict[str, Any]:
    """Means per method overall and per group, and each baseline's paired interval."""
    out: dict[str, Any] = {}
    for name, group_mask in [("all", np.ones(len(group), bool)), ("one interest", group == 1),
                             ("several interests", group > 1)]:  # fmt: skip
        if not group_mask.any():
            continue
        part: dict[str, Any] = {
            "readers": int(len(np.unique(reader_of[group_mask]))),
            "user_weeks": int(group_mask.sum()),
            "methods": {},
        }
        for method, values in table.items():
            entry: dict[str, Any] = {
                "ndcg@10": round(float(values[group_mask, 0].mean()), 4),
                "recall@10": round(float(values[group_mask, 1].mean()), 4),
            }
            if method != "ours" and "ours" in table:
                for index, metric in enumerate(("ndcg@10", "recall@10")):
                    low, high = bootstrap(
                        table["ours"][group_mask, index],
                        values[group_mask, index],
                        reader_of[group_mask],
                        draws,
                        seed,
                    )
                    entry[f"ours_minus_{metric}_95"] = [round(low, 4), round(high, 4)]
            part["methods"][method] = entry
        out[name] = part
    return out


def choose_readers(readers: list[data.Reader], half: str, users: int, seed: int) -> list[Any]:
    pool = [r for r in readers if half == "all" or r.half == half]
    if users > len(pool):
        sys.exit(f"only {len(pool)} readers in half {half!r}; ask for fewer --users")
    chosen = np.random.default_rng(seed).choice(len(pool), users, replace=False)
    return [pool[i] for i in sorted(chosen)]


def parse_tuning(pairs: list[str]) -> recommend.Tuning:
    """`name=value` overrides of the product's constants (for tuning on the tune half)."""
    tuning = recommend.TUNING
    for pair in pairs:
        name, _, value = pair.partition("=")
        current = getattr(tuning, name)
        tuning = replace(tuning, **{name: type(current)(value)})
    return tuning


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="readers drawn (per half)")
    parser.add_argument("--seed", type=int, default=1, help="draws the readers and negatives")
    parser.add_argument("--half", choices=["tune", "report", "all"], default="report")
    parser.add_argument("--methods", nargs="+", default=[*BASELINES, "ours"])
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="override a constant of recommend.Tuning (tuning runs only)")  # fmt: skip
    parser.add_argument("--draws", type=int, default=2000, help="bootstrap draws")
    parser.add_argument("--out", type=Path, default=data.RESULTS / "recommend.json")
    args = parser.parse_args()
    if not data.SAMPLE.exists():
        sys.exit(f"needs the arXiv sample at {data.SAMPLE}")
    data.CACHE.mkdir(parents=True, exist_ok=True)
    tuning = parse_tuning(args.set)
    bench = Bench(args.seed, tuning)
    readers = choose_readers(data.find_readers(bench.corpus), args.half, args.users, args.seed)
    rows: list[tuple[int, int]] = []
    table: dict[str, list[tuple[float, float]]] = {m: [] for m in args.methods}
    group = []
    started = time.perf_counter()
    for number, reader in enumerate(readers):
        found = method_scores(bench, reader, args.methods)
        interests = recommend.find_interests(
            bench.vectors[reader.library], np.ones(len(reader.library)), GROUPING
        )
        for week, wanted in reader.weeks.items():
            rows.append((number, week))
            group.append(len(interests))
            for method in args.methods:
                table[method].append(measure(found[method][week], wanted))
        if (number + 1) % 100 == 0:
            print(f"  {number + 1}/{len(readers)} readers, {time.perf_counter() - started:.0f} s",
                  flush=True)  # fmt: skip
    reader_of = np.array([r for r, _ in rows])
    arrays = {m: np.array(v) for m, v in table.items()}
    summary = summarise(arrays, reader_of, np.array(group), args.draws, args.seed)
    result = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()[0]},
        "protocol": {
            "half": args.half,
            "seed": args.seed,
            "readers": len(readers),
            "user_weeks": len(rows),
            "reference_papers": REFERENCE,
            "negatives": NEGATIVES,
            "tuning": {k: v for k, v in vars(tuning).items()},
            "git": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                cwd=data.ROOT,
            ).stdout.strip(),  # fmt: skip
        },
        "results": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result)
    print(f"wrote {args.out}")


def print_table(result: dict[str, Any]) -> None:
    protocol = result["protocol"]
    print(f"\nhalf {protocol['half']}, seed {protocol['seed']}: {protocol['readers']} readers, "
          f"{protocol['user_weeks']} user-weeks")  # fmt: skip
    for group, part in result["results"].items():
        print(f"\n{group}: {part['readers']} readers, {part['user_weeks']} user-weeks")
        print(f"  {'method':<18} {'nDCG@10':>8} {'R@10':>6}  ours - method, 95% (nDCG; R@10)")
        for method, entry in part["methods"].items():
            gap = entry.get("ours_minus_ndcg@10_95")
            gap_recall = entry.get("ours_minus_recall@10_95")
            interval = (
                f"[{gap[0]:+.3f}, {gap[1]:+.3f}]; [{gap_recall[0]:+.3f}, {gap_recall[1]:+.3f}]"
                if gap
                else ""
            )
            print(f"  {method:<18} {entry['ndcg@10']:>8.3f} {entry['recall@10']:>6.3f}  {interval}")


if __name__ == "__main__":
    main()
