"""Ingest benchmark: records/s and peak memory of `dailypapers ingest snapshot` into SQLite for
synthetic snapshots of 100k and 1M records, in the normal and the bulk mode, and OAI-PMH page
parsing speed.

    .venv/bin/python bench/ingest.py [--sizes 100000 1000000] [--repeat 3] [--modes normal bulk]
                                     [--workers auto] [--before DIR] [--skip-oai] [--out FILE]

The snapshot is generated (Zipf vocabulary, field sizes shaped like real arXiv metadata:
~10-word titles, ~170-word abstracts, 1-12 authors, 1-3 categories, 1-4 versions), gzipped, and
cached under bench/results/. Each ingest runs in a fresh process on an empty database, so the
peak RSS printed is that process's own (and its largest parse worker's, apart); CPU seconds per
record are split the same way. Medians over --repeat runs, the modes taking turns; the machine
is shared, so the load average is printed with each run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CATEGORIES = [
    "cs.CL",
    "cs.LG",
    "cs.CV",
    "cs.AI",
    "math.CO",
    "hep-th",
    "quant-ph",
    "astro-ph.GA",
    "cond-mat.str-el",
    "stat.ML",
    "math.AP",
    "physics.optics",
    "eess.SP",
    "q-bio.NC",
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _vocabulary(rng: random.Random, size: int = 30000) -> list[str]:
    letters = "etaoinshrdlucmfwypvbgkqjxz"
    words = set()
    while len(words) < size:
        length = max(2, int(rng.gauss(7, 2.5)))
        words.add("".join(rng.choice(letters[: 8 + length]) for _ in range(length)))
    return sorted(words)


def _zipf_sampler(rng: random.Random, words: list[str]):  # type: ignore[no-untyped-def]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)

    def sample(n: int) -> list[str]:
        return rng.choices(words, cum_weights=cumulative, k=n)

    return sample


def _wrap(text: str, width: int = 80) -> str:
    lines, line = [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "  " + "\n".join(lines) + "\n"


def generate_snapshot(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    words = _vocabulary(rng)
    sample = _zipf_sampler(rng, words)
    surnames = [w.capitalize() for w in words[5000:9000]]
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=3) as out:
        for index in range(count):
            yymm = 1501 + (index // 90000) % 12 + 100 * ((index // 1080000) % 9)
            arxiv_id = f"{yymm:04d}.{index % 90000 + 10000:05d}"
            authors = [
                f"{rng.choice('ABCDEFGHJKLMNPRST')}. {rng.choice(surnames)}"
                for _ in range(rng.choice([1, 2, 3, 3, 4, 4, 5, 6, 8, 12]))
            ]
            versions = []
            for number in range(1, rng.choice([1, 1, 1, 2, 2, 3, 4]) + 1):
                day = rng.randint(1, 28)
                versions.append(
                    {
                        "version": f"v{number}",
                        "created": f"Mon, {day} {rng.choice(MONTHS)} 20{yymm // 100} "
                        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00 GMT",
                    }
                )
            categories = rng.sample(CATEGORIES, rng.choice([1, 1, 2, 2, 3]))
            record = {
                "id": arxiv_id,
                "submitter": authors[0],
                "authors": ", ".join(authors),
                "title": " ".join(sample(rng.randint(6, 16))).capitalize(),
                "comments": f"{rng.randint(4, 40)} pages, {rng.randint(1, 12)} figures"
                if rng.random() < 0.6
                else None,
                "journal-ref": None,
                "doi": None,
                "report-no": None,
                "categories": " ".join(categories),
                "license": "http://creativecommons.org/licenses/by/4.0/",
                "abstract": _wrap(" ".join(sample(rng.randint(90, 260)))),
                "versions": versions,
                "update_date": f"20{yymm // 100}-{yymm % 100:02d}-15",
                "authors_parsed": [[a.split(". ")[1], a.split(". ")[0] + ".", ""] for a in authors],
            }
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


# Peak RSS: this process's own and, separately, its largest parse worker's (RUSAGE_CHILDREN
# reports the largest child that has ended; the pool's workers end with the ingest).
INGEST_CHILD = """
import inspect, json, os, resource, sys, time
from pathlib import Path
from dailypapers.storage import open_store
from dailypapers.ingest.run import ingest_snapshot
store = open_store(sys.argv[1])
options = {"workers": None if sys.argv[5] == "auto" else int(sys.argv[5])}
if "bulk" in inspect.signature(ingest_snapshot).parameters:  # not in --before checkouts
    options["bulk"] = sys.argv[4] == "bulk"
start = time.perf_counter()
cpu = os.times()
report = ingest_snapshot(store, Path(sys.argv[2]), batch_size=int(sys.argv[3]), **options)
elapsed = time.perf_counter() - start
end = os.times()
print(json.dumps({"records": report.seen, "seconds": elapsed, "summary": report.summary(),
                  "cpu_main_s": end.user + end.system - cpu.user - cpu.system,
                  "cpu_workers_s": end.children_user + end.children_system
                  - cpu.children_user - cpu.children_system,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_rss_worker_mb":
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def ingest_once(
    snapshot: Path, batch_size: int, mode: str, workers: str, code: Path = ROOT
) -> dict:
    """One `ingest snapshot` run in a fresh process on an empty SQLite database, with the
    dailypapers package found in `code` (this checkout, or an older one for a before/after)."""
    environment = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        command = [sys.executable, "-c", INGEST_CHILD, url, str(snapshot), str(batch_size)]
        output = subprocess.run(
            [*command, mode, workers],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd=folder,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def summarise(runs: list[dict], mode: str, workers: str) -> dict:
    rates = [r["records"] / r["seconds"] for r in runs]
    records = runs[0]["records"]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    return {
        "mode": mode,
        "workers": workers,
        "records": records,
        "records_per_s_median": round(statistics.median(rates)),
        "records_per_s_runs": [round(r) for r in rates],
        "cpu_us_per_record_main": round(median("cpu_main_s") / records * 1e6, 1),
        "cpu_us_per_record_workers": round(median("cpu_workers_s") / records * 1e6, 1),
        "peak_rss_mb_median": round(median("peak_rss_mb"), 1),
        "peak_rss_worker_mb_median": round(median("peak_rss_worker_mb"), 1),
        "summary": runs[0]["summary"],
    }


def bench_oai_parse(repeat: int) -> dict:
    from dailypapers.ingest.arxiv_oai import parse_oai_page

    page = (
        ROOT
        / "dailypapers"
        / "demo"
        / "oai"
        / ("export-oai2-legacy--listrecords_arxivraw_large-page_387-records_reindented.xml")
    )
    data = page.read_bytes()
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        records = 0
        for _ in range(10):
            records += len(parse_oai_page(data).records)
        rates.append(records / (time.perf_counter() - start))
    return {
        "page_bytes": len(data),
        "records_per_page": 387,
        "records_per_s_median": round(statistics.median(rates)),
        "mb_per_s_median": round(statistics.median(rates) / 387 * len(data) / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--modes", nargs="+", default=["normal", "bulk"], choices=["normal", "bulk"]
    )
    parser.add_argument(
        "--workers", default="auto", help="parse processes: a number, or auto (CPUs - 1)"
    )
    parser.add_argument("--skip-oai", action="store_true", help="only the snapshot ingests")
    parser.add_argument(
        "--before",
        type=Path,
        help="also run the normal path of the checkout in this folder (e.g. `git archive` of "
        "an older commit), as mode 'before'",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "ingest.json")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()},
        "date": time.strftime("%Y-%m-%d"),
        "snapshot_sqlite": {},
    }
    if not args.skip_oai:
        print(f"OAI page parsing ({args.repeat} x 10 pages of 387 records)...", flush=True)
        results["oai_parse"] = bench_oai_parse(args.repeat)
        print(json.dumps(results["oai_parse"]), flush=True)
    for size in args.sizes:
        snapshot = RESULTS / f"synthetic-{size}.json.gz"
        if not snapshot.exists():
            print(f"generating {snapshot.name}...", flush=True)
            generate_snapshot(snapshot, size)
        print(f"ingest snapshot {size:,} records into SQLite x{args.repeat}...", flush=True)
        # The modes take turns, so a busy spell on the shared machine hits both alike.
        modes = (["before"] if args.before else []) + args.modes
        runs: dict[str, list[dict]] = {mode: [] for mode in modes}
        for _ in range(args.repeat):
            for mode in modes:
                code = args.before.resolve() if mode == "before" else ROOT
                run = ingest_once(snapshot, args.batch_size, mode, args.workers, code)
                runs[mode].append(run)
                rate = run["records"] / run["seconds"]
                print(f"  {mode}: {rate:,.0f} records/s, load {os.getloadavg()[0]:.1f}", flush=True)
        results["snapshot_sqlite"][str(size)] = {
            mode: summarise(mode_runs, mode, args.workers) for mode, mode_runs in runs.items()
        }
        print(json.dumps(results["snapshot_sqlite"][str(size)]), flush=True)
    results["machine"]["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
