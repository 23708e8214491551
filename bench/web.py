"""Web benchmark: requests/s and p50/p99 latency of the daily page, a paper page and
/api/daily_papers at 1, 16 and 64 concurrent clients, against `dailypapers serve` with one
process and with one worker per core, on a catalog of 100k papers and 20k daily submissions.

    .venv/bin/python bench/web.py [--papers 100000] [--submissions 20000] [--duration 10]

Load comes from wrk (Debian package `wrk`, installed when missing) on 127.0.0.1 only. The
catalog is built once under bench/results/ and reused. Results go to bench/results/web.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))

from ingest import generate_snapshot  # noqa: E402


def build_catalog(folder: Path, papers: int, submissions: int) -> tuple[str, list[str], date]:
    """A SQLite catalog with `papers` synthetic papers, `submissions` of them on daily lists
    (50 a day, going back from 2026-11-20), votes recorded. Returns (url, listed ids, a day)."""
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / f"web-{papers}-{submissions}.db"
    url = f"sqlite:///{database}"
    marker = folder / f"web-{papers}-{submissions}.json"
    if marker.exists() and database.exists():
        meta = json.loads(marker.read_text())
        return url, meta["ids"], date.fromisoformat(meta["day"])
    snapshot = folder / f"synthetic-{papers}.json.gz"
    if not snapshot.exists():
        generate_snapshot(snapshot, papers)
    from dailypapers.ingest.run import ingest_daily_json, ingest_snapshot
    from dailypapers.storage import open_store

    if database.exists():
        database.unlink()
    store = open_store(url)
    print(ingest_snapshot(store, snapshot).summary(), flush=True)
    import gzip

    ids = []
    with gzip.open(snapshot, "rt") as lines:
        for line in lines:
            ids.append(json.loads(line)["id"])
            if len(ids) >= submissions:
                break
    rng = random.Random(3)
    newest = date(2026, 11, 20)
    items = []
    for index, arxiv_id in enumerate(ids):
        day = newest - timedelta(days=index // 50)
        items.append(
            {
                "paper": {
                    "id": arxiv_id,
                    "upvotes": int(rng.paretovariate(1.2)) - 1,
                    "title": "x",
                    "summary": "",
                    "authors": [],
                },
                "publishedAt": f"{day.isoformat()}T00:00:00.000Z",
                "title": "x",
                "submittedBy": {
                    "fullname": f"Curator {index % 40}",
                    "user": f"curator{index % 40}",
                },
            }
        )
    print(ingest_daily_json(store, json.dumps(items).encode(), "bench").summary(), flush=True)
    store.close()
    marker.write_text(json.dumps({"ids": ids, "day": newest.isoformat()}))
    return url, ids, newest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    url: str, workers: int, data_dir: Path, cache_seconds: float
) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_DATA_DIR": str(data_dir),
        "DAILYPAPERS_LOG_LEVEL": "ERROR",
        "DAILYPAPERS_PAGE_CACHE_SECONDS": str(cache_seconds),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dailypapers",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, clients: int, duration: int) -> dict[str, float]:
    threads = max(1, min(clients, 2))
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "10s",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_s": round(rate),
        "p50_ms": round(_ms(latency["50"]), 2),
        "p99_ms": round(_ms(latency["99"]), 2),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--out", type=Path, default=RESULTS / "web.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    url, ids, day = build_catalog(RESULTS, args.papers, args.submissions)
    targets = {
        "daily page": f"/papers/date/{day.isoformat()}",
        "paper page": f"/papers/{ids[7]}",
        "api daily_papers": f"/api/daily_papers?date={day.isoformat()}",
    }
    results: dict = {"papers": args.papers, "submissions": args.submissions, "runs": {}}
    cores = os.cpu_count() or 1
    # Anonymous readers get cached pages (page_cache_seconds, default 10); logged-in readers
    # always get fresh ones, which the uncached runs measure.
    setups = [(1, 10.0, "cached"), (cores, 10.0, "cached"), (cores, 0.0, "uncached")]
    for workers, cache_seconds, label in setups:
        process, base = start_server(url, workers, RESULTS, cache_seconds)
        try:
            for name, path in targets.items():
                assert httpx.get(base + path, timeout=10).status_code == 200, path
                for clients in args.clients:
                    numbers = run_wrk(base + path, clients, args.duration)
                    key = f"{workers} worker(s), {label} / {name} / {clients} clients"
                    results["runs"][key] = numbers
                    print(f"{key:65} {numbers}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
