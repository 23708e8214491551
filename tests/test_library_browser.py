"""The library in a real browser against a real `dailypapers serve` (the fixtures of
tests/test_browser.py): save from a card and from a paper page without a reload, find the paper
on /library, import a file through the form and read its report; desktop and phone."""

import pytest
from playwright.sync_api import expect

from .conftest import DATA
from .test_browser import shoot, site  # noqa: F401 (the served demo site fixture)

pytestmark = pytest.mark.browser


def sign_up_and_log_in(page, site_url, name):
    page.goto(site_url + "/signup")
    page.fill("#username", name)
    page.fill("#email", f"{name}@example.org")
    page.fill("#password", "a long enough password")
    page.get_by_role("button", name="Sign up").click()
    page.fill("#login", name)
    page.fill("#password", "a long enough password")
    page.get_by_role("button", name="Log in").click()


def test_save_find_and_import_in_the_browser(site, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # a visitor's Save leads to the login page, and back to the paper after it
    page.goto(site + "/papers/date/2024-07-22")
    page.locator("[id='paper-2407.13168'] a.save").click()
    assert "/login?next=/papers/2407.13168" in page.url
    page.goto(site + "/signup")
    sign_up_and_log_in(page, site, "lin")

    # save from a card: the button turns to Saved in place, and stays so after a reload
    page.goto(site + "/papers/date/2024-07-22")
    save = page.locator("[id='paper-2407.13168'] form.library button")
    expect(save).to_have_text("☆ Save")
    save.click()
    expect(save).to_have_text("★ Saved")
    assert page.url.endswith("/papers/date/2024-07-22")
    page.reload()
    expect(page.locator("[id='paper-2407.13168'] form.library")).to_have_class("library saved")

    # and from a paper page, then take it out again
    page.goto(site + "/papers/2104.12255")
    big = page.locator(".actions form.library button")
    big.click()
    expect(big).to_have_text("★ Saved")
    big.click()
    expect(big).to_have_text("☆ Save")
    big.click()
    expect(big).to_have_text("★ Saved")

    page.get_by_role("link", name="Library").click()
    assert page.url.endswith("/library")
    titles = page.locator(".cards.library h2 a").all_inner_texts()
    assert titles[0] == "0" and len(titles) == 2  # the newest first: 2104.12255 is titled "0"
    page.fill("form.filters input[name=q]", "SciCode")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".cards.library article")).to_have_count(1)
    shoot(page, "library-desktop")

    # import a list of ids through the form: the report names each line
    page.goto(site + "/library")
    page.set_input_files("#import-file", str(DATA / "library" / "reading-list.txt"))
    page.get_by_role("button", name="Import").click()
    assert "/library/imports/" in page.url
    assert "Imported reading-list.txt" in page.locator(".flash").inner_text()
    # while arXiv is asked for what the catalog lacks, the page refreshes itself until done
    expect(page.locator("p.import-status")).to_have_attribute("data-status", "done", timeout=30_000)
    rows = page.locator("section.matched tbody tr")
    assert rows.count() >= 3
    shoot(page, "library-import-desktop")
    assert dialogs == []
    context.close()


def test_the_library_on_a_phone(site, browser):  # noqa: F811
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    sign_up_and_log_in(page, site, "pat")
    page.goto(site + "/papers/date/2024-07-22")
    page.locator("[id='paper-2407.13168'] form.library button").click()
    expect(page.locator("[id='paper-2407.13168'] form.library button")).to_have_text("★ Saved")
    for path, name in (
        ("/papers/date/2024-07-22", "daily-signed-in-phone"),
        ("/library", "library-phone"),
    ):
        page.goto(site + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        shoot(page, name)
    phone.close()
