"""Accounts, sessions, CSRF, votes, submissions, comments and admin actions, in-process on
SQLite and PostgreSQL."""

import base64
import hashlib
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.cli import cli
from dailypapers.config import load_config
from dailypapers.domain.accounts import hash_password
from dailypapers.ingest.demo import load_demo
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.storage.daily import set_vote, upvotes_of, vote_rows
from dailypapers.storage.schema import sessions
from dailypapers.storage.sessions import delete_expired_sessions
from dailypapers.storage.users import create_user, find_user
from dailypapers.web.app import create_app

from .conftest import DATA, DEMO
from .httpfixture import PayloadServer, Reply

PASSWORD = "a long enough password"


def make_app(store, **settings):
    environ = {f"DAILYPAPERS_{k.upper()}": str(v) for k, v in settings.items()}
    app = create_app(load_config(environ=environ), store)
    app.state.site.clock = lambda: datetime(2024, 7, 25, 12, tzinfo=UTC)
    return app


@pytest.fixture
def app(store):
    load_demo(store)
    ingest_daily_json(store, (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes(), "hf")
    return make_app(store)


def csrf_of(response) -> str:
    return html.fromstring(response.text).xpath("//input[@name='csrf_token']/@value")[0]


def signup(client, username="ada", email=None, password=PASSWORD):
    token = csrf_of(client.get("/signup"))
    return client.post(
        "/signup",
        data={
            "csrf_token": token,
            "username": username,
            "email": email or f"{username}@example.org",
            "password": password,
        },
        follow_redirects=False,
    )


def session(app, username="ada", password=PASSWORD, **kwargs) -> TestClient:
    """A browser that signed up as `username` and logged in."""
    client = TestClient(app, raise_server_exceptions=False)
    assert signup(client, username, password=password, **kwargs).status_code == 303
    form = csrf_of(client.get("/login"))
    login = {"csrf_token": form, "login": username, "password": password}
    assert client.post("/login", data=login, follow_redirects=False).status_code == 303
    return client


def token(client) -> str:
    return csrf_of(client.get("/papers/2407.13168"))


def test_signup_login_logout_and_no_enumeration(app):
    client = session(app)
    assert "ada" in client.get("/papers").text
    client.post("/logout", data={"csrf_token": token(client)})
    assert ">Log in<" in client.get("/papers").text
    form = csrf_of(client.get("/login"))
    wrong = client.post(
        "/login", data={"csrf_token": form, "login": "ada", "password": "nope-nope-nope"}
    )
    unknown = client.post(
        "/login", data={"csrf_token": form, "login": "zed", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 400
    assert (
        "Wrong username or password." in wrong.text
        and "Wrong username or password." in unknown.text
    )
    ok = client.post(
        "/login",
        data={
            "csrf_token": form,
            "login": "ADA@example.org",
            "password": PASSWORD,
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/papers"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


@pytest.mark.parametrize(
    ("username", "email", "password", "message"),
    [
        ("a", "a@example.org", PASSWORD, "Usernames are 3-32"),
        ("<script>", "s@example.org", PASSWORD, "Usernames are 3-32"),
        ("bob", "not-an-email", PASSWORD, "does not look like an email"),
        ("bob", "bob@example.org", "short", "at least 10 characters"),
    ],
)
def test_signup_rules(app, username, email, password, message):
    client = TestClient(app)
    response = signup(client, username, email, password)
    assert response.status_code == 400 and message in response.text


def test_a_taken_username_is_said(app):
    session(app, "ada")
    other = TestClient(app)
    taken = signup(other, "ADA", "x@example.org")
    assert taken.status_code == 400 and "That username is already registered" in taken.text
    both = signup(other, "ada", "ada@example.org")  # says nothing about the email
    assert both.status_code == 400 and "That username is already registered" in both.text


def _signup_answer(app, username, email):
    """What a stranger sees signing up: the answer and the page it leads to, with the
    username written as USER and the (random) CSRF token as TOKEN, and the headers but
    cookies, the date and the (random) request id."""
    client = TestClient(app)
    answer = signup(client, username, email)
    varying = ("set-cookie", "date", "x-request-id")
    headers = {k: v for k, v in answer.headers.items() if k not in varying}
    landing = client.get(answer.headers["location"])
    token = csrf_of(landing)
    return (
        answer.status_code,
        headers,
        answer.text.replace(username, "USER"),
        landing.status_code,
        landing.text.replace(username, "USER").replace(token, "TOKEN"),
        logged_in(client),
    )


def test_a_taken_email_answers_like_a_free_one(app, store):
    session(app, "ada")
    taken = _signup_answer(app, "bea", "ADA@example.org")
    free = _signup_answer(app, "cyd", "cyd@example.org")
    assert taken == free
    assert taken[0] == 303 and taken[1]["location"] == "/login"
    assert "log in" in taken[4] and not taken[5]
    with store.connect() as conn:
        assert find_user(conn, "bea") is None  # nothing was made for the taken email
        assert find_user(conn, "cyd").email == "cyd@example.org"


def test_state_changes_need_the_csrf_token(app):
    client = session(app)
    assert client.post("/logout").status_code == 403
    assert client.post("/api/papers/2407.13168/upvote").status_code == 403
    forged = client.post("/api/papers/2407.13168/upvote", headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403 and "error" in forged.json()
    anonymous = TestClient(app)
    assert anonymous.post("/login", data={"login": "ada", "password": PASSWORD}).status_code == 403


def test_password_change_ends_other_sessions(app):
    first = session(app)
    second = TestClient(app)
    form = csrf_of(second.get("/login"))
    second.post("/login", data={"csrf_token": form, "login": "ada", "password": PASSWORD})
    assert "Log out" in second.get("/papers").text
    stolen = copy_of(app, first)
    page = first.get("/settings/password")
    changed = first.post(
        "/settings/password",
        data={"csrf_token": csrf_of(page), "current": PASSWORD, "new": "another long password"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert "Log out" in first.get("/papers").text
    assert "Log out" not in second.get("/papers").text
    assert not logged_in(stolen)  # this browser got a new session; its old id is gone too


def logged_in(client) -> bool:
    return "Log out" in client.get("/papers").text


def copy_of(app, client) -> TestClient:
    """Another browser holding a copy of `client`'s cookies (a stolen cookie)."""
    return TestClient(app, cookies=dict(client.cookies))


def session_token(client) -> str:
    """The session id inside the signed cookie (base64 JSON before the signature)."""
    data = client.cookies["dailypapers_session"].split(".", 1)[0]
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))["sid"]


def session_rows(store):
    with store.connect() as conn:
        return conn.execute(sa.select(sessions).order_by(sessions.c.created_at)).all()


def test_a_cookie_copied_before_logout_is_anonymous_after_it(app):
    client = session(app)
    stolen = copy_of(app, client)
    assert logged_in(stolen)
    client.post("/logout", data={"csrf_token": token(client)})
    assert not logged_in(client) and not logged_in(stolen)


def test_sessions_are_stored_hashed(app, store):
    client = session(app)
    raw = session_token(client)
    assert len(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))) >= 32
    [row] = session_rows(store)
    assert row.id_hash == hashlib.sha256(raw.encode()).hexdigest() != raw


def test_log_out_everywhere_ends_every_session(app):
    first = session(app)
    second = TestClient(app)
    form = csrf_of(second.get("/login"))
    second.post("/login", data={"csrf_token": form, "login": "ada", "password": PASSWORD})
    stolen = copy_of(app, first)
    page = html.fromstring(first.get("/settings/password").text)
    [button] = page.xpath("//form[@action='/logout/everywhere']//button")
    assert button.text_content().strip() == "Log out everywhere"
    ended = first.post(
        "/logout/everywhere",
        data={"csrf_token": page.xpath("//input[@name='csrf_token']/@value")[0]},
        follow_redirects=False,
    )
    assert ended.status_code == 303
    assert not any(logged_in(c) for c in (first, second, stolen))


def test_sessions_expire_after_30_days_and_are_cleaned_up(app, store):
    client = session(app)
    site = app.state.site
    start = site.clock()
    site.clock = lambda: start + timedelta(days=29, hours=23)
    assert logged_in(client)
    site.clock = lambda: start + timedelta(days=30, seconds=1)
    assert not logged_in(client)
    assert delete_expired_sessions(store, start + timedelta(days=30, seconds=1)) == 1
    assert session_rows(store) == []


def test_last_seen_is_written_at_most_once_a_minute(app, store):
    client = session(app)
    site = app.state.site
    start = site.clock()
    [row] = session_rows(store)
    site.clock = lambda: start + timedelta(seconds=50)
    assert logged_in(client)
    assert session_rows(store)[0].last_seen_at == row.last_seen_at
    site.clock = lambda: start + timedelta(seconds=70)
    assert logged_in(client)
    assert session_rows(store)[0].last_seen_at == datetime(2024, 7, 25, 12, 1, 10)


def test_upvote_toggles_idempotently_and_counts_rows(app, store):
    client = session(app)
    headers = {"X-CSRF-Token": token(client)}
    up = client.post("/api/papers/2407.13168/upvote", headers=headers)
    assert up.json() == {"id": "2407.13168", "upvotes": 18, "voted": True}
    again = client.post("/api/papers/2407.13168/upvote", headers=headers)
    assert again.json()["upvotes"] == 18
    down = client.delete("/api/papers/2407.13168/upvote", headers=headers)
    assert down.json() == {"id": "2407.13168", "upvotes": 17, "voted": False}
    assert client.delete("/api/papers/2407.13168/upvote", headers=headers).json()["upvotes"] == 17
    not_listed = client.post("/api/papers/1302.2146/upvote", headers=headers)
    assert not_listed.status_code == 404
    anonymous = TestClient(app)
    assert anonymous.post("/api/papers/2407.13168/upvote").status_code == 403
    # the form version redirects back and the page shows the vote
    form = client.post(
        "/papers/2407.13168/upvote",
        data={"csrf_token": headers["X-CSRF-Token"]},
        headers={"referer": "http://testserver/papers/date/2024-07-22"},
        follow_redirects=False,
    )
    assert form.headers["location"] == "/papers/date/2024-07-22"
    card = html.fromstring(client.get("/papers/date/2024-07-22").text).xpath(
        "//form[@data-paper='2407.13168']"
    )[0]
    assert "voted" in card.get("class") and card.xpath(".//span[@class='count']")[0].text == "18"


def test_concurrent_voters_keep_count_equal_to_rows(app, store):
    with store.begin() as conn:
        ids = [create_user(conn, f"voter{i}", f"v{i}@example.org", "x").id for i in range(24)]
    errors = []

    def flip(user_id):
        try:
            for round_ in range(6):
                with store.begin() as conn:
                    set_vote(conn, user_id, "2104.12255", round_ % 2 == 0)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=flip, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with store.connect() as conn:
        assert vote_rows(conn, "2104.12255") == 0
        assert upvotes_of(conn, "2104.12255") == 0  # imported 0 + 0 votes
    with store.begin() as conn:
        for user_id in ids[:7]:
            set_vote(conn, user_id, "2104.12255", True)
    with store.connect() as conn:
        assert vote_rows(conn, "2104.12255") == 7 == upvotes_of(conn, "2104.12255")


def test_submit_lists_a_recent_paper_once(app, store):
    client = session(app)
    page = client.get("/submit")
    first = client.post(
        "/submit",
        data={"csrf_token": csrf_of(page), "paper": "https://arxiv.org/abs/2407.13168v2"},
        follow_redirects=False,
    )
    assert first.headers["location"] == "/papers/2407.13168"  # already listed: sent to it
    assert "already on the daily list" in client.get("/papers/2407.13168").text


def test_submit_fetches_from_arxiv_and_enforces_limits(store):
    from dailypapers.domain.records import PaperRecord, VersionRecord
    from dailypapers.ingest.arxiv_oai import parse_oai_page
    from dailypapers.storage.papers import write_papers

    old = parse_oai_page(
        (DEMO / "oai" / "export-oai2-legacy--getrecord_arxivraw_1302.2146.xml").read_bytes()
    ).records
    recent = PaperRecord(
        "2104.99999",
        "Another recent paper",
        "Abstract.",
        source="oai",
        versions=[VersionRecord(1, datetime(2021, 4, 24, tzinfo=UTC))],
        latest_version=1,
    )
    with store.begin() as conn:
        write_papers(conn, [*old, recent])
    api_feed = (DEMO / "api" / "2026_id_list_2104.12255v1_versioned.xml").read_bytes()
    with PayloadServer(lambda _p, params: Reply(api_feed)) as server:
        app = make_app(store, arxiv_api_endpoint=server.url + "/api/query", submissions_per_day=1)
        app.state.site.clock = lambda: datetime(2021, 4, 25, tzinfo=UTC)
        client = session(app)
        headers = {"X-CSRF-Token": csrf_of(client.get("/submit"))}
        created = client.post(
            "/api/papers/submit", json={"paper_id": "arXiv:2104.12255"}, headers=headers
        )
        assert created.status_code == 201
        assert created.json() == {"id": "2104.12255", "alreadyListed": False}
        assert server.requests[0].params["id_list"] == "2104.12255"
    again = client.post("/api/papers/submit", json={"paper_id": "2104.12255"}, headers=headers)
    assert again.status_code == 200 and again.json()["alreadyListed"] is True
    listed = client.get("/api/daily_papers", params={"date": "2021-04-25"}).json()
    assert [i["paper"]["id"] for i in listed] == ["2104.12255"]
    assert listed[0]["submittedBy"]["user"] == "ada"
    too_old = client.post("/api/papers/submit", json={"paper_id": "1302.2146"}, headers=headers)
    assert too_old.status_code == 400
    assert "Only papers from the last 14 days" in too_old.json()["error"]
    bogus = client.post("/api/papers/submit", json={"paper_id": "2313.00001"}, headers=headers)
    assert bogus.status_code == 400 and "month out of range" in bogus.json()["error"]
    limited = client.post("/api/papers/submit", json={"paper_id": "2104.99999"}, headers=headers)
    assert limited.status_code == 429 and "1 papers a day" in limited.json()["error"]


def test_submit_of_an_unknown_paper_is_404(store):
    empty = (DEMO / "api" / "2026_id_list_0000.0000_zero-results.xml").read_bytes()
    with PayloadServer(lambda _p, _q: Reply(empty)) as server:
        app = make_app(store, arxiv_api_endpoint=server.url + "/api/query")
        client = session(app)
        page = client.get("/submit")
        response = client.post("/submit", data={"csrf_token": csrf_of(page), "paper": "2407.00001"})
    assert response.status_code == 404 and "arXiv has no paper 2407.00001" in response.text


def test_comments_markdown_replies_edit_delete(app):
    ada = session(app, "ada")
    page = ada.get("/papers/2407.13168")
    posted = ada.post(
        "/papers/2407.13168/comments",
        data={
            "csrf_token": csrf_of(page),
            "body": "**Great** paper <script>alert(1)</script> [x](javascript:alert(1))",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303
    comment_id = int(re.search(r"#comment-(\d+)", posted.headers["location"]).group(1))
    bea = session(app, "bea")
    headers = {"X-CSRF-Token": token(bea)}
    reply = bea.post(
        f"/api/papers/2407.13168/comment/{comment_id}/reply",
        json={"comment": "Agreed"},
        headers=headers,
    )
    assert reply.status_code == 201 and reply.json()["newMessage"]["content"] == "Agreed"
    nested = bea.post(
        f"/api/papers/2407.13168/comment/{reply.json()['newMessage']['id']}/reply",
        json={"comment": "Replies stay one level deep"},
        headers=headers,
    )
    thread = bea.get("/api/papers/2407.13168/comments").json()
    assert len(thread) == 1 and [r["content"] for r in thread[0]["replies"]] == [
        "Agreed",
        "Replies stay one level deep",
    ]
    assert nested.status_code == 201
    body = ada.get("/papers/2407.13168").text
    assert "<strong>Great</strong>" in body and "<script>alert(1)" not in body
    assert 'href="javascript' not in body
    # only the author may edit or delete
    forbidden = bea.post(
        f"/comments/{comment_id}/edit",
        data={"csrf_token": headers["X-CSRF-Token"], "body": "hijack"},
    )
    assert forbidden.status_code == 403
    edited = ada.post(
        f"/comments/{comment_id}/edit", data={"csrf_token": csrf_of(page), "body": "Edited *text*"}
    )
    assert edited.status_code == 200 and "<em>text</em>" in edited.text and "edited" in edited.text
    ada.post(f"/comments/{comment_id}/delete", data={"csrf_token": csrf_of(page)})
    thread = ada.get("/api/papers/2407.13168/comments").json()
    assert thread[0]["deleted"] and len(thread[0]["replies"]) == 2
    counts = ada.get("/api/daily_papers", params={"date": "2024-07-22"}).json()
    assert {i["paper"]["id"]: i["numComments"] for i in counts}["2407.13168"] == 2
    empty = bea.post("/api/papers/2407.13168/comment", json={"comment": "   "}, headers=headers)
    assert empty.status_code == 400 and empty.json() == {"error": "A comment cannot be empty"}


def test_comment_edits_and_deletions_have_a_budget(store):
    load_demo(store)
    ingest_daily_json(store, (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes(), "hf")
    app = make_app(store, rate_comment_edit="3/minute")
    ada = session(app)
    form = token(ada)
    posted = ada.post(
        "/api/papers/2407.13168/comment", json={"comment": "First"}, headers={"X-CSRF-Token": form}
    )
    comment_id = posted.json()["newMessage"]["id"]
    statuses = [
        ada.post(
            f"/comments/{comment_id}/{action}",
            data={"csrf_token": form, "body": f"Edit {n}"},
            follow_redirects=False,
        ).status_code
        for n, action in enumerate(["edit", "edit", "edit", "edit", "delete"])
    ]
    assert statuses == [303, 303, 303, 429, 429]


def test_admin_actions(app, store):
    with store.begin() as conn:
        create_user(conn, "root", "root@example.org", hash_password(PASSWORD), is_admin=True)
    admin = TestClient(app)
    form = csrf_of(admin.get("/login"))
    admin.post("/login", data={"csrf_token": form, "login": "root", "password": PASSWORD})
    troll = session(app, "troll")
    troll_token = token(troll)
    posted = troll.post(
        "/api/papers/2407.13168/comment",
        json={"comment": "spam"},
        headers={"X-CSRF-Token": troll_token},
    ).json()["newMessage"]
    admin_token = token(admin)
    assert (
        troll.post(
            "/papers/2407.13168/entry", data={"csrf_token": troll_token, "action": "remove"}
        ).status_code
        == 403
    )
    admin.post(f"/comments/{posted['id']}/hide", data={"csrf_token": admin_token})
    assert "spam" not in TestClient(app).get("/papers/2407.13168").text
    assert "hidden by an admin" in admin.get("/papers/2407.13168").text
    admin.post("/papers/2104.12255/entry", data={"csrf_token": admin_token, "action": "feature"})
    day = html.fromstring(TestClient(app).get("/papers/date/2024-07-22").text)
    assert day.xpath("//article[1]/@id") == ["paper-2104.12255"]  # featured first
    admin.post("/papers/2104.12255/entry", data={"csrf_token": admin_token, "action": "remove"})
    ids = [
        i["paper"]["id"]
        for i in TestClient(app).get("/api/daily_papers", params={"date": "2024-07-22"}).json()
    ]
    assert ids == ["2407.13168"]
    disabled = admin.post(
        "/admin/users/troll/disable", data={"csrf_token": admin_token}, follow_redirects=False
    )
    assert disabled.status_code == 303
    assert "Log out" not in troll.get("/papers").text
    relogin = troll.post(
        "/login",
        data={"csrf_token": csrf_of(troll.get("/login")), "login": "troll", "password": PASSWORD},
    )
    assert relogin.status_code == 400


def test_login_is_rate_limited(store):
    app = make_app(store, rate_login="3/minute")
    client = TestClient(app)
    form = csrf_of(client.get("/login"))
    statuses = [
        client.post("/login", data={"csrf_token": form, "login": "x", "password": "y"}).status_code
        for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 429]
    limited = client.post("/login", data={"csrf_token": form, "login": "x", "password": "y"})
    assert "Too many attempts (3/minute)" in limited.text


def login_from(app, address, login, password):
    """One login attempt from `address`; returns (status, seconds it took)."""
    client = TestClient(app, client=(address, 50000))
    form = csrf_of(client.get("/login"))
    start = time.perf_counter()
    response = client.post(
        "/login",
        data={"csrf_token": form, "login": login, "password": password},
        follow_redirects=False,
    )
    return response.status_code, time.perf_counter() - start


def test_strangers_cannot_lock_the_owner_out(store):
    app = make_app(store, rate_login="3/minute", login_delay_seconds="0.5")
    with store.begin() as conn:
        create_user(conn, "ada", "ada@example.org", hash_password(PASSWORD))
    # Wrong passwords from many addresses, by username and by email: one budget, the account's.
    for n, login in enumerate(["ada", "ADA@example.org", "Ada", "ada@example.org", "ada"]):
        status, _ = login_from(app, f"10.0.0.{n}", login, "wrong password!")
        assert status == 400
    status, took = login_from(app, "192.0.2.7", "ada", PASSWORD)
    assert status == 303  # the owner still gets in, only slowed
    assert took >= 0.5


def waits_of(app) -> list[float]:
    """Record the app's waits instead of sleeping them."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    app.state.site.sleep = record
    return waits


def test_the_account_budget_is_one_for_username_and_email(store):
    app = make_app(store, rate_login="3/minute", login_delay_seconds="0.5")
    waits = waits_of(app)
    with store.begin() as conn:
        create_user(conn, "ada", "ada@example.org", hash_password(PASSWORD))
    seen = []
    for n, login in enumerate(["ada", "ada@example.org", "ada", "ada@example.org"]):
        login_from(app, f"10.0.1.{n}", login, "wrong password!")
        seen.append(list(waits))
    assert seen == [[], [], [], [0.5]]


def test_unknown_logins_are_slowed_the_same_way(store):
    app = make_app(store, rate_login="3/minute", login_delay_seconds="0.5")
    waits = waits_of(app)
    results = [login_from(app, f"10.0.2.{n}", "Nobody", "wrong password!") for n in range(4)]
    assert [status for status, _ in results] == [400, 400, 400, 400]
    assert waits == [0.5]


def test_cli_creates_an_admin(tmp_path):
    env = {"DAILYPAPERS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    result = CliRunner().invoke(
        cli,
        ["user", "create", "root", "--email", "r@example.org", "--admin", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert result.exit_code == 0 and result.output.strip() == "created admin root <r@example.org>"
    again = CliRunner().invoke(
        cli,
        ["user", "create", "root", "--email", "q@example.org", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert again.exit_code == 1 and "username is already registered" in again.output
    weak = CliRunner().invoke(
        cli,
        ["user", "create", "bob", "--email", "b@example.org", "--password-stdin"],
        input="short\n",
        env=env,
    )
    assert weak.exit_code == 2 and "at least 10 characters" in weak.output
