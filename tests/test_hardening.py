"""Issue 9 regressions, each failing before its fix: input that reached a 500, a cache a Host
header could poison or a flood of URLs could grow, missing security headers, a world-readable
database file, the submission quota checked after the arXiv fetch, and size caps."""

import os
import stat
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from dailypapers.config import load_config
from dailypapers.ingest.demo import load_demo
from dailypapers.storage import open_store
from dailypapers.web.app import create_app
from dailypapers.web.cache import PageCache

from .conftest import DEMO, fresh_pg_database
from .httpfixture import PayloadServer, Reply
from .test_people import csrf_of, make_app, session

ATOM = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('hardening') / 'c.db'}")
    load_demo(store)
    yield store
    store.close()


@pytest.fixture
def client(catalog, tmp_path):
    config = load_config(
        environ={"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    )
    with TestClient(create_app(config, catalog), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "url",
    [
        "/api/papers/%E2%82%AC",
        "/api/papers/%E2%82%AC/similar",
        "/api/daily_papers?date=%E2%82%AC",
        "/api/daily_papers?limit=%E2%82%AC",
        "/api/daily_papers?p=184467440737095517",
        "/api/daily_papers?p=99999999999999999999999",
        "/api/daily_papers?limit=-%C2%B2",
        "/papers?page=99999999999999999999",
        "/papers?page=%C2%B2",
        "/papers/date/%E2%82%AC",
        "/papers/week/%E2%82%AC",
        "/feeds/daily.atom?month=%E2%82%AC",
    ],
)
def test_bad_input_is_a_clear_4xx_never_a_500(client, url):
    response = client.get(url)
    assert 400 <= response.status_code < 500, response.text
    if url.startswith("/api/"):
        assert response.json()["error"]
        assert response.headers["x-error-message"].isascii()


def test_a_non_latin1_message_reaches_the_header_percent_encoded(client):
    response = client.get("/api/daily_papers", params={"date": "€uro"})
    assert response.status_code == 400
    assert response.json() == {"error": "date must be YYYY-MM-DD, got '€uro'"}
    assert response.headers["x-error-message"] == "date must be YYYY-MM-DD, got '%E2%82%ACuro'"


@pytest.mark.parametrize(
    "url",
    [
        "/papers/week/0001-W01",
        "/papers/week/9999-W52",
        "/papers/month/0001-01",
        "/papers/month/9999-12",
    ],
)
def test_the_ends_of_the_calendar_are_empty_lists(client, url):
    response = client.get(url)
    assert response.status_code == 200 and "No papers here" in response.text


def test_control_characters_do_not_break_feeds(client):
    response = client.get("/feeds/search.atom", params={"q": "\x01dilepton\x1f signature"})
    assert response.status_code == 200
    title = etree.fromstring(response.content).xpath("/a:feed/a:title/text()", namespaces=ATOM)
    assert title == ["Search: dilepton signature"]


def test_categories_are_bounded_and_linear(client):
    many = ",".join(f"cs.X{chr(65 + i % 26)}{chr(65 + i // 26)}" for i in range(60))
    response = client.get("/api/daily_papers", params={"category": many})
    assert response.status_code == 400 and "at most 50 categories" in response.json()["error"]
    repeated = client.get("/api/daily_papers", params={"category": ",".join(["cs.CL"] * 1000)})
    assert repeated.status_code == 200
    huge = client.get("/api/daily_papers", params={"category": ",".join(["cs.CL"] * 1600)})
    assert huge.status_code == 414  # the query-string cap comes first


def test_a_host_header_does_not_poison_cached_feeds(catalog, tmp_path):
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)})  # cache on
    with TestClient(create_app(config, catalog)) as client:
        evil = client.get("/feeds/daily.atom", headers={"host": "evil.example"})
        assert b"evil.example" in evil.content  # that client's own Host, not cached for others
        honest = client.get("/feeds/daily.atom")
        assert b"evil.example" not in honest.content


def test_base_url_decides_self_links_and_markdown_urls(catalog, tmp_path):
    config = load_config(
        environ={
            "DAILYPAPERS_DATA_DIR": str(tmp_path),
            "DAILYPAPERS_BASE_URL": "https://papers.example.org",
        }
    )
    with TestClient(create_app(config, catalog)) as client:
        feed = etree.fromstring(
            client.get("/feeds/daily.atom", headers={"host": "evil.example"}).content
        )
        self_link = feed.xpath("/a:feed/a:link[@rel='self']/@href", namespaces=ATOM)[0]
        assert self_link.startswith("https://papers.example.org/feeds/daily.atom")
        local = client.get("/api/daily_papers", params={"limit": 100}).json()
        seed = next(i["paper"]["id"] for i in local if i["paper"]["id"].startswith("local-"))
        markdown = client.get(f"/papers/{seed}.md", headers={"host": "evil.example"}).text
        assert f"- Paper page: https://papers.example.org/papers/{seed}" in markdown


def test_the_page_cache_forgets_expired_pages_and_holds_bounded_bytes(catalog):
    async def page(scope, receive, send):
        body = b"x" * 1000
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    cache = PageCache(page, catalog, ttl=0.2, cookie="s", max_bytes=50_000)
    client = TestClient(cache)
    for number in range(200):
        assert client.get(f"/papers?q={number}").status_code == 200
    assert cache.size <= 50_000 and len(cache.entries) <= 50
    assert cache.size == sum(len(e.body) for e in cache.entries.values())
    time.sleep(1.1)  # past the ttl and the sweep interval
    client.get("/papers?q=fresh")
    assert list(cache.entries) == [("GET", b"testserver", "/papers", b"q=fresh", b"*/*")]


def test_security_headers_on_every_kind_of_answer(client):
    for url in ("/papers", "/api/daily_papers", "/static/style.css", "/nowhere", "/api/docs"):
        headers = client.get(url).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], url
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_api_docs_are_served_from_this_site(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/api-docs.js").status_code == 200


def test_the_sqlite_file_is_private(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'private.db'}")
    store.close()
    mode = stat.S_IMODE(os.stat(tmp_path / "private.db").st_mode)
    assert mode == 0o600


def test_size_caps_answer_before_any_route(client):
    long_query = client.get("/api/papers/search", params={"q": "x" * 9000})
    assert long_query.status_code == 414
    token = {"X-CSRF-Token": "anything"}
    body = client.post("/api/papers/submit", content=b"{" * (2 * 1024 * 1024), headers=token)
    assert body.status_code == 413 and "over 1048576 bytes" in body.json()["error"]


def test_a_deeply_nested_body_is_a_400(store):
    load_demo(store)
    client = session(make_app(store))
    headers = {"X-CSRF-Token": csrf_of(client.get("/submit"))}
    nested = client.post("/api/papers/submit", content=b"[" * 100_000, headers=headers)
    assert nested.status_code == 400
    assert nested.json() == {"error": 'The body must be JSON: {"paper_id": "..."}'}


def test_huge_and_odd_comment_ids_are_not_found(store):
    load_demo(store)
    client = session(make_app(store))
    headers = {"X-CSRF-Token": csrf_of(client.get("/submit"))}
    reply = client.post(
        f"/api/papers/1302.2146/comment/{2**70}/reply", json={"comment": "hi"}, headers=headers
    )
    assert reply.status_code == 400  # the API documents comment ids as 1 to 2**31 - 1
    edit = client.post(
        f"/comments/{2**70}/edit", data={"csrf_token": headers["X-CSRF-Token"], "body": "x"}
    )
    assert edit.status_code == 404
    posted = client.post(
        "/papers/1302.2146/comments",
        data={"csrf_token": headers["X-CSRF-Token"], "body": "A top-level one", "parent_id": "²"},
        follow_redirects=False,
    )
    assert posted.status_code == 303


def test_over_quota_nothing_is_fetched_from_arxiv(store):
    from dailypapers.domain.records import PaperRecord, VersionRecord
    from dailypapers.storage.papers import write_papers

    recent = PaperRecord(
        "2104.99999",
        "A recent paper",
        "Abstract.",
        source="oai",
        versions=[VersionRecord(1, datetime(2021, 4, 24, tzinfo=UTC))],
        latest_version=1,
    )
    with store.begin() as conn:
        write_papers(conn, [recent])
    api_feed = (DEMO / "api" / "2026_id_list_2104.12255v1_versioned.xml").read_bytes()
    with PayloadServer(lambda _p, _q: Reply(api_feed)) as server:
        app = make_app(store, arxiv_api_endpoint=server.url + "/api/query", submissions_per_day=1)
        app.state.site.clock = lambda: datetime(2021, 4, 25, tzinfo=UTC)
        client = session(app)
        headers = {"X-CSRF-Token": csrf_of(client.get("/submit"))}
        first = client.post("/api/papers/submit", json={"paper_id": "2104.99999"}, headers=headers)
        assert first.status_code == 201
        over = client.post("/api/papers/submit", json={"paper_id": "2104.12255"}, headers=headers)
    assert over.status_code == 429 and "1 papers a day" in over.json()["error"]
    assert server.requests == []  # over quota: arXiv is not asked, nothing is imported


def test_a_form_encoded_body_to_a_json_action_is_a_400(store):
    load_demo(store)
    client = session(make_app(store))
    token = csrf_of(client.get("/submit"))
    sent = client.post("/api/papers/submit", data={"csrf_token": token, "paper_id": "2407.13168"})
    assert sent.status_code == 400  # was a 500: the stream was read twice
    assert sent.json() == {"error": 'The body must be JSON: {"paper_id": "..."}'}


def test_disabling_an_account_ends_its_sessions(store):
    import sqlalchemy as sa

    from dailypapers.domain.accounts import hash_password
    from dailypapers.storage import schema
    from dailypapers.storage.users import create_user

    load_demo(store)
    app = make_app(store)
    bob = session(app, "bob")
    with store.begin() as conn:
        create_user(
            conn, "root", "root@example.org", hash_password("an admin password"), is_admin=True
        )
    admin = TestClient(app)
    form = csrf_of(admin.get("/login"))
    admin.post(
        "/login", data={"csrf_token": form, "login": "root", "password": "an admin password"}
    )
    token = csrf_of(admin.get("/submit"))
    disabled = admin.post("/admin/users/bob/disable", data={"csrf_token": token})
    assert disabled.status_code in (200, 303)
    with store.connect() as conn:
        bob_id = conn.execute(sa.select(schema.users.c.id).where(schema.users.c.username == "bob"))
        left = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.sessions)
            .where(schema.sessions.c.user_id == bob_id.scalar_one())
        ).scalar_one()
    assert left == 0
    assert ">Log in<" in bob.get("/papers").text


def test_two_signups_racing_for_one_email_do_not_crash(pg_server):
    """PostgreSQL only: the second transaction passes the check before the first commits;
    the unique index refuses its row and the answer is 'taken', not a 500. (SQLite's writers
    take turns, so the race cannot happen there.)"""
    import threading

    from dailypapers.domain.accounts import EmailTaken
    from dailypapers.domain.errors import Conflict
    from dailypapers.storage.users import create_user

    store = open_store(fresh_pg_database(pg_server))
    first = store.engine.connect()
    transaction = first.begin()
    create_user(first, "ada", "ada@example.org", "hash")
    outcome: list[Exception] = []

    def second() -> None:
        try:
            with store.begin() as conn:
                create_user(conn, "ada2", "ada@example.org", "hash")
        except Conflict as error:
            outcome.append(error)

    racer = threading.Thread(target=second)
    racer.start()
    time.sleep(0.5)  # the second insert now waits on the first's row
    transaction.commit()
    first.close()
    racer.join(timeout=30)
    store.close()
    assert len(outcome) == 1 and isinstance(outcome[0], EmailTaken)


def test_odd_logins_and_ids_are_answers_not_500s(store):
    """Found in review, on PostgreSQL: a NUL in a login or an email reached the database
    (text cannot hold it), a lowercased login could outgrow the limit key's column, and form
    routes passed comment ids past INTEGER to the driver."""
    load_demo(store)
    app = make_app(store)
    client = TestClient(app, raise_server_exceptions=False)
    form = csrf_of(client.get("/login"))
    for login in ("a\x00b", "İ" * 254):
        answer = client.post("/login", data={"csrf_token": form, "login": login, "password": "x"})
        assert answer.status_code == 400 and "Wrong username or password" in answer.text
    signup = client.post(
        "/signup",
        data={
            "csrf_token": form,
            "username": "nul",
            "email": "a\x00b@example.org",
            "password": "a long enough password",
        },
    )
    assert signup.status_code == 400 and "email address" in signup.text
    member = session(app, "ada")
    token = csrf_of(member.get("/submit"))
    for path in ("/comments/2147483648/edit", "/comments/2147483648/delete"):
        assert member.post(path, data={"csrf_token": token, "body": "x"}).status_code == 404
    reply = member.post(
        "/papers/1302.2146/comments",
        data={"csrf_token": token, "body": "Top level", "parent_id": "2147483648"},
        follow_redirects=False,
    )
    assert reply.status_code == 303


def test_a_crash_page_carries_the_security_headers(catalog, tmp_path):
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)})
    app = create_app(config, catalog)

    @app.get("/crash-test")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/crash-test")
    assert response.status_code == 500
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
