"""Thumbnails in a real browser (Debian's chromium via Playwright) against a real
`dailypapers serve`: the backfill ran as a command against a local arXiv that serves PDFs
made in the test and a 404; the daily list shows the images without layout shift on a desktop
and a phone, and the paper whose PDF failed still renders."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import running_serve
from .httpfixture import PayloadServer, Reply
from .pdfs import make_pdf
from .test_thumbnails import daily_json

pytestmark = pytest.mark.browser

OUTPUT = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
DAY = "2024-07-02"
RENDERED = ["2411.00001", "2411.00002", "2411.00003"]
WITHDRAWN = "2411.00404"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("thumbs-site")
    listing = folder / "day.json"
    listing.write_bytes(daily_json({DAY: [*RENDERED, WITHDRAWN]}))
    pdfs = {arxiv_id: make_pdf(2, seed=n) for n, arxiv_id in enumerate(RENDERED)}

    def reply(path: str, _params: dict[str, str]) -> Reply:
        pdf = pdfs.get(path.removeprefix("/pdf/"))
        if pdf is None:
            return Reply(b"not found", 404, {"Content-Type": "text/plain"})
        return Reply(pdf, headers={"Content-Type": "application/pdf"})

    with PayloadServer(reply) as arxiv:
        env = {
            **os.environ,
            "DAILYPAPERS_DATABASE_URL": f"sqlite:///{folder / 'site.db'}",
            "DAILYPAPERS_DATA_DIR": str(folder),
            "DAILYPAPERS_THUMBNAIL_PDF_URL": arxiv.url + "/pdf",
            "DAILYPAPERS_REQUEST_DELAY": "0",
            "DAILYPAPERS_HTTP_RETRIES": "0",
        }
        cli = [sys.executable, "-m", "dailypapers"]
        subprocess.run([*cli, "ingest", "hf-daily", str(listing)], env=env, check=True, timeout=120)
        done = subprocess.run(
            [*cli, "thumbnails"], env=env, check=True, capture_output=True, text=True, timeout=300
        )
        assert "3 rendered, 1 failed (missing 1)" in done.stdout
    with running_serve(env) as url:
        yield url


def shoot(page, name):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def _check_cards(page, width: int) -> None:
    for arxiv_id in RENDERED:
        image = page.locator(f"[id='paper-{arxiv_id}'] .thumb img")
        image.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [400, 518]
        box = image.bounding_box()
        assert box["width"] == width and abs(box["height"] - width * 518 / 400) < 1.5
    placeholder = page.locator(f"[id='paper-{WITHDRAWN}'] .thumb.placeholder")
    assert placeholder.count() == 1 and page.locator(f"[id='paper-{WITHDRAWN}'] img").count() == 0


def test_daily_list_shows_thumbnails_on_a_desktop(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{site}/papers/date/{DAY}")
    # width/height on the img reserve its box before the image arrives: no layout shift.
    box = page.locator(f"[id='paper-{RENDERED[0]}'] .thumb img").bounding_box()
    assert box["width"] == 120 and abs(box["height"] - 155) < 1.5
    _check_cards(page, 120)
    shoot(page, "thumbnails-daily-desktop")
    context.close()


def test_daily_list_shows_thumbnails_on_a_phone(site, browser):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.goto(f"{site}/papers/date/{DAY}")
    _check_cards(page, 72)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "thumbnails-daily-phone")
    phone.close()


def test_a_paper_whose_pdf_failed_still_renders(site, browser):
    page = browser.new_page()
    response = page.goto(f"{site}/papers/{WITHDRAWN}")
    assert response.status == 200
    assert page.locator("h1").inner_text() == f"Paper {WITHDRAWN}"
    assert page.locator(".paper-thumb").count() == 0
    page.goto(f"{site}/papers/{RENDERED[0]}")
    image = page.locator(".paper-thumb img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    shoot(page, "thumbnails-paper-desktop")
    page.close()
