"""Caching by proxies and browsers (web/httpcache.py, with web/cache.py): Cache-Control, ETag
and 304 Not Modified for anonymous pages, feeds and the JSON API; private answers for signed-in
readers and anything that sets a cookie. In-process on SQLite and PostgreSQL, with the
in-process page cache on and off, and once through a real `serve`."""

import hashlib
import os

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.config import load_config
from dailypapers.ingest.demo import load_demo
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.web.app import create_app
from dailypapers.web.httpcache import etag_matches

from .conftest import DATA, running_serve

PASSWORD = "a long enough password"
PAPER = "2407.13168"  # listed on 2024-07-22 with 17 upvotes (hf_daily_papers_CONSTRUCTED.json)
PUBLIC_URLS = [
    "/",
    "/papers/date/2024-07-22",
    "/papers/week/2024-W30",
    "/papers/month/2024-07",
    "/papers/trending",
    f"/papers/{PAPER}",
    f"/papers/{PAPER}.md",
    "/search?q=diffusion",
    "/feeds/daily.atom?date=2024-07-22",
    "/feeds/daily.rss?date=2024-07-22",
    "/feeds/trending.atom",
    "/feeds/search.atom?q=diffusion",
    "/api/daily_papers?date=2024-07-22",
    f"/api/papers/{PAPER}",
    "/api/papers/search?q=diffusion",
]


def make_app(store, **settings):
    environ = {f"DAILYPAPERS_{k.upper()}": str(v) for k, v in settings.items()}
    return create_app(load_config(environ=environ), store)


@pytest.fixture
def catalog(store):
    load_demo(store)
    ingest_daily_json(store, (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes(), "hf")
    return store


def csrf_of(response) -> str:
    return html.fromstring(response.text).xpath("//input[@name='csrf_token']/@value")[0]


def signed_in(app, username="ada") -> TestClient:
    """A browser that signed up as `username` and logged in."""
    client = TestClient(app, raise_server_exceptions=False)
    form = {
        "csrf_token": csrf_of(client.get("/signup")),
        "username": username,
        "email": f"{username}@example.org",
        "password": PASSWORD,
    }
    assert client.post("/signup", data=form, follow_redirects=False).status_code == 303
    login = {"csrf_token": csrf_of(client.get("/login")), "login": username, "password": PASSWORD}
    assert client.post("/login", data=login, follow_redirects=False).status_code == 303
    return client


def assert_public(response, max_age=30):
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == f"public, max-age={max_age}"
    assert "Cookie" in response.headers["vary"]
    assert "set-cookie" not in response.headers
    # The validator is the body's digest: it changes exactly when the body does.
    expected = hashlib.sha256(response.content).hexdigest()[:32]
    assert response.headers["etag"] == f'"{expected}"'


@pytest.mark.parametrize("page_cache_seconds", [10, 0], ids=["page-cache", "no-page-cache"])
def test_anonymous_answers_carry_an_etag_and_a_match_is_304(catalog, page_cache_seconds):
    app = make_app(catalog, page_cache_seconds=page_cache_seconds)
    with TestClient(app) as client:
        for url in PUBLIC_URLS:
            first = client.get(url)
            assert_public(first)
            etag = first.headers["etag"]
            again = client.get(url)
            assert again.headers["etag"] == etag and again.content == first.content, url
            for asked in (etag, f"W/{etag}", f'"other", {etag}', "*"):
                unchanged = client.get(url, headers={"If-None-Match": asked})
                assert unchanged.status_code == 304, (url, asked)
                assert unchanged.content == b""
                assert unchanged.headers["etag"] == etag
                assert unchanged.headers["cache-control"] == "public, max-age=30"
                assert "Cookie" in unchanged.headers["vary"]
                assert "content-type" not in unchanged.headers
            stale = client.get(url, headers={"If-None-Match": '"not-this-one"'})
            assert stale.status_code == 200 and stale.content == first.content
            assert stale.headers["etag"] == etag
        if page_cache_seconds:
            assert app.state.page_cache.hits > 0  # the 304s above came from kept copies too


def test_paper_pages_vary_by_accept_for_their_markdown_twin(catalog):
    with TestClient(make_app(catalog)) as client:
        page = client.get(f"/papers/{PAPER}")
        markdown = client.get(f"/papers/{PAPER}", headers={"Accept": "text/markdown"})
    assert {v.strip() for v in page.headers["vary"].split(",")} == {"Accept", "Cookie"}
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.headers["etag"] != page.headers["etag"]


def test_a_vote_gives_the_page_feed_and_api_a_new_etag(catalog):
    app = make_app(catalog)
    anonymous = TestClient(app)
    urls = [f"/papers/{PAPER}", "/api/daily_papers?date=2024-07-22", f"/api/papers/{PAPER}"]
    before = {url: anonymous.get(url) for url in urls}
    reader = signed_in(app)
    headers = {"X-CSRF-Token": csrf_of(reader.get(f"/papers/{PAPER}"))}
    voted = reader.post(f"/api/papers/{PAPER}/upvote", headers=headers)
    assert voted.json() == {"id": PAPER, "upvotes": 18, "voted": True}
    for url in urls:
        old = before[url].headers["etag"]
        after = anonymous.get(url, headers={"If-None-Match": old})
        assert_public(after)
        assert after.headers["etag"] != old, url
    assert anonymous.get(f"/api/papers/{PAPER}").json()["upvotes"] == 18
    # Taking the vote back brings back the same body, so the first tag is current again.
    reader.delete(f"/api/papers/{PAPER}/upvote", headers=headers)
    back = anonymous.get(urls[1], headers={"If-None-Match": before[urls[1]].headers["etag"]})
    assert back.status_code == 304


def test_a_new_paper_changes_the_day_s_etag(catalog):
    app = make_app(catalog, page_cache_seconds=0)  # a write by another process, seen at once
    with TestClient(app) as client:
        old = client.get("/api/daily_papers?date=2024-07-22").headers["etag"]
        data = (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes()
        ingest_daily_json(catalog, data.replace(b'"upvotes": 17', b'"upvotes": 30'), "hf")
        fresh = client.get("/api/daily_papers?date=2024-07-22", headers={"If-None-Match": old})
    assert fresh.status_code == 200 and fresh.headers["etag"] != old
    assert fresh.json()[0]["paper"]["upvotes"] == 30


def test_signed_in_readers_get_private_answers_without_a_shared_etag(catalog):
    app = make_app(catalog)
    anonymous = TestClient(app).get(f"/papers/{PAPER}")
    reader = signed_in(app)
    for url in PUBLIC_URLS + ["/library", "/settings/digest"]:
        response = reader.get(url, headers={"If-None-Match": anonymous.headers["etag"]})
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "private, no-store", url
        assert "etag" not in response.headers, url
    page = reader.get(f"/papers/{PAPER}")
    assert 'name="csrf_token"' in page.text  # what a shared cache must never hand out
    assert "Cookie" in page.headers["vary"]


def test_answers_that_set_a_cookie_or_are_not_public_are_private(catalog):
    with TestClient(make_app(catalog)) as client:
        login = client.get("/login")
        assert "set-cookie" in login.headers
        assert login.headers["cache-control"] == "private, no-store"
        assert "etag" not in login.headers
        # The browser now holds a session cookie (with a CSRF token): nothing is public.
        assert client.get("/").headers["cache-control"] == "private, no-store"
    with TestClient(make_app(catalog)) as client:
        for url in ("/api/docs", "/following", "/api/me/follows"):
            response = client.get(url, follow_redirects=False)
            assert "etag" not in response.headers, url
            assert response.headers["cache-control"].startswith(("private", "no-store")), url
        missing = client.get("/papers/2401.99999")
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
        assert "etag" not in missing.headers
        # An Authorization header is someone's: a shared cache must not keep the answer,
        # and the page cache neither hands it the anonymous copy nor keeps its answer.
        assert_public(client.get("/api/daily_papers"))
        for _ in range(2):
            bearer = client.get("/api/daily_papers", headers={"Authorization": "Bearer x"})
            assert bearer.headers["cache-control"] == "private, no-store"
            assert "etag" not in bearer.headers
        assert_public(client.get("/api/daily_papers"))
        # The route's own rule stands: a private feed, the readiness probe.
        assert client.get("/readyz").headers["cache-control"] == "no-store"


def test_max_age_is_a_setting_and_zero_asks_every_time(catalog):
    with TestClient(make_app(catalog, proxy_cache_seconds=300)) as client:
        assert_public(client.get("/api/daily_papers"), max_age=300)
    with TestClient(make_app(catalog, proxy_cache_seconds=0)) as client:
        response = client.get("/api/daily_papers")
        assert response.headers["cache-control"] == "public, no-cache"
        again = client.get("/api/daily_papers", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304


def test_if_none_match_comparison():
    assert etag_matches(b'"a"', b'"a"')
    assert etag_matches(b'W/"a"', b'"a"')
    assert etag_matches(b' "b" , W/"a"', b'"a"')
    assert etag_matches(b"*", b'"a"')
    assert not etag_matches(b'"ab"', b'"a"')
    assert not etag_matches(b"", b'"a"')


def test_a_real_server_answers_304_over_http(tmp_path):
    """uvicorn sends the 304 with no body and the connection stays usable."""
    env = {**os.environ, "DAILYPAPERS_DATA_DIR": str(tmp_path / "data")}
    with running_serve(env) as url, httpx.Client(base_url=url) as client:
        first = client.get("/api/daily_papers")
        assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=30"
        etag = first.headers["etag"]
        for _ in range(3):  # on one kept-alive connection
            unchanged = client.get("/api/daily_papers", headers={"If-None-Match": etag})
            assert unchanged.status_code == 304 and unchanged.content == b""
        assert client.get("/").headers["cache-control"] == "public, max-age=30"
