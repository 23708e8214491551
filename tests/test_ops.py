"""Health, metrics and logs (web/ops.py, web/observe.py, services/health.py, services/metrics.py,
services/logs.py) on SQLite and PostgreSQL, in-process and through a real `serve` with two
workers."""

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dailypapers.config import Config
from dailypapers.ingest.demo import load_demo
from dailypapers.search.keyword import KeywordIndex
from dailypapers.search.vector import model_name
from dailypapers.services.logs import configure_logging
from dailypapers.storage import head_revision, migrate_store, open_store, schema
from dailypapers.storage.harvest import Checkpoint, save_checkpoint
from dailypapers.storage.vectors import save_vectors
from dailypapers.web.app import create_app

from .conftest import free_port, fresh_pg_database

LOOPBACK = ("127.0.0.1", 40000)


def client_for(config: Config, store, client=LOOPBACK) -> TestClient:
    return TestClient(create_app(config, store), client=client, raise_server_exceptions=False)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value}, parsed by prometheus-client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def restore_logging():
    """configure_logging replaces the root logger's handlers and turns logging's thread and
    process lookups off: put pytest's handlers and the switches back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    requests_level = logging.getLogger("dailypapers.requests").level
    switches = (logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    yield
    logging.logThreads, logging.logProcesses, logging.logMultiprocessing = switches
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("dailypapers.requests").setLevel(requests_level)


# --- liveness and readiness --------------------------------------------------------------


def test_an_empty_catalog_is_ready_and_says_why(store, tmp_path):
    with client_for(Config(data_dir=str(tmp_path)), store) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "status": "ready",
        "failing": [],
        "checks": {
            "database": {"ok": True, "detail": store.dialect},
            "migrations": {"ok": True, "detail": f"at {head_revision()}"},
            "keyword_index": {"ok": True, "detail": "catalog empty; nothing to index"},
        },
    }


def test_readiness_is_503_until_the_keyword_index_exists(store, tmp_path):
    load_demo(store)
    config = Config(data_dir=str(tmp_path))
    with client_for(config, store) as client:
        before = client.get("/readyz")
        assert before.status_code == 503
        body = before.json()
        assert body["status"] == "not ready" and body["failing"] == ["keyword_index"]
        assert "dailypapers index" in body["checks"]["keyword_index"]["detail"]
        assert client.get("/livez").text == "ok"  # alive all the same
        KeywordIndex.for_data_dir(tmp_path).update(store)
        after = client.get("/readyz")
    assert after.status_code == 200
    assert after.json()["checks"]["keyword_index"] == {"ok": True, "detail": "built"}


def test_readiness_names_a_schema_behind_the_code(database_url, tmp_path):
    behind = open_store(database_url, migrate=False)
    migrate_store(behind, "0011")
    try:
        with client_for(Config(data_dir=str(tmp_path)), behind) as client:
            response = client.get("/readyz")
    finally:
        behind.close()
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["migrations"]
    assert body["checks"]["migrations"] == {
        "ok": False,
        "detail": f"database at 0011, this code expects {head_revision()}; "
        "run `dailypapers db migrate`",
    }


def test_a_database_gone_fails_readiness_not_liveness(request, tmp_path):
    folder = tmp_path / "db"
    sqlite = open_store(f"sqlite:///{folder / 'catalog.db'}")
    pg_url = fresh_pg_database(request.getfixturevalue("pg_server"))
    postgres = open_store(pg_url)
    config = Config(data_dir=str(tmp_path))
    try:
        with client_for(config, sqlite) as lite, client_for(config, postgres) as pg:
            assert lite.get("/readyz").status_code == 200 and pg.get("/readyz").status_code == 200
            shutil.rmtree(folder)
            sqlite.engine.dispose()  # a new connection must open the file, which is gone
            name = pg_url.split("/")[3].split("?")[0]
            admin = pg_url.replace(f"/{name}?", "/postgres?", 1)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            for client, reason in ((lite, "unable to open database file"), (pg, name)):
                response = client.get("/readyz")
                assert response.status_code == 503
                body = response.json()
                assert body["failing"] == ["database", "migrations", "keyword_index"]
                assert reason in body["checks"]["database"]["detail"]
                assert body["checks"]["migrations"]["detail"] == "database unreachable"
                assert client.get("/livez").status_code == 200
                assert client.get("/healthz").text == "ok"  # the alias of /livez
    finally:
        sqlite.close()
        postgres.close()


# --- metrics -----------------------------------------------------------------------------


def test_metrics_are_off_unless_enabled(store, tmp_path):
    with client_for(Config(data_dir=str(tmp_path)), store) as client:
        assert client.get("/metrics").status_code == 404
        assert "/metrics" not in client.get("/openapi.json").text


@pytest.mark.parametrize(
    ("peer", "headers", "networks", "trusted", "allowed"),
    [
        ("127.0.0.1", {}, "", "", True),
        ("::1", {}, "", "", True),
        ("203.0.113.9", {}, "", "", False),
        # A proxy on this machine forwarding a reader: the peer is loopback, the reader is not.
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.7"}, "", "", False),
        ("127.0.0.1", {"X-Real-IP": "198.51.100.7"}, "", "", False),
        ("203.0.113.9", {}, "203.0.113.0/24", "", True),
        ("203.0.113.9", {}, "10.0.0.1,203.0.113.9", "", True),
        ("198.51.100.7", {}, "203.0.113.0/24", "", False),
        ("198.51.100.7", {}, "*", "", True),
        # Behind trusted proxies uvicorn hands the reader's address on: that is judged.
        ("10.0.0.5", {"X-Forwarded-For": "10.0.0.5"}, "10.0.0.0/8", "127.0.0.1", True),
    ],
)
def test_metrics_are_served_to_loopback_and_allowed_networks_only(
    tmp_path, peer, headers, networks, trusted, allowed
):
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}")
    config = Config(
        data_dir=str(tmp_path),
        metrics_enabled=True,
        metrics_networks=networks,
        trusted_proxies=trusted,
    )
    try:
        with client_for(config, store, client=(peer, 5000)) as client:
            response = client.get("/metrics", headers=headers)
    finally:
        store.close()
    if allowed:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
    else:
        assert response.status_code == 403
        assert "loopback" in response.text and "dailypapers_" not in response.text


def test_metrics_count_requests_by_route_template_and_read_the_catalog(store, tmp_path):
    load_demo(store)
    with store.connect() as conn:
        visible = conn.execute(
            sa.select(sa.func.count()).where(schema.papers.c.hidden.is_(False))
        ).scalar_one()
        some_paper = conn.execute(sa.select(schema.papers.c.arxiv_id).limit(1)).scalar_one()
    newest = date(2026, 11, 30)
    started = datetime(2026, 12, 1, 8, 0)
    with store.begin() as conn:
        for key, day in (("a", date(2026, 11, 2)), ("b", newest)):
            save_checkpoint(
                conn,
                Checkpoint(
                    key, "http://oai", None, None, None, None, day, 1, 5, started, started, None
                ),
            )
        save_vectors(conn, model_name(128), [(some_paper, 99, np.ones(384, dtype=np.float32))])
        now = datetime(2026, 12, 1)
        subscription = conn.execute(
            sa.insert(schema.subscriptions).values(
                email="r@example.org",
                status="active",
                frequency="daily",
                sections="[]",
                max_papers=10,
                negative_keywords="",
                failures=0,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        for period, status in (
            ("2026-11-28", "sent"),
            ("2026-11-29", "sent"),
            ("2026-11-30", "failed"),
            ("2026-12-01", "retry"),
        ):
            conn.execute(
                sa.insert(schema.digests).values(
                    subscription_id=subscription,
                    period=period,
                    status=status,
                    attempts=1,
                    created_at=now,
                    updated_at=now,
                )
            )
    config = Config(data_dir=str(tmp_path), metrics_enabled=True)
    with client_for(config, store) as client:
        ids = ["2401.00001", "2401.00002", "hep-th/9901001"]
        for arxiv_id in ids:
            client.get(f"/papers/{arxiv_id}")
        client.get("/papers")
        client.get("/papers")  # the second from the page cache, before any routing
        client.get("/no/such/page")
        client.get("/static/style.css")
        for method in ("BREW", "WHEN", "PROPFIND"):  # methods a client makes up
            client.request(method, "/papers")
        scraped_at = datetime.now(UTC)
        text = client.get("/metrics").text
    found = samples(text)
    requests = {
        labels: value
        for (name, labels), value in found.items()
        if name == "dailypapers_http_requests_total"
    }
    assert requests == {
        (("method", "GET"), ("route", "/papers/{paper_id:path}"), ("status", "404")): 3.0,
        (("method", "GET"), ("route", "/papers"), ("status", "200")): 2.0,
        (("method", "GET"), ("route", "(unmatched)"), ("status", "404")): 1.0,
        (("method", "GET"), ("route", "/static/{path:path}"), ("status", "200")): 1.0,
        (("method", "other"), ("route", "/papers"), ("status", "405")): 3.0,
    }
    assert all(arxiv_id not in text for arxiv_id in ids)  # no raw path became a label
    paper_latency = (("method", "GET"), ("route", "/papers/{paper_id:path}"))
    assert found[("dailypapers_http_request_duration_seconds_count", paper_latency)] == 3.0
    slowest = (("le", "+Inf"), *paper_latency)
    assert found[("dailypapers_http_request_duration_seconds_bucket", slowest)] == 3.0
    assert found[("dailypapers_database_up", ())] == 1.0
    assert found[("dailypapers_up", ())] == 1.0
    lag = found[("dailypapers_harvest_lag_seconds", ())]
    expected = (scraped_at - datetime(2026, 11, 30, tzinfo=UTC)).total_seconds()
    assert abs(lag - expected) < 60
    assert found[("dailypapers_papers_waiting_for_embeddings", ())] == visible - 1
    digests = {
        dict(labels)["status"]: value
        for (name, labels), value in found.items()
        if name == "dailypapers_digests"
    }
    assert digests == {"sent": 2.0, "failed": 1.0, "retry": 1.0}


def test_metrics_answer_when_the_database_does_not(tmp_path):
    folder = tmp_path / "db"
    store = open_store(f"sqlite:///{folder / 'catalog.db'}")
    config = Config(data_dir=str(tmp_path), metrics_enabled=True)
    try:
        with client_for(config, store) as client:
            shutil.rmtree(folder)
            store.engine.dispose()
            response = client.get("/metrics")
    finally:
        store.close()
    assert response.status_code == 200
    found = samples(response.text)
    assert found[("dailypapers_database_up", ())] == 0.0
    assert ("dailypapers_papers_waiting_for_embeddings", ()) not in found


# --- logs --------------------------------------------------------------------------------


def test_each_request_logs_one_json_line_with_its_id(store, tmp_path, restore_logging):
    out = io.StringIO()
    config = Config(data_dir=str(tmp_path), log_format="json", request_id_header="x-request-id")
    configure_logging(config, out)
    app = create_app(config, store)

    @app.get("/test-logs-inside")
    def inside() -> str:  # a sync route: runs in the thread pool, as most of ours do
        logging.getLogger("dailypapers.test").warning("inside the route")
        return "done"

    @app.get("/test-crash")
    def crash() -> str:
        raise RuntimeError("the route broke")

    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as client:
        crashed = client.get("/test-crash")
        given = client.get("/test-logs-inside", headers={"X-Request-ID": "proxy-42.a"})
        made = client.get("/papers/1234.5678")
        forged = client.get("/livez", headers={"X-Request-ID": "bad id\nINFO forged"})
    assert given.headers["x-request-id"] == "proxy-42.a"
    assert len(made.headers["x-request-id"]) == 16
    assert forged.headers["x-request-id"] != "bad id\nINFO forged"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    inside_line = next(line for line in lines if line["logger"] == "dailypapers.test")
    assert inside_line["message"] == "inside the route"
    assert inside_line["request_id"] == "proxy-42.a"
    requests = [line for line in lines if line["logger"] == "dailypapers.requests"]
    assert len(requests) == 4
    failed, first, second, third = requests
    assert crashed.status_code == 500
    assert failed["status"] == 500 and failed["level"] == "ERROR"
    traceback = next(line for line in lines if line["message"] == "error serving /test-crash")
    assert "RuntimeError: the route broke" in traceback["exception"]
    assert traceback["request_id"] == failed["request_id"]  # the crash is found by its id
    assert first["request_id"] == "proxy-42.a" and first["route"] == "/test-logs-inside"
    assert second == {
        **second,
        "level": "INFO",
        "method": "GET",
        "route": "/papers/{paper_id:path}",
        "path": "/papers/1234.5678",
        "status": 404,
        "client": "127.0.0.1",
        "request_id": made.headers["x-request-id"],
        "message": f"GET /papers/{{paper_id:path}} 404 {second['duration_ms']:.1f} ms",
    }
    assert 0 < second["duration_ms"] < 10_000
    assert third["request_id"] == forged.headers["x-request-id"]


def test_a_client_cannot_choose_its_request_id_unless_configured(store, tmp_path):
    with client_for(Config(data_dir=str(tmp_path)), store) as client:
        response = client.get("/livez", headers={"X-Request-ID": "chosen-by-client"})
    assert response.headers["x-request-id"] != "chosen-by-client"


def test_text_logs_keep_a_crafted_path_on_one_line(store, tmp_path, restore_logging):
    out = io.StringIO()
    config = Config(data_dir=str(tmp_path), log_requests=True)
    configure_logging(config, out)
    with client_for(config, store) as client:
        client.get("/papers/x%0AERROR%20forged%20line")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    line = lines[0]
    # (No route takes a newline: `.*` stops at one.)
    assert " INFO dailypapers.requests: GET (unmatched) 404 " in line
    assert 'path="/papers/x\\nERROR forged line"' in line
    assert "route=(unmatched)" in line and "status=404" in line


def test_log_requests_off_leaves_the_request_log_quiet(store, tmp_path, restore_logging):
    out = io.StringIO()
    config = Config(data_dir=str(tmp_path), log_requests=False)
    configure_logging(config, out)
    with client_for(config, store) as client:
        assert client.get("/livez").status_code == 200
    assert out.getvalue() == ""


# --- a real serve with two workers -------------------------------------------------------


@pytest.mark.slow
def test_two_workers_share_their_counts_and_log_json_to_stdout(tmp_path):
    data = tmp_path / "data"
    stale = data / "metrics" / "counter_999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a crashed run")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAILYPAPERS_")},
        "DAILYPAPERS_DATA_DIR": str(data),
        "DAILYPAPERS_METRICS_ENABLED": "true",
        "DAILYPAPERS_LOG_FORMAT": "json",
        "DAILYPAPERS_LOG_LEVEL": "INFO",
        "DAILYPAPERS_INDEX_INTERVAL_SECONDS": "0",
        "DAILYPAPERS_SCHEDULER": "false",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    log_path = tmp_path / "stdout.log"
    with log_path.open("w") as stdout, (tmp_path / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "dailypapers", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(url + "/livez", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            assert not stale.exists()
            ids = set()
            pids = set()
            for _ in range(40):  # new connections: both workers answer some
                with httpx.Client() as client:
                    response = client.get(url + "/papers/2401.00001")
                    ids.add(response.headers["x-request-id"])
            for _ in range(6):
                text = httpx.get(url + "/metrics").text
                found = samples(text)
                key = (
                    "dailypapers_http_requests_total",
                    (("method", "GET"), ("route", "/papers/{paper_id:path}"), ("status", "404")),
                )
                assert found[key] == 40.0  # whichever worker answered the scrape
            mode = (data / "metrics").stat().st_mode & 0o777
            assert mode == 0o700
            pids = {p.name.rsplit("_", 1)[1] for p in (data / "metrics").glob("counter_*.db")}
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert len(pids) == 2  # two workers wrote counts
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    logged = {line["request_id"] for line in lines if line["logger"] == "dailypapers.requests"}
    assert ids <= logged
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # theirs as JSON too
    assert "serving Daily Papers on" in (tmp_path / "stderr.log").read_text()
