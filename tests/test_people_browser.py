"""A real browser (Debian's chromium, driven by Playwright) against a real `dailypapers serve`:
an author's name on a paper leads to the author's page, and a reader's "This is me", approved
by an admin, makes the name on the paper link to the reader's profile. Screenshots on a desktop
and a phone go to test-output/screenshots."""

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from .conftest import running_serve
from .test_follows_browser import PASSWORD, _snapshot_line, shoot

pytestmark = pytest.mark.browser

PAPERS = [
    (
        "2611.80001",
        "Sparse attention for long documents",
        ["cs.CL"],
        ["Ada Lovelace", "Alan Turing"],
        5,
    ),
    ("2611.80002", "Engines of analysis", ["cs.LG"], ["A. Lovelace", "Grace Hopper"], 30),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("people-site")
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
    for name, extra in [("ada", []), ("root", ["--admin"])]:
        subprocess.run(
            [*cli, "user", "create", name, "--email", f"{name}@example.org", "--password-stdin"]
            + extra,
            env=env,
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
    with running_serve(env) as url:
        yield url


def log_in(page, site, username):
    page.goto(site + "/login")
    page.fill("#login", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_an_author_link_leads_to_the_author_page(site, browser):
    for name, viewport in [("desktop", (1280, 900)), ("phone", (390, 844))]:
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, is_mobile=name == "phone"
        )
        page = context.new_page()
        page.goto(site + "/papers/2611.80001")
        page.locator("div.authors").get_by_role("link", name="Ada Lovelace", exact=True).click()
        assert page.url == site + "/authors/Ada%20Lovelace"
        expect(page.locator("h1")).to_have_text("Ada Lovelace")
        # A. Lovelace stands for nobody else here: one person, two spellings, both papers
        expect(page.locator("p.spellings")).to_contain_text("A. Lovelace")
        expect(page.locator("article.card")).to_have_count(2)
        page.locator("ul.coauthors").get_by_role("link", name="Alan Turing").click()
        expect(page.locator("h1")).to_have_text("Alan Turing")
        shoot(page, f"author-page-{name}")
        context.close()


def test_a_claim_approved_by_an_admin_links_the_name_to_the_profile(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, site, "ada")
    page.goto(site + "/papers/2611.80001")
    page.locator("details.claim summary").click()
    page.select_option("#claim-position", label="Ada Lovelace")
    page.get_by_role("button", name="This is me").click()
    expect(page.locator("main")).to_contain_text("Claim sent")
    context.close()

    admin = browser.new_context(viewport={"width": 1280, "height": 900})
    page = admin.new_page()
    log_in(page, site, "root")
    page.get_by_role("link", name="Claims").click()
    row = page.locator("tr", has_text="Ada Lovelace")
    expect(row).to_have_count(1)
    shoot(page, "claims-admin-desktop")
    row.get_by_role("button", name="Approve").click()
    expect(page.locator("main")).to_contain_text("approved")
    admin.close()

    visitor = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = visitor.new_page()
    page.goto(site + "/papers/2611.80001")
    page.locator("div.authors").get_by_role("link", name="Ada Lovelace", exact=True).click()
    assert page.url == site + "/u/ada"
    expect(page.locator("#authored")).to_contain_text("Sparse attention for long documents")
    shoot(page, "profile-phone")
    visitor.close()
