"""The site and the JSON API in-process (httpx against the ASGI app) on SQLite and PostgreSQL."""

import json
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from lxml import etree, html

from dailypapers.config import load_config
from dailypapers.domain.ids import local_paper_id
from dailypapers.domain.papers import ListFilter
from dailypapers.ingest.demo import DEMO_DIR, load_demo
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.services.daily import TrendingWindow, trending, trending_window
from dailypapers.storage import open_store
from dailypapers.storage.daily import latest_day
from dailypapers.web.app import create_app

from .conftest import DATA, fresh_pg_database

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def hostile_day() -> bytes:
    item = {
        "paper": {
            "id": "2401.00077",
            "title": f"Evil {HOSTILE} title",
            "summary": f"An abstract with {HOSTILE} inside.",
            "authors": [{"name": f"Mallory {HOSTILE}"}],
            "upvotes": 5,
            "publishedAt": "2024-01-05T10:00:00.000Z",
        },
        "publishedAt": "2024-07-23T00:00:00.000Z",
        "title": f"Evil {HOSTILE} title",
        "submittedBy": {"fullname": f"Eve {HOSTILE}", "user": "eve"},
    }
    return json.dumps([item]).encode()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def catalog(request, tmp_path_factory):
    """The demo catalog plus two daily lists, built once per database for this module's
    read-only tests. A test that writes (votes, comments, submissions, admin actions, ingests)
    must take `store` instead and build its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web-catalog') / 'catalog.db'}"
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_server"))
    shared = open_store(url)
    load_demo(shared)
    ingest_daily_json(shared, (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes(), "hf")
    ingest_daily_json(shared, hostile_day(), "hostile")
    yield shared
    shared.close()


@pytest.fixture
def client(catalog):
    """A new app per test on the shared catalog: its page cache, session key and search
    indexes (under the test's own working directory) start empty. Rate-limit counts live in
    the catalog, so this module's tests share them (a few searches, far below the limits)."""
    app = create_app(load_config(environ={}), catalog)
    writes = catalog.generation
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    assert catalog.generation == writes, "a test wrote to the shared catalog: give it `store`"


def page(response):
    assert response.headers["content-type"].startswith("text/html")
    return html.fromstring(response.text)


def test_home_shows_the_newest_day_ranked_by_upvotes(client):
    tree = page(client.get("/"))
    assert tree.xpath("//h1")[0].text_content() == "Wednesday, 29 October 2025"
    cards = tree.xpath("//article[@class='card']")
    counts = [int(c.xpath(".//span[@class='count']")[0].text) for c in cards]
    # The seed page's two papers of that day, then the 18 real papers arXiv listed that day
    # that fill it (dailypapers/demo/daily), with no votes.
    assert counts == sorted(counts, reverse=True) and len(cards) == 20
    assert counts[2:] == [0] * 18
    previous = tree.xpath("//a[@rel='prev']/@href")
    assert previous == ["/papers/date/2025-10-17"]  # empty days skipped
    assert tree.xpath("//a[@rel='next']") == []
    assert tree.xpath("//link[@type='application/json']/@href") == [
        "/api/daily_papers?date=2025-10-29"
    ]
    assert tree.xpath("//link[@type='application/atom+xml']/@href") == [
        "/feeds/daily.atom?date=2025-10-29"
    ]


def test_day_navigation_both_ways(client):
    tree = page(client.get("/papers/date/2024-07-22"))
    assert "SciCode: A Research Coding Benchmark Curated by Scientists" in [
        a.text_content() for a in tree.xpath("//article//h2/a")
    ]
    assert tree.xpath("//a[@rel='next']/@href") == ["/papers/date/2024-07-23"]
    assert tree.xpath("//a[@rel='prev']/@href") == ["/papers/date/2024-06-16"]


def test_date_picker_redirects_and_keeps_filters(client):
    response = client.get("/papers?date=2024-07-22&has_code=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/papers/date/2024-07-22?has_code=1"


def test_filters_live_in_the_url(client):
    everything = page(client.get("/papers/month/2024-07"))
    assert len(everything.xpath("//article[@class='card']")) == 3
    with_code = page(client.get("/papers/month/2024-07?has_code=1"))
    names = [a.text_content() for a in with_code.xpath("//article//h2/a")]
    assert names == ["SciCode: A Research Coding Benchmark Curated by Scientists"]
    crypto = page(client.get("/papers/month/2024-07?category=cs.CR"))
    assert [a.text_content() for a in crypto.xpath("//article//h2/a")] == ["0"]
    assert crypto.xpath("//input[@name='category'][@checked]/@value") == ["cs.CR"]


def test_week_and_month_views(client):
    week = page(client.get("/papers/week/2024-W30"))
    assert week.xpath("//h1")[0].text_content() == "Week 2024-W30: 22 Jul to 28 Jul 2024"
    assert len(week.xpath("//article[@class='card']")) == 3
    assert week.xpath("//a[@rel='next']/@href") == ["/papers/week/2024-W31"]
    month = page(client.get("/papers/month/2025-10"))
    assert len(month.xpath("//article[@class='card']")) == 22


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/papers/date/2025-13-40", 400, "is not a real day"),
        ("/papers/week/2025-W60", 400, "does not exist"),
        ("/papers/month/2025-1", 400, "month must be YYYY-MM"),
        ("/papers/date/2024-07-22?page=0", 400, "page must be a positive integer"),
        ("/papers/date/2024-07-22?category=%3Cscript%3E", 400, "is not an arXiv category"),
        ("/papers/9912.99999", 404, "No paper 9912.99999"),
        ("/papers/not-an-id", 404, "not found"),
        ("/nowhere", 404, "There is no page at this address."),
    ],
)
def test_bad_pages_say_what_is_wrong(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert message in page(response).xpath("//main")[0].text_content()
    assert "Traceback" not in response.text


def test_paper_page_has_everything(client):
    tree = page(client.get("/papers/1302.2146"))
    assert tree.xpath("//h1")[0].text_content() == (
        "The Same-Sign Dilepton Signature of RPV/MFV SUSY"
    )
    # Each name links to the author's papers (and has a follow control beside it)
    names = tree.xpath("//*[contains(@class,'authors')]//a[@class='author']/text()")
    assert names[:2] == ["Joshua Berger", "Maxim Perelstein"]
    hrefs = tree.xpath("//a/@href")
    assert "https://arxiv.org/abs/1302.2146" in hrefs and "https://arxiv.org/pdf/1302.2146" in hrefs
    assert [r.text_content() for r in tree.xpath("//table[@class='versions']//td[1]")] == [
        "v1",
        "v2",
    ]
    assert tree.xpath("//link[@type='application/json']/@href") == ["/api/papers/1302.2146"]


def test_old_style_ids_and_markdown(client):
    assert client.get("/papers/cond-mat/0703772").status_code == 200
    redirect = client.get("/papers/arXiv:cond-mat/0703772v1", follow_redirects=False)
    assert (
        redirect.status_code == 301 and redirect.headers["location"] == "/papers/cond-mat/0703772"
    )
    markdown = client.get("/papers/1302.2146.md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# The Same-Sign Dilepton Signature of RPV/MFV SUSY\n")
    negotiated = client.get("/papers/1302.2146", headers={"Accept": "text/markdown"})
    assert negotiated.text == markdown.text


def test_trending_explains_each_paper(client):
    # The demo's newest listings are long past: the page says which days it ranks instead,
    # and counts ages back from the end of the last of them, not from now.
    tree = page(client.get("/papers/trending"))
    note = " ".join(tree.xpath("//p[@class='notice']")[0].text_content().split())
    found = re.fullmatch(
        r"Nothing was listed in the last 7 days: these are the newest 7 days with submissions "
        r"\((\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)\), scored as of the end of \2\.",
        note,
    )
    assert found, note
    whys = [p.text_content() for p in tree.xpath("//p[@class='why']")]
    assert whys and all(
        re.match(
            rf"Why it is here: \d+ upvotes?, listed \d+ h before the end of {found[2]}, score ", w
        )
        for w in whys
    )


def test_a_quiet_site_ranks_its_newest_days_as_of_their_end(catalog):
    config = load_config(environ={})
    with catalog.connect() as conn:
        newest = latest_day(conn)
    end = datetime.combine(newest + timedelta(days=1), time(0), tzinfo=UTC)
    lively = end + timedelta(days=3)  # the newest day is inside the last 7 days
    window = trending_window(catalog, config, lively)
    assert window == TrendingWindow(newest - timedelta(days=6), newest, lively, False)
    quiet = trending_window(catalog, config, end + timedelta(days=400))
    assert quiet == TrendingWindow(newest - timedelta(days=6), newest, end, True)
    ranked = trending(catalog, config, ListFilter(), end + timedelta(days=400))
    assert ranked == trending(catalog, config, ListFilter(), end)  # the same list and scores
    assert all(t.why.age_hours <= 7 * 24 for t in ranked)


def test_hostile_strings_are_shown_as_text(client):
    for url in ("/papers/date/2024-07-23", "/papers/2401.00077", "/papers/month/2024-07"):
        body = client.get(url).text
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(" in body
    feed = client.get("/feeds/daily.atom?date=2024-07-23").content
    assert b"<script>" not in feed


def test_api_daily_papers_whole_item(client):
    response = client.get("/api/daily_papers", params={"date": "2024-07-22", "limit": 1})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    (item,) = response.json()
    paper = item["paper"]
    assert item == {
        "paper": paper,
        "publishedAt": "2024-07-22T00:00:00.000Z",
        "title": "SciCode: A Research Coding Benchmark Curated by Scientists",
        "summary": paper["summary"],
        "mediaUrls": [],
        "thumbnail": None,
        "numComments": 0,
        "submittedBy": {
            "_id": paper["submittedOnDailyBy"]["_id"],
            "avatarUrl": "/avatars/amber1120.svg",
            "fullname": "Yanxin Lu",
            "name": "amber1120",
            "user": "amber1120",
            "type": "user",
            "isPro": False,
        },
        "isAuthorParticipating": False,
        "githubRepo": "https://github.com/scicode-bench/SciCode",
        "projectPage": "https://scicode-bench.github.io",
        "organization": paper["organization"],
    }
    assert paper["id"] == "2407.13168" and paper["upvotes"] == 17
    assert paper["publishedAt"] == "2024-07-18T05:15:24.000Z"
    assert paper["submittedOnDailyAt"] == "2024-07-22T00:00:00.000Z"
    assert [a["name"] for a in paper["authors"]] == ["Minyang Tian", "Xinan Chen"]
    assert all(re.fullmatch(r"[0-9a-f]{24}", a["_id"]) for a in paper["authors"])
    assert paper["organization"]["fullname"] == "SciCode Team"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date": "2025-13-40"}, "date '2025-13-40' is not a real day"),
        ({"week": "2025-9"}, "week must be YYYY-Www"),
        ({"month": "2025-13"}, "month must be YYYY-MM"),
        ({"p": "-1"}, "p must be at least 0"),
        ({"limit": "101"}, "limit must be between 1 and 100"),
        ({"limit": "ten"}, "limit must be an integer"),
        ({"sort": "votes"}, "sort must be publishedAt or trending"),
        ({"date": "2025-10-29", "month": "2025-10"}, "give only one of date, week and month"),
    ],
)
def test_api_bad_parameters_are_400_with_an_error(client, params, message):
    response = client.get("/api/daily_papers", params=params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["error"] and body["error"].startswith(message)
    assert response.headers["x-error-message"] == body["error"]


def test_api_paging_and_filters(client):
    first = client.get("/api/daily_papers", params={"limit": 3}).json()
    second = client.get("/api/daily_papers", params={"limit": 3, "p": 1}).json()
    assert len(first) == len(second) == 3
    days = [i["publishedAt"] for i in first + second]
    assert days == sorted(days, reverse=True)
    assert client.get("/api/daily_papers", params={"p": 1000}).json() == []
    by = client.get("/api/daily_papers", params={"submitter": "akhaliq"}).json()
    assert [i["paper"]["id"] for i in by] == ["2104.12255"]
    month = client.get("/api/daily_papers", params={"month": "2024-07"}).json()
    assert {i["publishedAt"][:7] for i in month} == {"2024-07"} and len(month) == 3
    week = client.get("/api/daily_papers", params={"week": "2024-W30"}).json()
    assert len(week) == 3


def test_api_paper_search_and_repos(client):
    paper = client.get("/api/papers/2407.13168").json()
    assert paper["id"] == "2407.13168" and paper["linkedModels"] == []
    assert paper["numTotalModels"] == 0 and paper["upvotes"] == 17
    missing = client.get("/api/papers/1234.56789")
    assert missing.status_code == 404 and "error" in missing.json()
    hits = client.get("/api/papers/search", params={"q": "coding benchmark", "limit": 5}).json()
    assert hits[0]["title"] == "SciCode: A Research Coding Benchmark Curated by Scientists"
    assert hits[0]["paper"]["id"] == "2407.13168"
    assert client.get("/api/papers/search", params={"q": " "}).status_code == 400
    assert client.get("/api/arxiv/2407.13168/repos").json() == {
        "models": [],
        "datasets": [],
        "spaces": [],
    }
    assert client.get("/api/arxiv/1234.56789/repos").status_code == 404


def test_feeds_atom_and_rss_follow_filters(client):
    atom = client.get("/feeds/daily.atom", params={"month": "2024-07", "has_code": "1"})
    assert atom.headers["content-type"] == "application/atom+xml"
    tree = etree.fromstring(atom.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [t.text for t in tree.xpath("//a:entry/a:title", namespaces=ns)] == [
        "SciCode: A Research Coding Benchmark Curated by Scientists"
    ]
    assert "with code" in tree.xpath("/a:feed/a:title", namespaces=ns)[0].text
    rss = client.get("/feeds/trending.rss")
    assert rss.headers["content-type"] == "application/rss+xml"
    items = etree.fromstring(rss.content).xpath("//item/link/text()")
    assert items and all(re.match(r"http://testserver/papers/", link) for link in items)
    assert client.get("/feeds/daily.json").status_code == 404
    assert client.get("/feeds/daily.atom", params={"date": "x"}).status_code == 400


def test_openapi_lists_the_api(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/daily_papers", "/api/papers/search"} <= set(schema["paths"])


def test_today_default_when_catalog_is_empty(database_url):
    empty = open_store(database_url)
    with TestClient(create_app(load_config(environ={}), empty)) as test_client:
        response = test_client.get("/")
        assert response.status_code == 200
        assert "No papers here" in response.text
        assert date.today().strftime("%d %B %Y") in response.text
    empty.close()


def test_anonymous_pages_are_cached_until_a_write(store):
    from dailypapers.web.cache import PageCache

    load_demo(store)
    ingest_daily_json(store, (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes(), "hf")
    app = create_app(load_config(environ={}), store)
    with TestClient(app) as test_client:
        first = test_client.get("/api/daily_papers", params={"date": "2024-07-22"}).json()
        cache = app.state.page_cache
        assert isinstance(cache, PageCache)
        second = test_client.get("/api/daily_papers", params={"date": "2024-07-22"}).json()
        assert first == second and cache.hits == 1
        data = (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes()
        ingest_daily_json(store, data.replace(b'"upvotes": 17', b'"upvotes": 30'), "hf")
        fresh = test_client.get("/api/daily_papers", params={"date": "2024-07-22"}).json()
        assert fresh[0]["paper"]["upvotes"] == 30 and cache.hits == 1
        login_page = test_client.get("/login")  # sets a session cookie: never cached
        assert "set-cookie" in login_page.headers
        test_client.get("/papers/date/2024-07-22")
        test_client.get("/papers/date/2024-07-22")
        assert cache.hits == 1  # the client now sends a session cookie


def test_a_crash_shows_an_error_page_without_a_traceback(catalog):
    app = create_app(load_config(environ={}), catalog)  # routes added to this app only

    @app.get("/papers-crash-check")
    def crash() -> None:
        raise RuntimeError("secret internals")

    @app.get("/api/crash-check")
    def api_crash() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        page = test_client.get("/papers-crash-check")
        assert page.status_code == 500 and "Something went wrong on our side." in page.text
        api = test_client.get("/api/crash-check")
        assert api.status_code == 500 and api.json() == {
            "error": "Something went wrong on our side."
        }
        for response in (page, api):
            assert "secret internals" not in response.text and "Traceback" not in response.text


def test_json_twins_of_filtered_pages_apply_the_same_filters(client):
    tree = page(client.get("/papers/month/2024-07?category=cs.CR"))
    twin = tree.xpath("//link[@type='application/json']/@href")[0]
    assert twin == "/api/daily_papers?category=cs.CR&month=2024-07"
    assert [i["paper"]["id"] for i in client.get(twin).json()] == ["2104.12255"]
    coded = client.get("/api/daily_papers", params={"month": "2024-07", "has_code": "1"}).json()
    assert [i["paper"]["id"] for i in coded] == ["2407.13168"]
    bad = client.get("/api/daily_papers", params={"category": "<b>"})
    assert bad.status_code == 400 and "is not an arXiv category" in bad.json()["error"]


def test_a_seed_paper_without_names_shows_its_author_count(client):
    """The seed page gives only a count of authors; a paper known only from it says "N
    authors" on its card and page, one without a count says nothing, and one whose arXiv
    record arrived (merged into it) shows the names."""
    seed = json.loads((DEMO_DIR / "seed-papers.json").read_bytes())
    checked = {"count": 0, "none": 0}
    for item in seed["papers"]:
        arxiv_id = local_paper_id(item["title"])
        day = page(client.get(f"/papers/date/{item['published'] or seed['page_date']}"))
        cards = day.xpath(f"//article[@id='paper-{arxiv_id}']")
        if not cards:  # merged into its arXiv twin
            continue
        shown = cards[0].xpath(".//p[@class='authors']/span[@class='author-count']/text()")
        count = item["num_authors"]
        if count is None:
            assert shown == [] and not cards[0].xpath(".//p[@class='authors']")
            checked["none"] += 1
            continue
        assert shown == [f"{count} author{'s' if count != 1 else ''}"]
        checked["count"] += 1
        if checked["count"] == 1:
            paper = page(client.get(f"/papers/{arxiv_id}"))
            counted = paper.xpath("//div[@class='authors full']/span[@class='author-count']")
            assert [span.text for span in counted] == shown
    assert checked["count"] >= 10 and checked["none"] >= 1, checked
    newest = page(client.get(f"/papers/date/{seed['page_date']}"))
    arxiv_cards = newest.xpath("//article[not(starts-with(@id, 'paper-local-'))]")
    assert len(arxiv_cards) >= 18 and all(a.xpath(".//a[@class='author']") for a in arxiv_cards)
