"""Rate limits counted in the database: windows per key, shared by every worker process, on
SQLite and PostgreSQL."""

import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.config import load_config
from dailypapers.ingest.demo import load_demo
from dailypapers.ratelimit import Rate
from dailypapers.services.limits import StoreLimiter
from dailypapers.storage.limits import count_hit, count_hits, delete_windows_before
from dailypapers.storage.schema import rate_windows
from dailypapers.web.app import create_app


def windows(store):
    with store.connect() as conn:
        rows = conn.execute(sa.select(rate_windows).order_by(rate_windows.c.window_start))
        return [(r.key, r.window_start, r.hits) for r in rows]


def csrf_of(response) -> str:
    return html.fromstring(response.text).xpath("//input[@name='csrf_token']/@value")[0]


def test_two_workers_share_one_count(store):
    # Two create_app on one database stand for two worker processes: one count for both.
    config = load_config(environ={"DAILYPAPERS_RATE_LOGIN": "3/minute"})
    apps = [create_app(config, store) for _ in range(2)]
    for app in apps:  # one fixed minute, whenever the test runs
        app.state.site.clock = lambda: datetime(2024, 7, 25, 12, tzinfo=UTC)
    workers = [TestClient(app) for app in apps]
    forms = [csrf_of(worker.get("/login")) for worker in workers]
    statuses = [
        workers[n % 2]
        .post("/login", data={"csrf_token": forms[n % 2], "login": f"x{n}", "password": "y"})
        .status_code
        for n in range(4)
    ]
    assert statuses == [400, 400, 400, 429]


def test_hits_are_counted_atomically_by_concurrent_threads(store):
    seen: list[int] = []
    lock = threading.Lock()

    def hammer():
        for _ in range(25):
            count = count_hit(store, "vote:ip:10.0.0.1", 1_000_020)
            with lock:
                seen.append(count)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 101))  # no lost update, no count given twice
    assert windows(store) == [("vote:ip:10.0.0.1", 1_000_020, 100)]


def test_a_new_window_deletes_the_keys_older_ones(store):
    count_hit(store, "a", 60)
    count_hit(store, "a", 60)
    count_hit(store, "b", 60)
    assert count_hit(store, "a", 120) == 1
    assert windows(store) == [("b", 60, 1), ("a", 120, 1)]


def test_cleanup_deletes_windows_older_than_its_cutoff(store):
    for key, start in [("a", 0), ("b", 86_400), ("c", 90_000)]:
        count_hit(store, key, start)
    assert delete_windows_before(store, 86_400) == 1
    assert [key for key, _, _ in windows(store)] == ["b", "c"]


def test_limiter_refuses_over_the_rate_until_the_window_ends(store):
    now = [1_000_000.0]  # 1,000,000 s: 40 s into a minute window starting at 999,960
    limiter = StoreLimiter(store, clock=lambda: now[0])
    rate = Rate(2, 60)
    assert limiter.hit("k", rate) is None
    assert limiter.hit("k", rate) is None
    assert limiter.hit("k", rate) == 20.0
    now[0] = 1_000_020.0  # the next window
    assert limiter.hit("k", rate) is None
    assert windows(store) == [("k", 1_000_020, 1)]


def test_the_windows_table_skips_the_write_ahead_log_on_postgresql(store):
    if store.dialect != "postgresql":
        return
    with store.connect() as conn:
        persistence = conn.exec_driver_sql(
            "SELECT relpersistence FROM pg_class WHERE relname = 'rate_windows'"
        ).scalar_one()
    assert persistence == "u"  # UNLOGGED: a crash may lose counts, no WAL for every hit


def test_counting_a_hit_leaves_the_page_cache_alone(store):
    generation = store.generation
    count_hit(store, "search:ip:10.0.0.1", 60)
    assert store.generation == generation


def test_every_search_route_counts_against_one_budget_per_address(store):
    # The page, its JSON and its feed are one budget: a search is as dear on any of them.
    load_demo(store)
    environ = {"DAILYPAPERS_RATE_SEARCH": "3/minute", "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    app = create_app(load_config(environ=environ), store)
    app.state.site.clock = lambda: datetime(2024, 7, 25, 12, tzinfo=UTC)
    client = TestClient(app)
    paths = ["/search", "/api/papers/search", "/feeds/search.atom", "/api/papers/search"]
    statuses = [client.get(path, params={"q": "dilepton"}).status_code for path in paths]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/search", params={"q": "dilepton"})
    assert limited.status_code == 429 and "Too many attempts (3/minute)" in limited.text
    other = TestClient(app, client=("192.0.2.9", 50000))
    assert other.get("/search", params={"q": "dilepton"}).status_code == 200
    # similar papers are a vector search each: the same budget
    assert other.get("/api/papers/1302.2146/similar").status_code == 200
    assert other.get("/api/papers/1302.2146/similar").status_code == 200
    assert other.get("/api/papers/1302.2146/similar").status_code == 429


def test_an_address_and_an_account_are_counted_in_one_transaction(store):
    now = [1_000_000.0]
    limiter = StoreLimiter(store, clock=lambda: now[0])
    rate = Rate(2, 60)
    keys = ["vote:ip:10.0.0.1", "vote:user:7"]
    assert limiter.hit_all(keys, rate) is None
    assert limiter.hit("vote:user:7", rate) is None  # the account's second, elsewhere
    # The address is within its budget, the account over it: refused, and both counted.
    assert limiter.hit_all(keys, rate) == 20.0
    assert windows(store) == [("vote:ip:10.0.0.1", 999_960, 2), ("vote:user:7", 999_960, 3)]


def test_counts_come_back_in_the_order_asked_whatever_order_rows_are_locked_in(store):
    count_hit(store, "a", 60)
    assert count_hits(store, ["z", "a"], 60) == [1, 2]
    assert count_hits(store, ["a", "z", "a"], 60) == [3, 2, 3]  # a key named twice counts once


def test_a_rate_set_to_off_counts_nothing_and_refuses_nothing(store):
    from dailypapers.ratelimit import parse_rate

    assert parse_rate(" Off ") is None and parse_rate("5/hour") == Rate(5, 3600)
    limiter = StoreLimiter(store)
    assert all(limiter.hit_all(["k", "j"], None) is None for _ in range(5))
    assert limiter.hit("k", None) is None
    assert windows(store) == []
    load_demo(store)
    environ = {"DAILYPAPERS_RATE_SEARCH": "off", "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    client = TestClient(create_app(load_config(environ=environ), store))
    statuses = {client.get("/api/papers/search", params={"q": "dilepton"}).status_code}
    statuses |= {client.get("/api/papers/search", params={"q": "x"}).status_code for _ in range(70)}
    assert statuses == {200} and windows(store) == []


def test_a_limited_write_and_its_count_are_one_transaction(store):
    # The vote limit is counted inside the vote's own write: over it, the vote is not made
    # (and the count that refused it is rolled back with it, so the key stays at its limit).
    load_demo(store)
    environ = {"DAILYPAPERS_RATE_VOTE": "2/minute", "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    app = create_app(load_config(environ=environ), store)
    app.state.site.clock = lambda: datetime(2024, 7, 25, 12, 0, 30, tzinfo=UTC)
    client = TestClient(app)
    form = {
        "csrf_token": csrf_of(client.get("/signup")),
        "username": "ada",
        "email": "ada@example.org",
        "password": "a long enough password",
    }
    assert client.post("/signup", data=form, follow_redirects=False).status_code == 303
    login = {
        "csrf_token": csrf_of(client.get("/login")),
        "login": "ada",
        "password": form["password"],
    }
    assert client.post("/login", data=login, follow_redirects=False).status_code == 303
    headers = {"X-CSRF-Token": csrf_of(client.get("/submit"))}
    paper = client.get("/api/daily_papers").json()[0]["paper"]["id"]
    up = client.post(f"/api/papers/{paper}/upvote", headers=headers)
    assert up.status_code == 200 and up.json()["voted"] is True
    count = up.json()["upvotes"]
    # An unknown paper fails, and its count goes with the failed write.
    assert client.post("/api/papers/2501.99999/upvote", headers=headers).status_code == 404
    assert client.delete(f"/api/papers/{paper}/upvote", headers=headers).status_code == 200
    refused = client.post(f"/api/papers/{paper}/upvote", headers=headers)
    assert refused.status_code == 429 and "2/minute" in refused.text
    again = client.get(f"/api/papers/{paper}").json()
    assert again["upvotes"] == count - 1  # the refused vote was not made
    hits = {key.split(":")[1]: n for key, _, n in windows(store) if key.startswith("vote:")}
    assert hits == {"ip": 2, "user": 2}
