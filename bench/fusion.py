"""Fusion study (issue 10): how the keyword and semantic legs are best combined, chosen on the
tune half of the independent queries and reported on the held-out half.

    .venv/bin/python bench/fusion.py [--sizes 5000 72133]

Reads each leg's top 100 with scores (BM25, cosine) that bench/search_quality.py saved in
bench/results/legs-<n>.json (run it first), and scores a grid of fusion rules offline:

- RRF: sum of weight / (k + rank) (the rule shipped before, keyword weight 1.5, k 60);
- convex: the product's fuse_scores (share * BM25 / best BM25 + (1 - share) * cosine, a paper
  a leg did not bring given that leg's lowest score), and a variant giving it 0 instead;
- convex by length: one share for queries of up to `short` words, another above.

The rule with the best mean MRR@10 on the tune half (over the catalogs given) is printed
with its held-out, per-kind and judged scores beside both legs and the old rule, and written
to bench/results/fusion.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_quality import groups, load_queries, score  # noqa: E402

from dailypapers.search.hybrid import fuse_scores  # noqa: E402

Leg = list[tuple[str, float]]
Rule = Callable[[str, Leg, Leg], list[str]]


def rrf(k: float, wk: float, ws: float) -> Rule:
    def fuse(_text: str, keyword: Leg, semantic: Leg) -> list[str]:
        scores: dict[str, float] = {}
        for leg, weight in ((keyword, wk), (semantic, ws)):
            for rank, (item, _) in enumerate(leg, 1):
                scores[item] = scores.get(item, 0.0) + weight / (k + rank)
        return sorted(scores, key=lambda i: -scores[i])

    return fuse


def convex(share_short: float, share_long: float, short: int, floor: str) -> Rule:
    def fuse(text: str, keyword: Leg, semantic: Leg) -> list[str]:
        share = share_short if len(text.split()) <= short else share_long
        if floor == "last":
            return [i for i, _ in fuse_scores(keyword, semantic, share)]
        top = keyword[0][1] if keyword else 1.0
        kw = {i: s / top for i, s in keyword}
        se = dict(semantic)
        scores = {
            i: share * kw.get(i, 0.0) + (1 - share) * se.get(i, 0.0) for i in set(kw) | set(se)
        }
        return sorted(scores, key=lambda i: -scores[i])

    return fuse


def rules() -> dict[str, Rule]:
    found: dict[str, Rule] = {"keyword": lambda _t, k, _s: [i for i, _ in k]}
    found["semantic"] = lambda _t, _k, s: [i for i, _ in s]
    for k, wk in itertools.product((10, 30, 60), (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)):
        found[f"rrf k{k} kw{wk}"] = rrf(k, wk, 1.0)
    alphas = [round(a * 0.05, 2) for a in range(4, 17)]
    for a, floor in itertools.product(alphas, ("zero", "last")):
        found[f"convex a{a} {floor}"] = convex(a, a, 10**6, floor)
    for short, a_short, a_long in itertools.product((6, 12, 20), alphas[::2], alphas[::2]):
        if a_short != a_long:
            found[f"convex a{a_short}/{a_long} >{short}w last"] = convex(
                a_short, a_long, short, "last"
            )
    return found


def evaluate(rule: Rule, legs: dict[str, dict[str, Leg]], queries: list[dict[str, str]]) -> Any:
    ranked = {
        q["query"]: rule(q["query"], legs["keyword"][q["query"]], legs["semantic"][q["query"]])
        for q in queries
    }
    return score(ranked, {q["query"]: q["arxiv_id"] for q in queries})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 72133])
    parser.add_argument(
        "--also",
        nargs="*",
        default=["convex a0.4 last"],
        help="rules to show beside the chosen one (names as printed)",
    )
    args = parser.parse_args()
    queries = load_queries()
    tune = [q for q in queries if q["split"] == "tune"]
    legs = {}
    for n in args.sizes:
        path = RESULTS / f"legs-{n}.json"
        if not path.exists():
            sys.exit(f"{path} missing: run bench/search_quality.py --sizes {n} first")
        legs[n] = json.loads(path.read_text())
    candidates = rules()
    tuned = {
        name: statistics.mean(evaluate(rule, legs[n], tune)["MRR@10"] for n in legs)
        for name, rule in candidates.items()
    }
    best = sorted(tuned, key=lambda name: -tuned[name])
    print("tune half, mean MRR@10 over catalogs", args.sizes)
    for name in best[:15]:
        print(f"  {tuned[name]:.3f}  {name}")
    for name in args.also:
        if name not in candidates:
            sys.exit(f"no rule named {name!r}")
        print(f"  {tuned[name]:.3f}  {name} (shown too)")
    chosen = best[0]
    shown = ["keyword", "semantic", "rrf k60 kw1.5", chosen]
    shown += [name for name in args.also if name in candidates and name not in shown]
    report: dict[str, Any] = {"tune MRR@10": {n: tuned[n] for n in best[:40]}, "chosen": chosen}
    for n in legs:
        table = {
            group: {name: evaluate(candidates[name], legs[n], rows) for name in shown}
            for group, rows in groups(queries).items()
        }
        report[str(n)] = table
        print(f"\n{n} sample papers + demo: MRR@10 (R@10)")
        print(f"{'queries':<28}" + "".join(f"{c[:22]:>24}" for c in shown))
        for group, by_rule in table.items():
            print(
                f"{group:<28}"
                + "".join(f"{v['MRR@10']:>15.3f} ({v['R@10']:.2f})" for v in by_rule.values())
            )
    (RESULTS / "fusion.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
