"""A real browser (Debian's chromium, driven by Playwright) against a real `dailypapers serve`
on a seeded temporary database: what a new researcher does on their first morning."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import DATA, DEMO, running_serve
from .httpfixture import PayloadServer, Reply

pytestmark = pytest.mark.browser

OUTPUT = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


def _hostile_json() -> bytes:
    item = {
        "paper": {
            "id": "2401.00077",
            "title": f"Hostile {HOSTILE}",
            "summary": f"Abstract {HOSTILE}",
            "upvotes": 1,
            "authors": [{"name": f"Mallory {HOSTILE}"}],
            "githubRepo": "javascript:alert(1)",
        },
        "publishedAt": "2024-07-23T00:00:00.000Z",
        "title": f"Hostile {HOSTILE}",
        "submittedBy": {"fullname": f"Eve {HOSTILE}", "user": "eve"},
    }
    return json.dumps([item]).encode()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-site")
    api_feed = (DEMO / "api" / "2026_id_list_2104.12255v1_versioned.xml").read_bytes()
    hostile = folder / "hostile.json"
    hostile.write_bytes(_hostile_json())
    with PayloadServer(lambda _p, _q: Reply(api_feed)) as arxiv:
        env = {
            **os.environ,
            "DAILYPAPERS_DATABASE_URL": f"sqlite:///{folder / 'site.db'}",
            "DAILYPAPERS_DATA_DIR": str(folder),
            "DAILYPAPERS_ARXIV_API_ENDPOINT": arxiv.url + "/api/query",
            "DAILYPAPERS_SUBMISSION_MAX_AGE_DAYS": "36500",
        }
        cli = [sys.executable, "-m", "dailypapers"]
        subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True, timeout=120)
        for source in (DATA / "hf_daily_papers_CONSTRUCTED.json", hostile):
            subprocess.run(
                [*cli, "ingest", "hf-daily", str(source)], env=env, capture_output=True, timeout=120
            )
        with running_serve(env) as url:
            yield url


def shoot(page, name):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=False)


def test_a_new_researchers_first_morning(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(site + "/")
    assert page.locator("h1").inner_text() == "Wednesday, 29 October 2025"
    shoot(page, "daily-desktop")

    page.get_by_role("link", name="Sign up").first.click()
    page.fill("#username", "ada")
    page.fill("#email", "ada@example.org")
    page.fill("#password", "a long enough password")
    page.get_by_role("button", name="Sign up").click()
    assert "Thanks, ada: log in to continue." in page.locator(".flash").inner_text()
    page.fill("#login", "ada")
    page.fill("#password", "a long enough password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("button", name="Log out").count() == 1

    # pages through days: 2024-07-22 has two papers; previous and next skip empty days
    page.goto(site + "/papers/date/2024-07-22")
    assert page.locator("article.card").count() == 2
    page.locator("a[rel=next]").click()
    assert page.url.endswith("/papers/date/2024-07-23")
    page.locator("a[rel=prev]").click()
    assert page.url.endswith("/papers/date/2024-07-22")

    # upvote without a reload: the count changes in place, the URL stays
    vote = page.locator("form[data-paper='2407.13168'] button")
    assert vote.locator(".count").inner_text() == "17"
    vote.click()
    # A locator assertion, not wait_for_function: the page's CSP forbids the eval that uses.
    expect(vote.locator(".count")).to_have_text("18")
    assert page.url.endswith("/papers/date/2024-07-22")
    page.reload()
    assert page.locator("form[data-paper='2407.13168'] .count").inner_text() == "18"
    assert "voted" in page.locator("form[data-paper='2407.13168']").get_attribute("class")

    # filters live in the URL
    page.goto(site + "/papers/month/2024-07")
    page.check("input[name=has_code]")
    page.get_by_role("button", name="Apply").click()
    assert "has_code=1" in page.url
    assert page.locator("article.card").count() == 1

    # submit a paper the catalog may not have: fetched from (a local) arXiv API
    page.get_by_role("link", name="Submit a paper").click()
    page.fill("#paper", "https://arxiv.org/abs/2104.12255v1")
    page.get_by_role("button", name="Submit").click()
    assert page.url.endswith("/papers/2104.12255")
    assert (
        "already on the daily list" in page.locator(".flash").inner_text()
        or "on today's list" in page.locator(".flash").inner_text()
    )

    # comment in Markdown, reply
    page.goto(site + "/papers/2407.13168")
    page.fill("#comment-body", "A **careful** benchmark. <script>window.__pwned=1</script>")
    page.get_by_role("button", name="Comment").click()
    comment = page.locator(".comment-body").first
    assert comment.locator("strong").inner_text() == "careful"
    assert "<script>" in comment.inner_text()  # shown as text
    shoot(page, "paper-desktop")

    page.locator("button.linklike", has_text="Log out").click()
    assert page.get_by_role("link", name="Log in").count() == 1
    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    context.close()


def test_hostile_metadata_is_shown_as_text(site, browser):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for path in (
        "/papers/date/2024-07-23",
        "/papers/2401.00077",
        "/papers/month/2024-07",
        "/papers/trending",
    ):
        page.goto(site + path)
        assert page.evaluate("window.__pwned") is None, path
    page.goto(site + "/papers/2401.00077")
    assert HOSTILE in page.locator("h1").inner_text()
    assert page.locator("a[href^='javascript']").count() == 0
    assert dialogs == []
    page.close()


def test_phone_and_dark_screenshots(site, browser):
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, color_scheme="dark"
    )
    page = phone.new_page()
    page.goto(site + "/papers/date/2024-07-22")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing forces sideways scrolling
    shoot(page, "daily-phone-dark")
    page.goto(site + "/papers/2407.13168")
    shoot(page, "paper-phone-dark")
    phone.close()


def test_api_docs_render_from_this_site_under_the_csp(site, browser):
    """Swagger UI comes from the swagger-ui-bundle package (no CDN), reads the site's OpenAPI
    3.1 document and runs under the Content-Security-Policy: no violation, every operation."""
    page = browser.new_context().new_page()
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site) else None)
    page.goto(site + "/api/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock-summary-path", has_text="/api/daily_papers").count() == 1
    assert refused == [] and outside == []
    shoot(page, "api-docs")
