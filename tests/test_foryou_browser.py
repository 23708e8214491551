"""For you in a real browser against a real `dailypapers serve` on a catalog with real MiniLM
vectors (tests/test_foryou.py's papers): save a paper, find the pick it brought with a why
line that links it, mark a pick "not interested" and see it go at once with how many close
papers moved down, undo it from "what drives your feed", and a new reader's cold start;
desktop and phone screenshots."""

import os

import pytest
from playwright.sync_api import expect

from dailypapers.search.vector import Embedder, paper_text
from dailypapers.storage import open_store
from dailypapers.storage.papers import write_papers
from dailypapers.storage.vectors import save_vectors

from .conftest import running_serve
from .test_browser import shoot
from .test_foryou import GRASP, PAPERS, ROBOTS, TWIN, records
from .test_library_browser import sign_up_and_log_in

pytestmark = pytest.mark.browser

SAVED = ROBOTS[1]  # Point Cloud-based Grasping for Soft Hand Exoskeleton (January)
SAVED_TITLE = " ".join(next(p["title"] for p in PAPERS if p["id"] == SAVED).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("foryou-site")
    url = f"sqlite:///{folder / 'site.db'}"
    made = records()
    embedder = Embedder()
    vectors = embedder.embed([paper_text(r.title, r.abstract) for r in made])
    store = open_store(url)
    with store.begin() as conn:
        write_papers(conn, made)
        save_vectors(
            conn, embedder.name, [(r.arxiv_id, 1, v) for r, v in zip(made, vectors, strict=True)]
        )
    store.close()
    env = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": url,
        "DAILYPAPERS_DATA_DIR": str(folder),
    }
    with running_serve(env) as served:
        yield served


def test_save_then_for_you_explains_and_not_interested_works(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_up_and_log_in(page, site, "rosa")

    page.goto(site + f"/papers/{SAVED}")
    save = page.locator(".actions form.library button")
    save.click()
    expect(save).to_have_text("★ Saved")

    page.get_by_role("link", name="For you", exact=True).click()
    assert page.url.endswith("/for-you")
    expect(page.locator("#cold-start")).to_have_count(0)
    cards = page.locator("article.card.foryou")
    assert cards.count() == 50
    first = cards.first
    expect(first.locator("p.why")).to_have_text(f"Because you saved {SAVED_TITLE}")
    expect(first.locator("a.closest")).to_have_attribute("href", f"/papers/{SAVED}")
    header = page.locator("header.site .bar")
    assert header.bounding_box()["height"] < 80  # one line at 1280 px
    shoot(page, "foryou-desktop")

    # "Not interested" on a grasping pick: it leaves at once, its near twin moves down
    ids = [i.removeprefix("paper-") for i in cards.evaluate_all("cs => cs.map(c => c.id)")]
    assert GRASP in ids and TWIN in ids
    page.locator(f"[id='paper-{GRASP}'] form.not-interested button").click()
    assert page.url.endswith(f"/for-you?dismissed={GRASP}")
    notice = page.locator("#dismissed-notice")
    expect(notice).to_contain_text("Not interested: Spatial RoboGrasp")
    expect(notice).to_contain_text("close to what you marked moved down")
    expect(page.locator(f"[id='paper-{GRASP}']")).to_have_count(0)
    after = [i.removeprefix("paper-") for i in cards.evaluate_all("cs => cs.map(c => c.id)")]
    assert TWIN not in after or after.index(TWIN) > ids.index(TWIN)
    shoot(page, "foryou-dismissed-desktop")

    # what drives the feed: the saved paper and the mark, whose undo works
    page.get_by_role("link", name="What drives this list").click()
    assert page.url.endswith("/for-you/profile")
    expect(page.locator("ul.signals li")).to_have_count(1)
    expect(page.locator("ul.signals li")).to_contain_text(SAVED_TITLE)
    mark = page.locator(f"#dismissed-{GRASP}".replace(".", "\\."))
    expect(mark).to_contain_text("Spatial RoboGrasp")
    shoot(page, "foryou-profile-desktop")
    mark.get_by_role("button", name="Undo").click()
    assert page.url.endswith("/for-you/profile")
    expect(page.locator(".flash")).to_contain_text("Taken back")
    expect(page.locator("ul.dismissed")).to_have_count(0)
    page.get_by_role("link", name="← Back to your list").click()
    again = [i.removeprefix("paper-") for i in cards.evaluate_all("cs => cs.map(c => c.id)")]
    assert again == ids
    assert dialogs == []
    context.close()


def test_for_you_on_a_phone_and_a_new_readers_cold_start(site, browser):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = phone.new_page()
    page.goto(site + "/for-you")
    expect(page.locator("#cold-start")).to_contain_text("import your library")
    sign_up_and_log_in(page, site, "noor")
    page.goto(site + "/for-you")
    prompt = page.locator("#cold-start")
    expect(prompt).to_contain_text("import your library")
    expect(prompt.locator("a[href='/settings/follows']")).to_have_count(1)
    expect(page.locator("textarea[name=abstract]")).to_have_count(1)
    whys = page.locator("article.card.foryou p.why").all_inner_texts()
    assert len(whys) == 50 and set(whys) == {"Trending"}
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "foryou-cold-start-phone")

    page.goto(site + f"/papers/{SAVED}")
    page.locator(".actions form.library button").click()
    expect(page.locator(".actions form.library button")).to_have_text("★ Saved")
    page.goto(site + "/for-you")
    expect(page.locator("article.card.foryou").first.locator("a.closest")).to_have_attribute(
        "href", f"/papers/{SAVED}"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "foryou-phone")
    page.goto(site + "/for-you/profile")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "foryou-profile-phone")
    phone.close()
