"""Two machines in one test: one PostgreSQL, two real `serve` processes with data folders of
their own (each its own keyword index and page cache), talked to over HTTP as a load balancer
would spread readers over them, and two `dailypapers worker` processes sharing the scheduled
jobs. What one machine does must hold on the other: votes counted exactly under concurrency, a
rate limit of N admitting N across both, a paper submitted on one found by keyword search on
the other after that machine's own index round, and the harvest (against a local OAI-PMH
server, every 2 s here) run once per period by the two workers, its papers found on both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from lxml import html

from dailypapers.domain.jobs import OK
from dailypapers.ingest.arxiv_oai import parse_oai_page
from dailypapers.services.accounts import register
from dailypapers.storage import open_store

from .conftest import fresh_pg_database, running_serve
from .httpfixture import PayloadServer, Reply
from .test_harvest_oai import PAGES
from .test_jobs import oai_server, pg_job_env, runs_of, start_worker, stop, wait_for

ROOT = Path(__file__).resolve().parents[1]
API = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "arxiv" / "api"
PAPER = "quant-ph/0201082"  # answered by the local arXiv API below; not in the catalog before
PASSWORD = "a long enough password"
READERS = 24
COMMENTS_PER_HOUR = 5


def _env(database_url: str, data_dir: Path, api_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAILYPAPERS_")},
        "PYTHONPATH": str(ROOT),
        "DAILYPAPERS_DATABASE_URL": database_url,
        "DAILYPAPERS_DATA_DIR": str(data_dir),
        # The site-wide jobs would go to arXiv; each machine's keyword index runs regardless.
        "DAILYPAPERS_SCHEDULER": "false",
        "DAILYPAPERS_SECRET_KEY": "one key for every machine of the site, 32+ chars long",
        "DAILYPAPERS_ARXIV_API_ENDPOINT": api_url,
        "DAILYPAPERS_REQUEST_DELAY": "0",
        "DAILYPAPERS_INDEX_INTERVAL_SECONDS": "1",
        "DAILYPAPERS_PAGE_CACHE_SECONDS": "0",
        "DAILYPAPERS_RATE_LOGIN": "1000/hour",
        "DAILYPAPERS_RATE_SEARCH": "1000/hour",
        # Per hour: the windows align to the clock, per minute a run would straddle one now
        # and then.
        "DAILYPAPERS_RATE_COMMENT": f"{COMMENTS_PER_HOUR}/hour",
    }


@contextmanager
def two_machines(pg_server: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    # The real answer for this paper, moved to yesterday: only recent papers can be submitted.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = (
        (API / "2026_id_list_quant-ph-0201082v1_versioned.xml")
        .read_bytes()
        .replace(b"2002-01-18T15:08:05Z", yesterday.encode())
    )
    database_url = fresh_pg_database(pg_server)
    with ExitStack() as stack:
        arxiv = stack.enter_context(PayloadServer(lambda path, params: Reply(payload)))
        env = _env(database_url, tmp_path / "a", arxiv.url + "/api/query")
        subprocess.run([sys.executable, "-m", "dailypapers", "db", "migrate"], env=env, check=True)
        store = open_store(database_url)
        for n in range(READERS):
            register(store, f"reader{n}", f"reader{n}@example.org", PASSWORD)
        store.close()
        first = stack.enter_context(running_serve(env))
        second = stack.enter_context(
            running_serve(_env(database_url, tmp_path / "b", arxiv.url + "/api/query"))
        )
        oai = stack.enter_context(oai_server())
        workers = [
            start_worker(
                pg_job_env(
                    database_url, tmp_path / f"w{n}", oai.url + "/oai", harvest_schedule="2"
                ),
                tmp_path / f"worker{n}.log",
            )
            for n in range(2)
        ]
        stack.callback(stop, workers)
        yield first, second, database_url


def _login(url: str, username: str) -> tuple[httpx.Client, str]:
    """A signed-in client (the session lives in the database, so any machine knows it) and
    its CSRF token."""
    client = httpx.Client(base_url=url, timeout=30)
    token = html.fromstring(client.get("/login").text).xpath("//input[@name='csrf_token']/@value")[
        0
    ]
    answer = client.post(
        "/login", data={"csrf_token": token, "login": username, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    # Signing in starts a new session, with a token of its own.
    form = html.fromstring(client.get("/submit").text)
    return client, form.xpath("//input[@name='csrf_token']/@value")[0]


def test_two_machines_on_one_database_keep_their_promises(pg_server, tmp_path):
    with two_machines(pg_server, tmp_path) as (first, second, database_url):
        # A paper submitted on the first machine (fetched from arXiv there) ...
        client, token = _login(first, "reader0")
        sent = client.post("/submit", data={"csrf_token": token, "paper": PAPER})
        assert sent.status_code == 303, sent.text
        # ... is found by keyword search on the second, once its own index round ran.
        found = False
        for _ in range(120):
            hits = httpx.get(
                second + "/api/papers/search", params={"q": "quantum assembly language"}
            )
            if PAPER in {hit["paper"]["id"] for hit in hits.json()}:
                found = True
                break
            time.sleep(0.5)
        assert found, "the second machine never found the paper submitted on the first"
        assert any((tmp_path / "b" / "search" / "keyword").iterdir())  # from its own index
        listed = httpx.get(second + "/api/daily_papers").json()
        assert PAPER in {item["paper"]["id"] for item in listed}

        # Votes from 24 readers at once, spread over both machines: counted exactly.
        clients = [_login(first if n % 2 else second, f"reader{n}") for n in range(READERS)]

        def vote(n: int) -> int:
            reader, csrf = clients[n]
            reader.base_url = httpx.URL(second if n % 2 else first)  # the other machine
            return reader.post(f"/papers/{PAPER}/upvote", data={"csrf_token": csrf}).status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(vote, range(READERS))) == {303}
        for url in (first, second):
            paper = httpx.get(f"{url}/api/papers/{PAPER}").json()
            assert paper["upvotes"] == READERS

        # A limit of 5 comments an hour admits exactly 5, whichever machine each one reaches.
        statuses = []
        for n in range(2 * COMMENTS_PER_HOUR):
            client.base_url = httpx.URL(first if n % 2 else second)
            statuses.append(
                client.post(
                    f"/papers/{PAPER}/comments", data={"csrf_token": token, "body": f"note {n}"}
                ).status_code
            )
        assert statuses.count(303) == COMMENTS_PER_HOUR and statuses.count(429) == COMMENTS_PER_HOUR
        comments = httpx.get(f"{second}/api/papers/{PAPER}/comments").json()
        assert len(comments) == COMMENTS_PER_HOUR
        for reader, _ in clients:
            reader.close()
        client.close()

        # Meanwhile the two workers harvested every 2 s: each period once, by one of them,
        # and what the harvest brought is found on both machines by their own indexes.
        wait_for(
            lambda: [r for r in runs_of(database_url, "harvest") if r["status"] == OK][2:],
            what="three harvests",
        )
        runs = runs_of(database_url, "harvest")
        assert len({run["period_start"] for run in runs}) == len(runs)
        assert all(run["attempt"] == 1 for run in runs)
        harvested = parse_oai_page(PAGES[0], "page 1").records[0]
        for url in (first, second):
            wait_for(
                lambda url=url: (
                    harvested.arxiv_id in {h["paper"]["id"] for h in _search(url, harvested.title)}
                ),
                what=f"{url} to find {harvested.arxiv_id}",
            )
    for n in range(2):
        assert "Traceback" not in (tmp_path / f"worker{n}.log").read_text()


def _search(url: str, query: str) -> list[dict]:
    return httpx.get(url + "/api/papers/search", params={"q": query}).json()
