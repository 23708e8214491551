"""Jobs that run themselves (dailypapers/jobs/): schedules, the record of runs, the scheduler
inside a real `serve` on SQLite, real `dailypapers worker` processes sharing one PostgreSQL
(Procrastinate), a worker killed with SIGKILL mid-harvest, retries with backoff, cleanup.
The harvests go to a local OAI-PMH server serving arXiv's own pages (tests/httpfixture.py)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dailypapers.cli import cli
from dailypapers.config import ConfigError, load_config
from dailypapers.domain.digests import ACTIVE, PENDING
from dailypapers.domain.jobs import FAILED, OK
from dailypapers.domain.schedules import parse_schedule
from dailypapers.jobs.local import PeriodScheduler
from dailypapers.jobs.registry import BY_NAME, JobContext, cleanup
from dailypapers.storage import open_store
from dailypapers.storage.jobs import claim_run, finish_run
from dailypapers.storage.limits import count_hit
from dailypapers.storage.schema import job_runs, rate_windows, sessions, subscriptions
from dailypapers.storage.sessions import add_session
from dailypapers.storage.subscriptions import add_subscription, update_subscription
from dailypapers.storage.users import create_user

from .conftest import dump_catalog, fresh_pg_database, running_serve
from .httpfixture import PayloadServer, Reply
from .test_harvest_oai import BAD_ARGUMENT, PAGES, TOKENS, arxiv_pages, harvest

ROOT = Path(__file__).resolve().parents[1]


# --- schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "5", "30", "60", "300", "900", "3600", "21600", "86400"])
def test_interval_periods_are_the_cron_ticks_procrastinate_defers(text):
    from croniter import croniter

    schedule = parse_schedule(text)
    for moment in (datetime(2026, 12, 3, 14, 7, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)):
        tick = croniter(schedule.cron, moment + timedelta(microseconds=1)).get_prev(datetime)
        assert schedule.period_start(moment) == tick.replace(tzinfo=UTC)


def test_a_daily_time_is_its_cron_tick():
    from croniter import croniter

    schedule = parse_schedule("02:30")
    moment = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert schedule.period_start(moment) == datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    assert croniter(schedule.cron, moment).get_prev(datetime).replace(tzinfo=UTC) == (
        schedule.period_start(moment)
    )
    assert schedule.describe() == "daily at 02:30 UTC"


@pytest.mark.parametrize("text", ["7", "420", "5400", "25:00", "2h", "-60"])
def test_schedules_the_clock_cannot_tile_are_refused_naming_the_setting(text):
    with pytest.raises(ConfigError, match="harvest_schedule"):
        load_config(environ={"DAILYPAPERS_HARVEST_SCHEDULE": text}, env_file=None)


def test_empty_or_zero_turns_a_job_off():
    config = load_config(
        environ={"DAILYPAPERS_BACKUP_DIR": "/srv/b", "DAILYPAPERS_BACKUP_SCHEDULE": "0"},
        env_file=None,
    )
    assert BY_NAME["backup"].off_reason(config) == "backup_schedule is empty or 0"
    assert BY_NAME["harvest"].off_reason(config.with_overrides(harvest_sets="")) == (
        "harvest_sets is empty"
    )


# --- helpers ----------------------------------------------------------------------------------


def runs_of(database_url: str, job: str) -> list[dict]:
    store = open_store(database_url, migrate=False)
    try:
        with store.connect() as conn:
            rows = conn.execute(
                sa.select(job_runs).where(job_runs.c.job == job).order_by(job_runs.c.id)
            )
            return [dict(row._mapping) for row in rows]
    finally:
        store.close()


def wait_for(predicate, timeout: float = 60.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def job_env(data_dir: Path, oai: str, **settings: str) -> dict[str, str]:
    """A process environment with only the harvest on, against the local OAI-PMH server."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAILYPAPERS_")},
        "PYTHONPATH": str(ROOT),
        "DAILYPAPERS_DATA_DIR": str(data_dir),
        "DAILYPAPERS_SCHEDULER": "true",
        "DAILYPAPERS_HARVEST_SETS": "cs",
        "DAILYPAPERS_OAI_ENDPOINT": oai,
        "DAILYPAPERS_REQUEST_DELAY": "0",
        "DAILYPAPERS_BACKOFF_BASE": "0.05",
        "DAILYPAPERS_EMBEDDINGS_SCHEDULE": "0",
        "DAILYPAPERS_CLEANUP_SCHEDULE": "0",
        "DAILYPAPERS_ANNOUNCEMENTS_SCHEDULE": "0",
        "DAILYPAPERS_THUMBNAILS_SCHEDULE": "0",
        "DAILYPAPERS_INDEX_INTERVAL_SECONDS": "1",
        **{f"DAILYPAPERS_{key.upper()}": value for key, value in settings.items()},
    }


def an_hour_ago() -> str:
    """A daily time whose period started an hour ago and ends in 23 hours: no test here
    crosses into the next one."""
    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%H:%M")


def oai_server(handler=None) -> PayloadServer:
    return PayloadServer(handler or (lambda _path, params: arxiv_pages(params)))


# --- SQLite: the scheduler inside serve ----------------------------------------------------------


@pytest.mark.slow
def test_serve_alone_harvests_on_its_schedule(tmp_path):
    with oai_server() as server:
        env = job_env(tmp_path / "data", server.url + "/oai", harvest_schedule="2")
        url = f"sqlite:///{tmp_path / 'data' / 'dailypapers.db'}"
        with running_serve(env) as site:
            done = wait_for(
                lambda: [r for r in runs_of(url, "harvest") if r["status"] == OK][1:],
                what="two harvests",
            )

            def searched() -> list[str]:
                time.sleep(1)  # under rate_search's 60 a minute
                answer = httpx.get(site + "/api/papers/search", params={"q": "caustics haloes"})
                assert answer.status_code == 200, answer.text
                return [hit["paper"]["id"] for hit in answer.json()]

            found = wait_for(searched, what="a harvested paper in the keyword index")
        runs = runs_of(url, "harvest")
    assert len({run["period_start"] for run in runs}) == len(runs)  # one try per period
    assert {run["attempt"] for run in runs} == {1} and FAILED not in {r["status"] for r in runs}
    assert len(done) >= 1 and found[0] == "1002.3162"
    store = open_store(url)
    assert len(dump_catalog(store)) == 22
    store.close()


@pytest.mark.slow
def test_a_second_serve_on_the_data_folder_does_not_run_a_finished_period_again(tmp_path):
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'dailypapers.db'}"
    with oai_server() as server:
        env = job_env(data, server.url + "/oai", harvest_schedule=an_hour_ago())
        with running_serve(env) as _first:
            first = wait_for(lambda: [r for r in runs_of(url, "harvest") if r["status"] == OK])
            with running_serve(env) as _second:
                time.sleep(3)  # the second serve waits for the lock meanwhile
            assert runs_of(url, "harvest") == first
        # The first serve is gone: a new one takes the lock and finds the period done.
        with running_serve(env) as _third:

            def lock_taken() -> bool:
                with open(data / "jobs.lock", "a") as handle:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        return True
                    fcntl.flock(handle, fcntl.LOCK_UN)
                    return False

            wait_for(lock_taken, what="the third serve to hold jobs.lock")
            time.sleep(2)
            assert runs_of(url, "harvest") == first
    assert len(first) == 1 and len(server.requests) == 3


@pytest.mark.slow
def test_a_period_whose_serve_was_killed_runs_again_at_the_next_start(tmp_path):
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'dailypapers.db'}"
    release = threading.Event()
    hung: list[bool] = []

    def slow_arxiv(_path, params):
        if params.get("resumptionToken") == TOKENS[0] and not hung:
            hung.append(True)
            return Reply(PAGES[1], hang=release)
        return arxiv_pages(params)

    with oai_server(slow_arxiv) as server:
        env = job_env(data, server.url + "/oai", harvest_schedule=an_hour_ago())
        process = subprocess.Popen(
            [sys.executable, "-m", "dailypapers", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: hung, what="the harvest to reach its second page")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            release.set()
        (killed,) = runs_of(url, "harvest")
        assert killed["status"] == "running" and killed["pid"] == process.pid
        with running_serve(env) as _site:
            wait_for(lambda: [r for r in runs_of(url, "harvest") if r["status"] == OK])
        runs = runs_of(url, "harvest")
    assert [(r["attempt"], r["status"]) for r in runs] == [(1, FAILED), (2, OK)]
    assert runs[0]["error"].startswith("interrupted")
    assert server.requests[2].params == {"verb": "ListRecords", "resumptionToken": TOKENS[0]}
    store = open_store(url)
    assert len(dump_catalog(store)) == 22
    store.close()


# --- retries and the record -----------------------------------------------------------------------


def test_a_failing_job_is_retried_with_backoff_and_its_error_kept(database_url, tmp_path):
    moments = [datetime(2026, 12, 3, 12, 0, tzinfo=UTC)]
    with oai_server(lambda _path, _params: Reply(BAD_ARGUMENT)) as server:
        config = load_config(
            environ={
                "DAILYPAPERS_DATABASE_URL": database_url,
                "DAILYPAPERS_DATA_DIR": str(tmp_path),
                "DAILYPAPERS_OAI_ENDPOINT": server.url + "/oai",
                "DAILYPAPERS_REQUEST_DELAY": "0",
                "DAILYPAPERS_HARVEST_SCHEDULE": "06:00",
                "DAILYPAPERS_JOB_RETRY_SECONDS": "10",
                "DAILYPAPERS_JOB_MAX_ATTEMPTS": "3",
            },
            env_file=None,
        )
        store = open_store(database_url)
        scheduler = PeriodScheduler(
            store, config, clock=lambda: moments[-1], jobs=[BY_NAME["harvest"]]
        )

        def at(seconds: float) -> int:
            moments.append(moments[0] + timedelta(seconds=seconds))
            scheduler.run_due()
            return len(runs_of(database_url, "harvest"))

        # Tries at 0 s, after 10 s, after 20 s more; never a fourth.
        assert [at(0), at(9), at(10.5), at(29), at(30.6), at(3600)] == [1, 1, 2, 2, 3, 3]
        store.close()
    runs = runs_of(database_url, "harvest")
    assert [(r["attempt"], r["status"]) for r in runs] == [(1, FAILED), (2, FAILED), (3, FAILED)]
    assert all("OAI-PMH error badArgument" in r["error"] for r in runs)

    listed = CliRunner().invoke(
        cli,
        ["jobs", "--json"],
        env={"DAILYPAPERS_DATABASE_URL": database_url, "DAILYPAPERS_HARVEST_SCHEDULE": "06:00"},
    )
    assert listed.exit_code == 0, listed.output
    harvest_state = {job["name"]: job for job in json.loads(listed.output)}["harvest"]
    assert harvest_state["last_run"]["outcome"] == FAILED
    assert harvest_state["last_run"]["attempt"] == 3
    assert "OAI-PMH error badArgument" in harvest_state["last_run"]["error"]
    assert harvest_state["schedule"] == "daily at 06:00 UTC"


def test_jobs_run_records_a_try_and_the_list_shows_it(tmp_path):
    env = {"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_HARVEST_SETS": ""}
    ran = CliRunner().invoke(cli, ["jobs", "run", "cleanup"], env=env)
    assert ran.exit_code == 0, ran.output
    assert ran.output.startswith("cleanup: 0 sessions")
    shown = CliRunner().invoke(cli, ["jobs"], env=env)
    assert shown.exit_code == 0
    assert "cleanup" in shown.output and "ok" in shown.output
    assert "off: harvest_sets is empty" in shown.output
    unknown = CliRunner().invoke(cli, ["jobs", "run", "harvets"], env=env)
    assert unknown.exit_code == 2 and "no job 'harvets'" in unknown.output


def test_worker_on_sqlite_stops_naming_the_reason(tmp_path):
    result = CliRunner().invoke(cli, ["worker"], env={"DAILYPAPERS_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output and "serve" in result.output


# --- cleanup -------------------------------------------------------------------------------


def test_cleanup_deletes_what_expired_and_nothing_else(store, tmp_path):
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    naive = now.replace(tzinfo=None)
    config = load_config(
        environ={"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_JOB_RUNS_KEEP_DAYS": "30"},
        env_file=None,
    )
    with store.begin() as conn:
        user = create_user(conn, "ada", "ada@example.org", "hash")
        for email, status, user_id, sent, confirmed in [
            ("expired@example.org", PENDING, None, naive - timedelta(hours=73), None),
            ("fresh@example.org", PENDING, None, naive - timedelta(hours=71), None),
            ("member@example.org", PENDING, user.id, naive - timedelta(days=30), None),
            ("reader@example.org", ACTIVE, None, naive - timedelta(days=30), naive),
        ]:
            found = add_subscription(
                conn,
                email,
                user_id=user_id,
                status=status,
                frequency="daily",
                sections=["top"],
                max_papers=10,
                now=naive - timedelta(days=40),
            )
            update_subscription(conn, found.id, naive, confirm_sent_at=sent, confirmed_at=confirmed)
        for attempt, finished in [(1, naive - timedelta(days=31)), (2, naive - timedelta(days=29))]:
            run_id = claim_run(conn, "harvest", naive, attempt, "h", 1, finished)
            finish_run(conn, run_id, OK, finished, 1.0)
        claim_run(conn, "harvest", naive, 3, "h", 1, naive - timedelta(days=60))  # running
    add_session(store, "old", user.id, naive - timedelta(days=31), naive - timedelta(seconds=1))
    add_session(store, "live", user.id, naive - timedelta(days=1), naive + timedelta(days=29))
    stamp = int(now.timestamp())
    count_hit(store, "login:ip:10.0.0.1", stamp - 86_400 - 60)
    count_hit(store, "login:ip:10.0.0.2", stamp - 3_600)

    counts = cleanup(store, config, JobContext(now, clock=lambda: now))

    assert counts == {
        "sessions": 1,
        "unconfirmed_subscriptions": 1,
        "rate_windows": 1,
        "job_runs": 1,
        **({"queue_jobs": 0} if store.dialect == "postgresql" else {}),
    }
    with store.connect() as conn:
        assert conn.execute(sa.select(sessions.c.id_hash)).scalars().all() == ["live"]
        assert sorted(conn.execute(sa.select(subscriptions.c.email)).scalars()) == [
            "fresh@example.org",
            "member@example.org",
            "reader@example.org",
        ]
        assert conn.execute(sa.select(rate_windows.c.key)).scalars().all() == ["login:ip:10.0.0.2"]
        assert sorted(conn.execute(sa.select(job_runs.c.attempt)).scalars()) == [2, 3]
    assert cleanup(store, config, JobContext(now, clock=lambda: now))["sessions"] == 0


# --- PostgreSQL: dailypapers worker, Procrastinate ----------------------------------------------


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dailypapers", "worker"], env=env, stdout=out, stderr=out
        )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pg_job_env(database_url: str, data_dir: Path, oai: str, **settings: str) -> dict[str, str]:
    return job_env(
        data_dir,
        oai,
        database_url=database_url,
        job_heartbeat_seconds="0.5",
        job_stalled_seconds="2",
        job_retry_seconds="1",
        log_level="INFO",
        **settings,
    )


@pytest.mark.slow
def test_two_workers_run_each_period_once(pg_server, tmp_path):
    database_url = fresh_pg_database(pg_server)
    open_store(database_url).close()  # migrated once, as `db migrate` would
    with oai_server() as server:
        workers = [
            start_worker(
                pg_job_env(
                    database_url, tmp_path / f"w{n}", server.url + "/oai", harvest_schedule="2"
                ),
                tmp_path / f"worker{n}.log",
            )
            for n in range(2)
        ]
        try:
            wait_for(
                lambda: [r for r in runs_of(database_url, "harvest") if r["status"] == OK][3:],
                what="four harvests",
            )
        finally:
            stop(workers)
        runs = runs_of(database_url, "harvest")
        # Every period deferred by both workers ran once: one try each, all ok (a worker
        # asked to stop finishes its job first), and the server saw three pages per harvest.
        assert [(run["attempt"], run["status"]) for run in runs] == [(1, OK)] * len(runs)
        assert len({run["period_start"] for run in runs}) == len(runs)
        assert len(server.requests) == 3 * len(runs)
        assert len({run["pid"] for run in runs}) <= 2
    for n in range(2):
        assert "Traceback" not in (tmp_path / f"worker{n}.log").read_text()


@pytest.mark.slow
def test_a_harvest_whose_worker_is_killed_is_finished_by_another(pg_server, tmp_path):
    database_url = fresh_pg_database(pg_server)
    open_store(database_url).close()
    release = threading.Event()
    hung: list[bool] = []

    def slow_arxiv(_path, params):
        # The second page hangs the first time it is asked for: the kill lands mid-harvest.
        if params.get("resumptionToken") == TOKENS[0] and not hung:
            hung.append(True)
            return Reply(PAGES[1], hang=release)
        return arxiv_pages(params)

    with oai_server(slow_arxiv) as server:
        oai = server.url + "/oai"
        workers = [
            start_worker(
                pg_job_env(database_url, tmp_path / f"w{n}", oai, harvest_schedule=an_hour_ago()),
                tmp_path / f"worker{n}.log",
            )
            for n in range(2)
        ]
        try:
            wait_for(lambda: hung, what="the harvest to reach its second page")
            (running,) = runs_of(database_url, "harvest")
            victim = next(w for w in workers if w.pid == running["pid"])
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            release.set()
            wait_for(
                lambda: [r for r in runs_of(database_url, "harvest") if r["status"] == OK],
                timeout=90,
                what="another worker to finish the harvest",
            )
        finally:
            release.set()
            stop(workers)
        runs = runs_of(database_url, "harvest")
        assert [(r["attempt"], r["status"]) for r in runs] == [(1, FAILED), (2, OK)]
        assert runs[0]["error"].startswith("interrupted")
        assert runs[1]["pid"] != victim.pid
        # The second try resumed at the page the first had not finished.
        resumed = [r.params for r in server.requests[2:]]
        assert resumed[0] == {"verb": "ListRecords", "resumptionToken": TOKENS[0]}

    store = open_store(database_url)
    reference = open_store(fresh_pg_database(pg_server))
    with oai_server() as server:
        harvest(reference, server)
    assert dump_catalog(store) == dump_catalog(reference)
    store.close()
    reference.close()


@pytest.mark.slow
def test_serve_on_postgresql_runs_a_worker_beside_a_dailypapers_worker(pg_server, tmp_path):
    database_url = fresh_pg_database(pg_server)
    with oai_server() as server:
        oai = server.url + "/oai"
        env = pg_job_env(database_url, tmp_path / "web", oai, harvest_schedule="2")
        worker = start_worker(
            pg_job_env(database_url, tmp_path / "w", oai, harvest_schedule="2"),
            tmp_path / "worker.log",
        )
        try:
            with running_serve(env, "--set", "index_interval_seconds=0") as _site:
                wait_for(
                    lambda: {r["pid"] for r in runs_of(database_url, "harvest")} - {worker.pid},
                    what="the worker inside serve to take a harvest",
                )
        finally:
            stop([worker])
        runs = runs_of(database_url, "harvest")
    assert [run["attempt"] for run in runs] == [1] * len(runs)
    assert len({run["period_start"] for run in runs}) == len(runs)


# --- what the operator sees: the admin page and the metrics -----------------------------------


def test_admin_page_and_metrics_show_the_record(store, tmp_path):
    from fastapi.testclient import TestClient
    from lxml import html

    from dailypapers.domain.accounts import hash_password
    from dailypapers.web.app import create_app

    from .test_limits import csrf_of
    from .test_ops import samples

    password = "a long enough password"
    started = datetime(2026, 12, 3, 2, 0)
    with store.begin() as conn:
        create_user(conn, "root", "root@example.org", hash_password(password), is_admin=True)
        failed = claim_run(conn, "harvest", started, 1, "web1", 41, started)
        finish_run(conn, failed, FAILED, started, 2.5, error="OAI-PMH error badArgument: no")
        done = claim_run(conn, "harvest", started, 2, "web1", 41, started)
        finish_run(conn, done, OK, started + timedelta(minutes=2), 4.0, counts={"new": 22})
    config = load_config(
        environ={"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_METRICS_ENABLED": "true"},
        env_file=None,
    )
    client = TestClient(create_app(config, store), client=("127.0.0.1", 40000))
    assert client.get("/admin/jobs").status_code == 401
    form = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_of(form), "login": "root", "password": password})

    page = html.fromstring(client.get("/admin/jobs").text)
    row = page.xpath("//tr[contains(@class, 'job-harvest')]")[0]
    assert "ok (try 2)" in " ".join(row.xpath("./td[4]//text()")).replace("\n", " ")
    assert row.xpath("./td[5]/text()") == ["4.0 s"]
    assert len(page.xpath("//table[contains(@class, 'job-runs')]/tbody/tr")) == 2
    listed = {job["name"]: job for job in client.get("/admin/jobs.json").json()}
    assert listed["harvest"]["last_run"]["counts"] == {"new": 22}
    assert listed["backup"]["off_reason"] == "backup_dir is empty"

    found = samples(client.get("/metrics").text)
    assert found[("dailypapers_job_runs", (("job", "harvest"), ("outcome", "failed")))] == 1
    assert found[("dailypapers_job_runs", (("job", "harvest"), ("outcome", "ok")))] == 1
    assert found[("dailypapers_job_last_failed", (("job", "harvest"),))] == 0
    assert found[("dailypapers_job_last_duration_seconds", (("job", "harvest"),))] == 4.0
    ended = datetime(2026, 12, 3, 2, 2, tzinfo=UTC).timestamp()
    assert found[("dailypapers_job_last_success_timestamp_seconds", (("job", "harvest"),))] == ended
