"""The arXiv query API client end to end against a local server serving real API responses."""

from dailypapers.ingest.harvest import ingest_arxiv_api
from dailypapers.ingest.http import PoliteClient

from .conftest import DATA, DEMO, dump_catalog
from .httpfixture import PayloadServer, Reply

API = DEMO / "api"
SEARCH = {
    "0": (API / "2026_search_all-testing_start0_max10.xml").read_bytes(),
    "10": (API / "2026_search_all-testing_start10_max10.xml").read_bytes(),
}
EMPTY = (API / "2026_id_list_0000.0000_zero-results.xml").read_bytes()
BY_ID = {
    "2104.12255": (API / "2026_id_list_2104.12255v1_versioned.xml").read_bytes(),
    "astro-ph/0601001": (API / "2026_id_list_astro-ph-0601001_affiliations.xml").read_bytes(),
}
ERROR = (DATA / "api" / "2026_error_id_list_abc_http400.xml").read_bytes()


def client(delay=0.0):
    return PoliteClient(
        delay=delay,
        timeout=5,
        retries=2,
        backoff_base=0.05,
        backoff_max=1,
        user_agent="dailypapers-tests",
    )


def search_pages(_path, params):
    return Reply(
        SEARCH.get(params["start"], EMPTY), headers={"Content-Type": "application/atom+xml"}
    )


def test_query_pages_with_start_and_max_results(store):
    with PayloadServer(search_pages) as server, client(delay=0.3) as http:
        report = ingest_arxiv_api(
            store, http, server.url + "/api/query", query="testing", max_results=20
        )
    assert report.clean and report.counts.new == 20
    assert [(r.params["start"], r.params["max_results"]) for r in server.requests] == [
        ("0", "20"),
        ("10", "10"),
    ]
    assert server.requests[0].params["search_query"] == "testing"
    # The politeness delay spaces the client's sends 0.3 s apart; the server sees the first
    # request later than it was sent (it opened the connection), so allow for that under load
    # (0.27 s was seen on a busy machine) while a missing delay would show as ~0.01 s.
    assert server.requests[1].at - server.requests[0].at >= 0.2


def test_empty_page_mid_results_is_asked_again(store):
    served = []

    def flaky(path, params):
        served.append(params["start"])
        if params["start"] == "10" and served.count("10") == 1:
            return Reply(EMPTY)
        return search_pages(path, params)

    with PayloadServer(flaky) as server, client() as http:
        report = ingest_arxiv_api(store, http, server.url, query="testing", max_results=20)
    assert report.counts.new == 20 and served == ["0", "10", "10"]


def test_ids_are_normalised_batched_and_missing_ones_reported(store):
    def by_id(_path, params):
        ids = params["id_list"].split(",")
        assert params["max_results"] == str(len(ids))
        found = [BY_ID[i] for i in ids if i in BY_ID]
        return Reply(found[0] if found else EMPTY)

    with PayloadServer(by_id) as server, client() as http:
        report = ingest_arxiv_api(
            store,
            http,
            server.url,
            ids=["https://arxiv.org/abs/2104.12255v1", "arXiv:2104.12255", "2301.1234"],
        )
    assert report.counts.new == 1
    assert server.requests[0].params["id_list"] == "2104.12255"
    assert dict(report.skipped) == {"ids from 1501 and later have 5-digit sequence numbers": 1}
    assert not report.clean
    assert list(dump_catalog(store)) == ["2104.12255"]


def test_unknown_id_is_skipped_not_fatal(store):
    with PayloadServer(lambda _p, _q: Reply(EMPTY)) as server, client() as http:
        report = ingest_arxiv_api(store, http, server.url, ids=["2401.00001"])
    assert report.error is None and dict(report.skipped) == {"not found on arXiv": 1}


def test_error_feed_with_http_400_fails_with_the_message(store):
    with PayloadServer(lambda _p, _q: Reply(ERROR, status=400)) as server, client() as http:
        report = ingest_arxiv_api(store, http, server.url, query="id:abc")
    assert report.error == "arXiv API error: incorrect id format for abc"


def test_404_is_not_retried(store):
    with PayloadServer(lambda _p, _q: Reply(b"nope", status=404)) as server, client() as http:
        report = ingest_arxiv_api(store, http, server.url, query="x")
    assert "HTTP 404" in report.error and len(server.requests) == 1


def test_hf_daily_from_a_url(database_url):
    from click.testing import CliRunner

    from dailypapers.cli import cli

    body = (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes()
    env = {"DAILYPAPERS_DATABASE_URL": database_url}
    with PayloadServer(
        lambda _p, _q: Reply(body, headers={"Content-Type": "application/json"})
    ) as server:
        result = CliRunner().invoke(
            cli, ["ingest", "hf-daily", server.url + "/api/daily_papers"], env=env
        )
        assert result.exit_code == 3, result.output
        assert "2 new" in result.output and "daily list: 2 new" in result.output
        assert server.requests[0].path == "/api/daily_papers"
    with PayloadServer(lambda _p, _q: Reply(b"gone", status=404)) as server:
        result = CliRunner().invoke(cli, ["ingest", "hf-daily", server.url + "/x"], env=env)
        assert result.exit_code == 1 and "HTTP 404" in result.output
