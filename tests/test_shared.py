"""List pages shared by signed-in readers (web/shared.py), in-process on SQLite and PostgreSQL:
each reader sees their own votes, saves, follows, CSRF token and name on a page rendered once,
a write shows at once, and the filled page is the page Jinja renders for that reader."""

import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.config import load_config
from dailypapers.ingest.demo import load_demo
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.services.accounts import register
from dailypapers.web.app import create_app
from dailypapers.web.shared import SharedPages

from .conftest import DATA
from .test_web import HOSTILE, hostile_day

PASSWORD = "correct horse battery staple"
DAY = "/papers/date/2024-07-22"
LISTS = [
    DAY,
    "/papers/date/2024-07-22?category=cs.CR",
    "/papers/week/2024-W30",
    "/papers/month/2024-07",
    "/papers/trending",
    "/",
]


@pytest.fixture
def catalog(store):
    load_demo(store)
    ingest_daily_json(store, (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes(), "hf")
    ingest_daily_json(store, hostile_day(), "hostile")
    for name in ("alice", "bob"):
        register(store, name, f"{name}@example.org", PASSWORD)
    return store


def app_for(store, cache_seconds: int = 10):
    environ = {"DAILYPAPERS_PAGE_CACHE_SECONDS": str(cache_seconds)}
    return create_app(load_config(environ=environ), store)


def token_of(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def signed_in(app, name: str) -> TestClient:
    client = TestClient(app)
    token = token_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": token, "login": name, "password": PASSWORD}
    )
    assert response.status_code == 200 and name in response.text
    client.headers["x-csrf-token"] = token_of(response.text)  # the session's, from now on
    return client


def post(client: TestClient, path: str, **fields: str) -> None:
    """A form post; it is answered with a redirect to the paper's page (not a list page)."""
    response = client.post(path, data=fields)
    assert response.status_code == 200, response.text


def shared_of(app) -> SharedPages:
    shared = app.state.site.shared_pages
    assert isinstance(shared, SharedPages)
    return shared


def card_state(text: str, arxiv_id: str) -> dict[str, object]:
    card = html.fromstring(text).xpath(f"//article[@id='paper-{arxiv_id}']")[0]
    vote = card.xpath(".//form[contains(@class, 'votes')]")[0]
    save = card.xpath(".//form[contains(@class, 'library')]")[0]
    org = card.xpath(".//form[@data-kind='organization']")
    return {
        "voted": "voted" in vote.get("class").split(),
        "count": int(vote.xpath(".//span[@class='count']")[0].text),
        "saved": "saved" in save.get("class").split(),
        "org_followed": bool(org) and "on" in org[0].get("class").split(),
    }


def tokens_in(text: str) -> set[str]:
    tree = html.fromstring(text)
    return set(tree.xpath("//input[@name='csrf_token']/@value")) | set(
        tree.xpath("//body/@data-csrf")
    )


def test_two_readers_each_see_their_own_state_on_one_shared_render(catalog):
    app = app_for(catalog)
    alice, bob = signed_in(app, "alice"), signed_in(app, "bob")
    post(alice, "/papers/2407.13168/upvote", action="up")
    post(alice, "/papers/2104.12255/library", action="save")
    post(bob, "/papers/2104.12255/upvote", action="up")
    post(bob, "/follows", kind="organization", value="SciCode Team")
    shared = shared_of(app)
    before = shared.renders
    for_alice, for_bob = alice.get(DAY).text, bob.get(DAY).text
    assert shared.renders == before + 1  # bob's page reused alice's render
    assert card_state(for_alice, "2407.13168") == {
        "voted": True,
        "count": 18,
        "saved": False,
        "org_followed": False,
    }
    assert card_state(for_alice, "2104.12255")["saved"] is True
    assert card_state(for_alice, "2104.12255")["voted"] is False
    assert card_state(for_bob, "2407.13168") == {
        "voted": False,
        "count": 18,
        "saved": False,
        "org_followed": True,
    }
    assert card_state(for_bob, "2104.12255")["voted"] is True
    assert card_state(for_bob, "2104.12255")["saved"] is False
    # Each page carries its reader's CSRF token in every form, and their name.
    alice_token, bob_token = token_of(for_alice), token_of(for_bob)
    assert alice_token != bob_token
    assert tokens_in(for_alice) == {alice_token} and tokens_in(for_bob) == {bob_token}
    assert html.fromstring(for_alice).xpath("//a[@class='who']/text()") == ["alice"]
    assert html.fromstring(for_bob).xpath("//a[@class='who']/text()") == ["bob"]
    # Bob's unfollow form names his follow; alice's follow form has none.
    bob_form = html.fromstring(for_bob).xpath("//form[@data-kind='organization']")[0]
    assert bob_form.get("action") == f"/follows/{bob_form.get('data-follow-id')}/delete"
    assert "dp-slot" not in for_alice + for_bob and "dpfollowid" not in for_alice + for_bob


def test_a_vote_shows_at_once_for_the_voter_and_in_the_count_for_others(catalog):
    app = app_for(catalog)
    alice, bob = signed_in(app, "alice"), signed_in(app, "bob")
    shared = shared_of(app)
    assert card_state(alice.get(DAY).text, "2407.13168")["count"] == 17
    assert card_state(bob.get(DAY).text, "2407.13168")["count"] == 17
    renders = shared.renders
    post(alice, "/papers/2407.13168/upvote", action="up")
    mine, theirs = alice.get(DAY).text, bob.get(DAY).text
    assert card_state(mine, "2407.13168")["voted"] is True
    assert card_state(mine, "2407.13168")["count"] == 18
    assert card_state(theirs, "2407.13168") == {
        "voted": False,
        "count": 18,
        "saved": False,
        "org_followed": False,
    }
    assert shared.renders == renders + 1  # the vote dropped the kept page: rendered anew


def test_a_filled_page_equals_the_page_rendered_through_jinja(catalog):
    fast, plain = app_for(catalog), app_for(catalog, cache_seconds=0)
    for app in (fast, plain):  # trending scores decay with the time of the render
        app.state.site.clock = lambda: datetime(2025, 11, 1, 12, tzinfo=UTC)
    alice = signed_in(fast, "alice")
    post(alice, "/papers/2407.13168/upvote", action="up")
    post(alice, "/papers/2104.12255/library", action="save")
    post(alice, "/papers/2401.00077/upvote", action="up")
    post(alice, "/follows", kind="organization", value="SciCode Team")
    post(alice, "/follows", kind="category", value="cs.CR")
    # The same session on an app that renders every page the ordinary way.
    reference = TestClient(plain, cookies=dict(alice.cookies))
    shared = shared_of(fast)
    assert not shared_of(plain).enabled
    for path in [*LISTS, "/papers/date/2024-07-23"]:
        alice.get(path)  # the shared render
        renders, fills = shared.renders, shared.fills
        filled = alice.get(path)
        assert (shared.renders, shared.fills) == (renders, fills + 1), path
        expected = reference.get(path)
        assert filled.status_code == expected.status_code == 200
        assert filled.headers["content-type"] == expected.headers["content-type"]
        assert filled.text == expected.text, path


def test_hostile_titles_stay_escaped_and_cannot_forge_a_slot(store):
    load_demo(store)
    forged = "<dp-slot 0 csrf>"
    item = json.loads(hostile_day())
    item[0]["paper"]["title"] = item[0]["title"] = f"Evil {HOSTILE} {forged} title"
    ingest_daily_json(store, json.dumps(item).encode(), "hostile")
    register(store, "alice", "alice@example.org", PASSWORD)
    app = app_for(store)
    alice = signed_in(app, "alice")
    alice.get("/papers/date/2024-07-23")
    text = alice.get("/papers/date/2024-07-23").text
    assert shared_of(app).fills >= 1
    assert "<script>" not in text and "<img src=x" not in text
    assert "&lt;dp-slot 0 csrf&gt;" in text
    title = html.fromstring(text).xpath("//article//h2/a")[0].text_content()
    assert title == f"Evil {HOSTILE} {forged} title"


def test_a_flash_message_is_shown_once_on_a_shared_page(catalog):
    app = app_for(catalog)
    alice = signed_in(app, "alice")
    alice.get(DAY)
    answer = alice.post(
        "/follows",
        data={"kind": "category", "value": "cs.CR"},
        headers={"referer": f"http://testserver{DAY}"},
    )  # sent back to the list, which shows "Following ..."
    assert str(answer.url).endswith(DAY)
    assert "Following" in " ".join(
        html.fromstring(answer.text).xpath("//p[@class='flash']//text()")
    )
    assert html.fromstring(alice.get(DAY).text).xpath("//p[@class='flash']") == []


def test_visitors_and_sharing_turned_off_render_the_ordinary_way(catalog):
    app = app_for(catalog, cache_seconds=0)
    alice = signed_in(app, "alice")
    assert "alice" in alice.get(DAY).text
    anonymous = TestClient(app_for(catalog))
    assert "Log in" in anonymous.get(DAY).text
    assert shared_of(app).renders == 0


def test_a_copy_of_the_cookie_is_anonymous_after_logout_even_for_a_kept_page(catalog):
    app = app_for(catalog)
    alice = signed_in(app, "alice")
    alice.get(DAY)
    assert "alice" in alice.get(DAY).text  # kept and filled
    copy = TestClient(app, cookies=dict(alice.cookies))
    assert alice.post("/logout").status_code == 200
    after = copy.get(DAY).text
    assert "alice" not in after and "Log in" in after


def test_a_vote_through_another_process_shows_within_the_check_interval(catalog, database_url):
    """Another worker or machine writes through its own store: this process learns of it by
    the database's change counter, not by its own store's writes."""
    from dailypapers.services.community import vote
    from dailypapers.storage import open_store
    from dailypapers.storage.users import find_user

    environ = {"DAILYPAPERS_PAGE_CACHE_SECONDS": "600", "DAILYPAPERS_CACHE_CHECK_SECONDS": "0"}
    app = create_app(load_config(environ=environ), catalog)
    alice = signed_in(app, "alice")
    shared = shared_of(app)
    assert card_state(alice.get(DAY).text, "2407.13168")["count"] == 17
    renders = shared.renders
    assert card_state(alice.get(DAY).text, "2407.13168")["count"] == 17
    assert shared.renders == renders  # kept: nothing changed

    other = open_store(database_url)
    try:
        with other.connect() as conn:
            bob = find_user(conn, "bob")
        vote(other, bob, "2407.13168", True)
    finally:
        other.close()
    assert card_state(alice.get(DAY).text, "2407.13168")["count"] == 18
    assert shared.renders == renders + 1


def test_one_render_per_page_however_many_readers_arrive_at_once(store):
    """Readers who find a page missing while another request renders it wait for that
    render instead of rendering it too; once it only aged out, they get the old copy while
    one request renders its successor."""
    import threading
    import time

    from dailypapers.web.cache import ChangeWatch

    user = register(store, "carol", "carol@example.org", PASSWORD)
    pages = SharedPages(store, ttl=0.5, watch=ChangeWatch(store, 3600))
    draws: list[int] = []

    def draw(_context) -> str:
        draws.append(1)
        time.sleep(0.3)  # a slow render: the others arrive meanwhile
        return f"<html><body>render {len(draws)}</body></html>"

    key = ("host", "/papers", "", False)
    got: list[str] = []

    def reader() -> None:
        got.append(pages.get_or_render(key, draw, user).texts[0])

    readers = [threading.Thread(target=reader) for _ in range(8)]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join()
    assert len(draws) == 1 and got == ["<html><body>render 1</body></html>"] * 8

    time.sleep(0.6)  # aged out, nothing written: one renders, the others get the old copy
    renderer = threading.Thread(target=reader)
    renderer.start()
    time.sleep(0.1)
    stale = pages.get(key)
    assert stale is not None and stale.texts[0].endswith("render 1</body></html>")
    renderer.join()
    assert len(draws) == 2 and pages.get(key).texts[0].endswith("render 2</body></html>")
