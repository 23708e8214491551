"""A real browser (Debian's chromium, driven by Playwright) against a real `dailypapers serve`:
a reader follows a category from its chip and finds its new papers on the Following page,
each saying why it is there. Screenshots on a desktop and a phone go to test-output/."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import running_serve

pytestmark = pytest.mark.browser

OUTPUT = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
PASSWORD = "a long enough password"


def _snapshot_line(arxiv_id, title, categories, authors, age_hours):
    created = datetime.now(UTC) - timedelta(hours=age_hours)
    return json.dumps(
        {
            "id": arxiv_id,
            "submitter": authors[0],
            "authors": ", ".join(authors),
            "title": title,
            "categories": " ".join(categories),
            "abstract": f"{title}. We study it and report what we found.",
            "versions": [
                {"version": "v1", "created": created.strftime("%a, %d %b %Y %H:%M:%S GMT")}
            ],
            "update_date": created.strftime("%Y-%m-%d"),
        }
    )


PAPERS = [
    ("2611.90001", "Sparse attention for long documents", ["cs.CL", "cs.LG"], ["Ada Lovelace"], 5),
    ("2611.90002", "Multilingual retrieval at scale", ["cs.IR", "cs.CL"], ["Alan Turing"], 20),
    ("2611.90003", "Diffusion models for image editing", ["cs.CV"], ["Grace Hopper"], 30),
    ("2611.90004", "Tokenizers and their discontents", ["cs.CL"], ["Barbara Liskov"], 50),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("follows-site")
    snapshot = folder / "recent.jsonl"
    snapshot.write_text("\n".join(_snapshot_line(*paper) for paper in PAPERS) + "\n")
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": f"sqlite:///{folder / 'site.db'}",
        "DAILYPAPERS_DATA_DIR": str(folder),
    }
    cli = [sys.executable, "-m", "dailypapers"]
    subprocess.run(
        [*cli, "ingest", "snapshot", str(snapshot)], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [*cli, "user", "create", "ada", "--email", "ada@example.org", "--password-stdin"],
        env=env,
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    with running_serve(env) as url:
        yield url


def shoot(page, name):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=False)


def log_in(page, site):
    page.goto(site + "/following")  # a visitor is sent to log in, then back
    page.fill("#login", "ada")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert page.url == site + "/following"


def test_follow_a_category_from_its_chip_and_read_the_following_page(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, site)
    assert "Follow something to fill this page" in page.locator("main").inner_text()
    shoot(page, "following-empty-desktop")

    # On a paper's page, the + beside the cs.CL chip follows it without a reload
    page.goto(site + "/papers/2611.90001")
    chip = page.get_by_role("button", name="Follow cs.CL")
    chip.click()
    following = page.get_by_role("button", name="Stop following cs.CL")
    expect(following).to_have_attribute("aria-pressed", "true")
    expect(following).to_have_text("✓")
    assert page.url == site + "/papers/2611.90001"
    page.reload()
    expect(page.get_by_role("button", name="Stop following cs.CL")).to_have_count(1)
    shoot(page, "paper-follow-desktop")

    # The Following page: the cs.CL papers, newest first, each saying why
    page.get_by_role("link", name="Following", exact=True).click()
    cards = page.locator("article.card")
    expect(cards).to_have_count(3)
    titles = [cards.nth(i).locator("h2").inner_text() for i in range(3)]
    assert titles == [
        "Sparse attention for long documents",
        "Multilingual retrieval at scale",
        "Tokenizers and their discontents",
    ]
    for i in range(3):
        assert cards.nth(i).locator("p.why").inner_text() == "Following: cs.CL"
    shoot(page, "following-desktop")

    # Follow an author from a card's name: their page, with a button to follow them
    cards.nth(0).get_by_role("link", name="Ada Lovelace").click()
    page.get_by_role("button", name="Follow author: Ada Lovelace").click()
    expect(page.get_by_role("button", name="Stop following author: Ada Lovelace")).to_have_count(1)
    page.goto(site + "/following")
    assert page.locator("article.card").first.locator("p.why").inner_text() == (
        "Following: cs.CL · author: Ada Lovelace"
    )
    page.goto(site + "/settings/follows")
    assert page.locator("ul.follow-list li").count() == 2
    shoot(page, "follows-settings-desktop")
    assert dialogs == []
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    log_in(page, site)
    expect(page.locator("article.card")).to_have_count(3)
    shoot(page, "following-phone")
    phone.close()
