"""Thumbnails end to end on SQLite and PostgreSQL: PDFs made in the test, served by a real
HTTP server that misbehaves (404, a hang, garbage, a truncated PDF, an encrypted PDF, a huge
body), rendered in child processes, recorded, served and shown on cards and in the API."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import html
from PIL import Image

from dailypapers.cli import cli
from dailypapers.config import Config, load_config
from dailypapers.ingest.pdf_render import RenderFailed, RenderLimits, render_files
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.services.thumbnails import backfill_thumbnails, retry_wait, thumbnail_path
from dailypapers.storage import Store
from dailypapers.storage.schema import thumbnails
from dailypapers.web.app import create_app

from .httpfixture import PayloadServer, Reply
from .pdfs import encrypted_pdf, make_pdf, slow_pdf

NOW = datetime(2026, 12, 3, 12, 0, 0)
GOOD = ["2411.00001", "2411.00002", "2411.00003"]
BAD = {
    "2411.00404": "missing",
    "2411.00005": "timeout",
    "2411.00006": "not-pdf",
    "2411.00007": "corrupt",
    "2411.00008": "encrypted",
    "2411.00009": "too-large",
}
MAX_BYTES = 400_000


def daily_json(ids_by_day: dict[str, list[str]]) -> bytes:
    """A Hugging Face daily-papers JSON listing these arXiv ids on these days."""
    items = []
    for day, ids in ids_by_day.items():
        for arxiv_id in ids:
            paper = {
                "id": arxiv_id,
                "title": f"Paper {arxiv_id}",
                "summary": "An abstract.",
                "authors": [{"name": "Ada Lovelace"}],
                "upvotes": 3,
                "publishedAt": f"{day}T08:00:00.000Z",
            }
            items.append({"paper": paper, "publishedAt": f"{day}T00:00:00.000Z"})
    return json.dumps(items).encode()


class Arxiv:
    """What the fake arXiv answers for each PDF, and a count of requests per id."""

    def __init__(self) -> None:
        self.good = make_pdf(2, image=(160, 100))
        self.release = threading.Event()
        self.server = PayloadServer(self.reply)

    def reply(self, path: str, _params: dict[str, str]) -> Reply:
        arxiv_id = path.removeprefix("/pdf/")
        pdf = {"Content-Type": "application/pdf"}
        reason = BAD.get(arxiv_id)
        if reason == "missing":
            return Reply(b"not found", 404, {"Content-Type": "text/plain"})
        if reason == "timeout":
            return Reply(self.good, headers=pdf, hang=self.release)
        if reason == "not-pdf":
            return Reply(b"<!DOCTYPE html><p>garbage", headers={"Content-Type": "text/html"})
        if reason == "corrupt":
            return Reply(self.good[: len(self.good) * 2 // 3], headers=pdf)
        if reason == "encrypted":
            return Reply(encrypted_pdf(), headers=pdf)
        if reason == "too-large":
            return Reply(b"%PDF-1.4\n" + bytes(MAX_BYTES), headers=pdf)
        return Reply(self.good, headers=pdf)

    def fetches(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for seen in self.server.requests:
            arxiv_id = seen.path.removeprefix("/pdf/")
            counts[arxiv_id] = counts.get(arxiv_id, 0) + 1
        return counts


@pytest.fixture
def arxiv():
    fake = Arxiv()
    with fake.server:
        yield fake
        fake.release.set()


def settings(arxiv: Arxiv, data_dir: Path) -> Config:
    return load_config(environ={}).with_overrides(
        data_dir=str(data_dir),
        thumbnail_pdf_url=arxiv.server.url + "/pdf",
        request_delay=0.0,
        http_retries=0,
        thumbnail_timeout=1.0,
        thumbnail_max_bytes=MAX_BYTES,
    )


def rows(store: Store) -> dict[str, dict]:
    with store.connect() as conn:
        return {r["arxiv_id"]: dict(r) for r in conn.execute(sa.select(thumbnails)).mappings()}


def test_listed_papers_come_first_and_no_pdf_is_fetched_twice(store, arxiv, tmp_path):
    ingest_daily_json(store, daily_json({"2024-07-01": GOOD[:1], "2024-07-02": GOOD[1:]}), "t")
    config = settings(arxiv, tmp_path)

    first = backfill_thumbnails(store, config, limit=2, now=NOW)
    assert (first.rendered, sum(first.failed.values()), first.skipped) == (2, 0, 1)
    assert set(rows(store)) == set(GOOD[1:])  # the newest day's papers first
    second = backfill_thumbnails(store, config, limit=10, now=NOW)
    assert (second.rendered, second.skipped) == (1, 0)
    again = backfill_thumbnails(store, config, limit=10, now=NOW + timedelta(days=400))
    assert again.rendered == 0 and not again.failed
    assert arxiv.fetches() == dict.fromkeys(GOOD, 1)

    for row in rows(store).values():
        assert row["state"] == "ok" and row["attempts"] == 1
        path = thumbnail_path(config, row["file"])
        assert path.stat().st_size == row["bytes"]
        with Image.open(path) as image:
            assert image.format == "WEBP" and image.size == (row["width"], row["height"])
            assert image.size == (400, 518)  # US letter at 400 px wide
    assert not list(tmp_path.glob("thumbnails/*/.part-*"))  # no half-written file left


def test_bad_pdfs_are_recorded_once_and_retried_later(store, arxiv, tmp_path):
    ingest_daily_json(store, daily_json({"2024-07-02": [*BAD, GOOD[0]]}), "t")
    config = settings(arxiv, tmp_path)

    report = backfill_thumbnails(store, config, limit=20, now=NOW)
    assert report.rendered == 1
    assert dict(report.failed) == dict.fromkeys(BAD.values(), 1)
    recorded = rows(store)
    for arxiv_id, reason in BAD.items():
        row = recorded[arxiv_id]
        assert (row["state"], row["reason"], row["attempts"]) == ("failed", reason, 1)
        assert row["error"] and row["file"] is None
        assert row["next_try_at"] == NOW + retry_wait(reason, 1)
    assert "HTTP 404" in recorded["2411.00404"]["error"]
    assert "password" in recorded["2411.00008"]["error"]

    # Before their waits are over, nothing is fetched again.
    fetched = arxiv.fetches()
    assert (
        backfill_thumbnails(store, config, limit=20, now=NOW + timedelta(minutes=59)).failed == {}
    )
    assert arxiv.fetches() == fetched

    # Two hours on, only the timeout (a transient failure) is tried again; its wait doubles.
    later = NOW + timedelta(hours=2)
    assert dict(backfill_thumbnails(store, config, limit=20, now=later).failed) == {"timeout": 1}
    row = rows(store)["2411.00005"]
    assert row["attempts"] == 2 and row["next_try_at"] == later + timedelta(hours=2)

    # The withdrawn paper's PDF is asked for again only after a week.
    week = NOW + timedelta(days=7, minutes=1)
    retried = backfill_thumbnails(store, config, limit=20, now=week).failed
    assert retried["missing"] == 1
    assert arxiv.fetches()["2411.00404"] == 2
    assert len(rows(store)) == len(BAD) + 1  # one row per paper, however often it failed


def test_retry_waits_double_and_a_missing_pdf_waits_longest():
    assert [retry_wait("timeout", n) for n in (1, 2, 3)] == [timedelta(hours=h) for h in (1, 2, 4)]
    assert retry_wait("corrupt", 1) == timedelta(days=1)
    assert retry_wait("missing", 1) == timedelta(days=7)
    assert retry_wait("missing", 50) == timedelta(days=90)


def test_a_renderer_that_dies_costs_its_documents_not_the_caller(tmp_path):
    (tmp_path / "a.pdf").write_bytes(make_pdf(1, image=None))
    # 20 MiB of address space: the child cannot even start Python's imports.
    outcomes = render_files(tmp_path, ["a.pdf"], RenderLimits(memory_mib=20))
    assert isinstance(outcomes["a.pdf"], RenderFailed)
    assert outcomes["a.pdf"].reason == "crashed"
    fine = render_files(tmp_path, ["a.pdf"], RenderLimits(width=200))
    assert (fine["a.pdf"].width, fine["a.pdf"].height) == (200, 259)


def test_a_hung_render_is_cut_off_and_the_batch_goes_on(tmp_path):
    (tmp_path / "slow.pdf").write_bytes(slow_pdf(100_000))  # seconds of drawing
    (tmp_path / "fine.pdf").write_bytes(make_pdf(1, image=None))
    outcomes = render_files(tmp_path, ["slow.pdf", "fine.pdf"], RenderLimits(seconds=1))
    assert outcomes["slow.pdf"] == RenderFailed("render-timeout", "PDFium took over 1s")
    assert outcomes["fine.pdf"].width == 400  # rendered by a fresh child
    assert (tmp_path / "fine.pdf.img").stat().st_size > 0


def test_cards_pages_and_api_show_the_image_or_a_placeholder(store, arxiv, tmp_path):
    ingest_daily_json(store, daily_json({"2024-07-02": [GOOD[0], "2411.00007"]}), "t")
    config = settings(arxiv, tmp_path)
    app = create_app(config, store)
    with TestClient(app) as client:
        before = html.fromstring(client.get("/papers/date/2024-07-02").text)
        assert len(before.xpath("//span[@class='thumb placeholder']")) == 2
        backfill_thumbnails(store, config, limit=10, now=NOW)

        tree = html.fromstring(client.get("/papers/date/2024-07-02").text)
        (image,) = tree.xpath(f"//article[@id='paper-{GOOD[0]}']//a[@class='thumb']/img")
        assert (image.get("width"), image.get("height"), image.get("loading")) == (
            "400",
            "518",
            "lazy",
        )
        assert image.get("alt") == f"First page of Paper {GOOD[0]}"
        failed = tree.xpath("//article[@id='paper-2411.00007']")[0]
        assert failed.xpath(".//span[@class='thumb placeholder']") and not failed.xpath(".//img")

        served = client.get(image.get("src"))
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/webp"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.content[:4] == b"RIFF" and served.content[8:12] == b"WEBP"
        assert client.get("/thumbnails/" + "0" * 24 + ".webp").status_code == 404
        assert client.get("/thumbnails/..%2Fdailypapers.db").status_code == 404

        # Another machine (its own data folder, the same database) serves the same image:
        # written into its folder from the database on the first request.
        elsewhere = config.with_overrides(data_dir=str(tmp_path / "second-machine"))
        with TestClient(create_app(elsewhere, store)) as second:
            again = second.get(image.get("src"))
            assert again.status_code == 200 and again.content == served.content
        assert thumbnail_path(elsewhere, image.get("src").rsplit("/", 1)[1]).is_file()

        paper = html.fromstring(client.get(f"/papers/{GOOD[0]}").text)
        assert paper.xpath("//a[@class='paper-thumb']/img/@src") == [image.get("src")]
        broken = client.get("/papers/2411.00007")
        assert broken.status_code == 200
        assert not html.fromstring(broken.text).xpath("//a[@class='paper-thumb']")

        items = client.get("/api/daily_papers", params={"date": "2024-07-02"}).json()
        by_id = {item["paper"]["id"]: item["thumbnail"] for item in items}
        assert by_id == {GOOD[0]: "http://testserver" + image.get("src"), "2411.00007": None}


def test_cli_backfills_with_a_summary(store, arxiv, tmp_path, database_url):
    ingest_daily_json(store, daily_json({"2024-07-02": [GOOD[0], "2411.00404"]}), "t")
    config = settings(arxiv, tmp_path)
    flags = [
        f"database_url={database_url}",
        f"data_dir={tmp_path}",
        f"thumbnail_pdf_url={config.thumbnail_pdf_url}",
        "request_delay=0",
        "http_retries=0",
    ]
    args = [part for pair in flags for part in ("--set", pair)]
    result = CliRunner().invoke(cli, [*args, "thumbnails", "--limit", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "thumbnails: 1 rendered, 0 failed, 1 skipped" in result.output
    result = CliRunner().invoke(cli, [*args, "thumbnails"], catch_exceptions=False)
    assert "thumbnails: 0 rendered, 1 failed (missing 1), 0 skipped" in result.output

    # A restore brings the rows back without the files: --check-files writes them from the
    # database, without fetching the PDF again.
    (file,) = [row["file"] for row in rows(store).values() if row["state"] == "ok"]
    content = thumbnail_path(config, file).read_bytes()
    thumbnail_path(config, file).unlink()
    fetched = len(arxiv.server.requests)
    result = CliRunner().invoke(cli, [*args, "thumbnails", "--check-files"], catch_exceptions=False)
    assert "thumbnails: 1 images written from the database, 0 due again" in result.output
    assert "thumbnails: 0 rendered, 0 failed, 0 skipped" in result.output
    assert thumbnail_path(config, file).read_bytes() == content
    assert len(arxiv.server.requests) == fetched


def test_the_scheduled_job_renders_listed_papers_only(store, arxiv, tmp_path):
    from dailypapers.jobs.registry import BY_NAME, JobContext
    from dailypapers.storage.schema import daily_submissions

    ingest_daily_json(store, daily_json({"2024-07-02": GOOD[:2]}), "t")
    with store.begin() as conn:  # taken off the list: still in the catalog, no longer listed
        conn.execute(
            sa.update(daily_submissions)
            .where(daily_submissions.c.arxiv_id == GOOD[1])
            .values(removed=True)
        )
    config = settings(arxiv, tmp_path).with_overrides(thumbnails_per_run=5)
    job = BY_NAME["thumbnails"]
    assert job.off_reason(config) is None
    counts = job.run(store, config, JobContext(period_start=datetime.now(UTC)))
    assert counts == {"rendered": 1, "skipped": 0, "busy": 0}
    assert set(rows(store)) == {GOOD[0]} and arxiv.fetches() == {GOOD[0]: 1}
    # The command line still backfills the rest of the catalog.
    assert backfill_thumbnails(store, config, limit=5).rendered == 1
    assert set(rows(store)) == set(GOOD[:2])
    assert job.off_reason(config.with_overrides(thumbnails_schedule="0")) == (
        "thumbnails_schedule is empty or 0"
    )
