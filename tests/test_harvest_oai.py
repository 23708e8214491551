"""The OAI-PMH harvester end to end against a local server serving arXiv's own pages."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import pytest

from dailypapers.ingest.harvest import harvest_oai
from dailypapers.ingest.http import PoliteClient
from dailypapers.storage.harvest import load_checkpoint

from .conftest import DATA, DEMO, dump_catalog
from .httpfixture import PayloadServer, Reply

PAGES = [
    (DEMO / "oai" / f"oaipmh-2025--listrecords_arxivraw_{name}.xml").read_bytes()
    for name in ("page1_resumptiontoken", "page2_resumptiontoken", "page3_last_empty-token")
]
TOKENS = [p.split(b"'>")[-1].split(b"</resumptionToken>")[0].decode() for p in PAGES[:2]]
NO_MATCH = (DATA / "oai" / "oaipmh-2025--error_noRecordsMatch.xml").read_bytes()
BAD_TOKEN = (DATA / "oai" / "oaipmh-2025--error_badResumptionToken.xml").read_bytes()
BAD_ARGUMENT = (DATA / "oai" / "oaipmh-2025--error_badArgument_bad-date.xml").read_bytes()


def arxiv_pages(params):
    """What arXiv answers: page 1 for a fresh query, then the page each token points to."""
    token = params.get("resumptionToken")
    if token is None:
        return Reply(PAGES[0])
    return Reply(PAGES[TOKENS.index(token) + 1]) if token in TOKENS else Reply(BAD_TOKEN)


def scripted(*special):
    """Answer the first requests with `special` replies (None = the normal page), then normally."""
    queue = list(special)

    def handler(_path, params):
        if queue:
            reply = queue.pop(0)
            if reply is not None:
                return reply
        return arxiv_pages(params)

    return handler


def client(**overrides):
    settings = dict(
        delay=0,
        timeout=5,
        retries=3,
        backoff_base=0.05,
        backoff_max=2,
        user_agent="dailypapers-tests",
    )
    settings.update(overrides)
    return PoliteClient(**settings)


def harvest(store, server, **kwargs):
    with client(**kwargs.pop("client", {})) as http:
        return harvest_oai(
            store, http, server.url + "/oai", date(2015, 5, 18), date(2015, 5, 20), **kwargs
        )


def test_harvest_follows_tokens_and_repeats_idempotently(store):
    with PayloadServer(lambda _p, params: arxiv_pages(params)) as server:
        report = harvest(store, server)
        assert report.clean and report.counts.new == 22 and report.seen == 22
        assert [r.params.get("resumptionToken") for r in server.requests] == [None, *TOKENS]
        first = server.requests[0].params
        assert first == {
            "verb": "ListRecords",
            "metadataPrefix": "arXivRaw",
            "from": "2015-05-18",
            "until": "2015-05-20",
        }
        again = harvest(store, server)
    assert again.clean and again.counts.new == 0 and again.counts.unchanged == 22


def test_503_retry_after_is_honoured(store):
    busy = Reply(b"busy", status=503, headers={"Retry-After": "1"})
    with PayloadServer(scripted(None, busy)) as server:
        report = harvest(store, server)
    assert report.clean and report.counts.new == 22
    gap = server.requests[2].at - server.requests[1].at
    assert gap >= 0.95


def test_429_and_500_are_retried_with_backoff(store):
    with PayloadServer(scripted(Reply(b"", status=429), Reply(b"oops", status=500))) as server:
        report = harvest(store, server)
    assert report.clean and report.counts.new == 22 and len(server.requests) == 5


def test_dropped_connection_is_retried(store):
    with PayloadServer(scripted(None, Reply(drop=True))) as server:
        report = harvest(store, server)
    assert report.clean and report.counts.new == 22


def test_truncated_page_is_fetched_again(store):
    truncated = Reply(PAGES[1][: len(PAGES[1]) // 3])
    with PayloadServer(scripted(None, truncated)) as server:
        report = harvest(store, server)
    assert report.clean and report.counts.new == 22
    assert [r.params.get("resumptionToken") for r in server.requests] == [
        None,
        *TOKENS[:1],
        *TOKENS,
    ]


def test_html_error_page_fails_the_run_and_keeps_what_was_stored(store):
    html = Reply(
        b"<html><body><h1>Service Unavailable</h1></body></html>",
        headers={"Content-Type": "text/html"},
    )
    with PayloadServer(scripted(None, html, html, html, html)) as server:
        report = harvest(store, server)
        assert report.error and "not an OAI-PMH response" in report.error
        assert "Service Unavailable" in report.error
        assert report.counts.new == 10
        server.requests.clear()
        resumed = harvest(store, server)
        assert server.requests[0].params == {"verb": "ListRecords", "resumptionToken": TOKENS[0]}
    assert resumed.clean and resumed.counts.new == 12


def test_rejected_token_restarts_from_the_last_datestamp(store, make_store):
    with PayloadServer(scripted(None, Reply(BAD_TOKEN))) as server:
        report = harvest(store, server)
        assert server.requests[2].params["from"] == "2015-05-19"
        assert "resumptionToken" not in server.requests[2].params
    assert report.clean and report.counts.new == 22
    _, reference = make_store()
    with PayloadServer(lambda _p, params: arxiv_pages(params)) as server:
        harvest(reference, server)
    assert dump_catalog(store) == dump_catalog(reference)


def test_no_records_match_is_an_empty_success(store):
    with PayloadServer(lambda _p, _params: Reply(NO_MATCH)) as server:
        report = harvest(store, server)
    assert report.clean and report.seen == 0 and report.error is None
    with store.connect() as conn:
        from dailypapers.ingest.harvest import harvest_key

        key = harvest_key(server.url + "/oai", None, date(2015, 5, 18), date(2015, 5, 20))
        assert load_checkpoint(conn, key).completed_at is not None


def test_oai_error_fails_with_code_and_message(store):
    with PayloadServer(lambda _p, _params: Reply(BAD_ARGUMENT)) as server:
        report = harvest(store, server)
    assert report.error.startswith("OAI-PMH error badArgument:")


def test_retries_are_bounded(store):
    with PayloadServer(lambda _p, _params: Reply(b"", status=502)) as server:
        report = harvest(store, server, client={"retries": 2})
    assert len(server.requests) == 3
    assert "gave up after 3 attempts; last: HTTP 502" in report.error


def _cli(database_url, endpoint, **env):
    command = [
        sys.executable,
        "-m",
        "dailypapers",
        "ingest",
        "oai",
        "--from",
        "2015-05-18",
        "--until",
        "2015-05-20",
        "--endpoint",
        endpoint,
    ]
    environment = {
        **os.environ,
        "DAILYPAPERS_DATABASE_URL": database_url,
        "DAILYPAPERS_REQUEST_DELAY": "0",
        "DAILYPAPERS_BACKOFF_BASE": "0.05",
        **env,
    }
    return command, environment


@pytest.mark.slow
def test_harvest_killed_with_sigkill_resumes_to_the_same_catalog(store, database_url, make_store):
    release = threading.Event()
    with PayloadServer(scripted(None, Reply(hang=release, drop=True))) as server:
        command, environment = _cli(database_url, server.url + "/oai")
        process = subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while len(server.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.requests) == 2, process.poll()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        release.set()
        assert process.returncode == -signal.SIGKILL
        assert len(dump_catalog(store)) == 10

        server.requests.clear()
        finished = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=120
        )
        assert finished.returncode == 0, finished.stderr
        assert server.requests[0].params == {"verb": "ListRecords", "resumptionToken": TOKENS[0]}
        assert "12 new" in finished.stdout

    _, reference = make_store()
    with PayloadServer(lambda _p, params: arxiv_pages(params)) as server:
        harvest(reference, server)
    assert dump_catalog(store) == dump_catalog(reference)


def test_next_harvest_without_from_continues_from_the_last_datestamp(database_url):
    from click.testing import CliRunner

    from dailypapers.cli import cli

    env = {"DAILYPAPERS_DATABASE_URL": database_url, "DAILYPAPERS_REQUEST_DELAY": "0"}
    with PayloadServer(lambda _p, params: arxiv_pages(params)) as server:
        endpoint = server.url + "/oai"
        first = CliRunner().invoke(
            cli, ["ingest", "oai", "--from", "2015-05-18", "--endpoint", endpoint], env=env
        )
        assert first.exit_code == 0, first.output
        server.requests.clear()
        second = CliRunner().invoke(cli, ["ingest", "oai", "--endpoint", endpoint], env=env)
        assert second.exit_code == 0, second.output
        assert server.requests[0].params["from"] == "2015-05-20"
        assert "0 new" in second.output and "22 unchanged" in second.output
