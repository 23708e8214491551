"""AI summaries end to end on SQLite and PostgreSQL: a fake OpenAI-compatible server on
127.0.0.1 (good answers, fenced ones, chatter, non-JSON, overlong, HTTP 500, no answer in
time, unreachable), the job's records and retries, the paper page (escaped, labelled) and the
API's HF fields; and nothing at all without `summary_llm_url`."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.config import Config, load_config
from dailypapers.domain.records import PaperRecord, VersionRecord
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.jobs.registry import BY_NAME, JobContext, JobFailed
from dailypapers.services.summaries import summarize_listed
from dailypapers.storage import Store
from dailypapers.storage.papers import write_papers
from dailypapers.storage.schema import summaries
from dailypapers.web.app import create_app

from .llmfixture import HOSTILE, MODEL, FakeLLM, summary_for

NOW = datetime(2026, 12, 3, 12, 0, 0)
DAY = "2024-07-02"
MARKERS = {
    "2411.10001": "[ok]",
    "2411.10002": "[fenced]",
    "2411.10003": "[hostile]",
    "2411.10004": "[garbage]",
    "2411.10005": "[notjson]",
    "2411.10006": "[long]",
    "2411.10007": "[500]",
    "2411.10008": "[slow]",
}
WRITTEN = ["2411.10001", "2411.10002", "2411.10003"]


def abstract_of(arxiv_id: str) -> str:
    return f"Paper {arxiv_id[-2:]} measures graph networks on molecules {MARKERS[arxiv_id]}."


def daily_json() -> bytes:
    items = []
    for arxiv_id in MARKERS:
        paper = {
            "id": arxiv_id,
            "title": f"Paper {arxiv_id}",
            "summary": abstract_of(arxiv_id),
            "authors": [{"name": "Ada Lovelace"}],
            "upvotes": 3,
            "publishedAt": f"{DAY}T08:00:00.000Z",
        }
        items.append({"paper": paper, "publishedAt": f"{DAY}T00:00:00.000Z"})
    return json.dumps(items).encode()


@pytest.fixture
def llm():
    with FakeLLM() as fake:
        yield fake


def settings(url: str, **more: object) -> Config:
    return load_config(environ={}).with_overrides(
        summary_llm_url=url, summary_llm_model="fake", summary_timeout=1.0, **more
    )


def rows(store: Store) -> dict[str, dict]:
    with store.connect() as conn:
        return {r["arxiv_id"]: dict(r) for r in conn.execute(sa.select(summaries)).mappings()}


def test_without_an_endpoint_nothing_is_asked_or_shown(store):
    ingest_daily_json(store, daily_json(), "t")
    config = load_config(environ={})
    assert config.summary_llm_url == ""
    report = summarize_listed(store, config, 50, now=NOW)
    assert report.counts() == {"written": 0, "current": 0, "left": 0} and rows(store) == {}
    assert BY_NAME["summaries"].off_reason(config) == "summary_llm_url is empty"
    with TestClient(create_app(config, store)) as client:
        page = client.get("/papers/2411.10001").text
        assert "AI-generated summary" not in page
        items = client.get("/api/daily_papers", params={"date": DAY}).json()
        assert items and all(
            "ai_summary" not in i and "ai_summary" not in i["paper"] for i in items
        )


def test_answers_are_kept_failures_recorded_once_and_retried_later(store, llm):
    ingest_daily_json(store, daily_json(), "t")
    config = settings(llm.url, summary_llm_api_key="s3cret", summary_max_tokens=99)
    report = summarize_listed(store, config, 50, now=NOW)
    assert report.written == 3 and report.left == 0
    assert report.failed == {"garbage": 3, "http": 1, "timeout": 1}

    # What was sent: the prompt, the abstract alone, the settings; one request per paper.
    assert len(llm.requests) == len(MARKERS)
    sent = {r["messages"][1]["content"]: r for r in llm.requests}
    assert set(sent) == {abstract_of(i) for i in MARKERS}
    one = sent[abstract_of("2411.10001")]
    assert one["_path"] == "/v1/chat/completions" and one["_authorization"] == "Bearer s3cret"
    assert one["messages"][0] == {"role": "system", "content": config.summary_prompt}
    assert len(one["messages"]) == 2 and one["model"] == "fake" and one["max_tokens"] == 99

    found = rows(store)
    for arxiv_id in WRITTEN:
        row = found[arxiv_id]
        assert row["state"] == "ok" and row["model"] == MODEL and row["attempts"] == 1
        assert json.loads(row["keywords"]) in (["test papers", "fake model"], [HOSTILE])
    assert found["2411.10001"]["summary"] == summary_for(abstract_of("2411.10001"))
    assert found["2411.10002"]["summary"] == summary_for(abstract_of("2411.10002"))  # fenced
    reasons = {i: (r["state"], r["reason"]) for i, r in found.items() if i not in WRITTEN}
    assert reasons == {
        "2411.10004": ("failed", "garbage"),
        "2411.10005": ("failed", "garbage"),
        "2411.10006": ("failed", "garbage"),
        "2411.10007": ("failed", "http"),
        "2411.10008": ("failed", "timeout"),
    }
    assert "not a JSON object" in found["2411.10004"]["error"]
    assert "400 characters" not in found["2411.10006"]["error"]
    assert "over 800" in found["2411.10006"]["error"]
    assert "HTTP 500" in found["2411.10007"]["error"]

    # Nothing is due again at once; a failure after its wait (30 min), a success never.
    assert summarize_listed(store, config, 50, now=NOW).counts()["written"] == 0
    assert len(llm.requests) == len(MARKERS)
    later = summarize_listed(store, config, 50, now=NOW + timedelta(minutes=31))
    assert sum(later.failed.values()) == 5 and later.written == 0
    assert len(llm.requests) == len(MARKERS) + 5
    assert rows(store)["2411.10007"]["attempts"] == 2
    assert rows(store)["2411.10007"]["next_try_at"] == NOW + timedelta(minutes=31, hours=1)


def test_a_new_abstract_is_summarized_again_and_an_unchanged_one_is_not(store, llm):
    ingest_daily_json(store, daily_json(), "t")
    config = settings(llm.url)
    summarize_listed(store, config, 1, now=NOW)  # the newest listing first: one paper
    (arxiv_id,) = [i for i, r in rows(store).items() if r["state"] == "ok"]
    asked = len(llm.requests)

    def rewrite(abstract: str, categories: list[str]) -> None:
        """A second version from OAI-PMH: it outranks the daily list's description."""
        versions = [VersionRecord(n, datetime(2024, 7, n, tzinfo=UTC)) for n in (1, 2)]
        record = PaperRecord(
            arxiv_id,
            f"Paper {arxiv_id}",
            abstract,
            source="oai",
            categories=categories,
            versions=versions,
            latest_version=2,
        )
        with store.begin() as conn:
            write_papers(conn, [record], datetime.now(UTC))

    rewrite(abstract_of(arxiv_id), ["cs.LG"])  # the row changes, its abstract does not
    only = summarize_listed(store, config.with_overrides(summaries_per_run=1), 1)
    assert only.current == 1 and only.written == 0 and len(llm.requests) == asked

    rewrite("A second version about proteins [ok].", ["cs.LG"])
    again = summarize_listed(store, config, 1)
    assert again.written == 1 and len(llm.requests) == asked + 1
    assert rows(store)[arxiv_id]["summary"] == summary_for("A second version about proteins")


def test_an_unreachable_endpoint_ends_the_run_and_fails_the_job(store):
    ingest_daily_json(store, daily_json(), "t")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = settings(f"http://127.0.0.1:{port}/v1/chat/completions")
    report = summarize_listed(store, config, 50, now=NOW)
    assert report.failed == {"unreachable": 1} and report.left == len(MARKERS) - 1
    with pytest.raises(JobFailed, match="cannot be reached"):
        BY_NAME["summaries"].run(store, config, JobContext(period_start=datetime.now(UTC)))


def test_the_page_labels_and_escapes_it_and_the_api_carries_hf_fields(store, llm):
    ingest_daily_json(store, daily_json(), "t")
    config = settings(llm.url)
    summarize_listed(store, config, 50, now=NOW)
    with TestClient(create_app(config, store)) as client:
        response = client.get("/papers/2411.10003")
        assert HOSTILE not in response.text  # escaped, never markup
        tree = html.fromstring(response.text)
        (section,) = tree.xpath("//section[@class='ai-summary']")
        assert section.xpath("h2/text()") == ["AI-generated summary"]
        assert section.xpath("p[1]/text()") == [f"Evil {HOSTILE} summary."]
        assert section.xpath(".//span[@class='chip']/text()") == [HOSTILE]
        assert MODEL in section.text_content()
        failed = html.fromstring(client.get("/papers/2411.10004").text)
        assert not failed.xpath("//section[@class='ai-summary']")

        items = client.get("/api/daily_papers", params={"date": DAY}).json()
        by_id = {item["paper"]["id"]: item for item in items}
        good = by_id["2411.10001"]
        expected = summary_for(abstract_of("2411.10001"))
        assert good["ai_summary"] == good["paper"]["ai_summary"] == expected
        assert good["ai_keywords"] == good["paper"]["ai_keywords"] == ["test papers", "fake model"]
        assert "ai_summary" not in by_id["2411.10008"]

        detail = client.get("/api/papers/2411.10001").json()
        assert detail["ai_summary"] == expected and detail["ai_summary_model"] == MODEL
        hits = client.get("/api/papers/search", params={"q": "Paper 2411.10002"}).json()
        assert any(h["paper"]["id"] == "2411.10002" and h.get("ai_summary") for h in hits)


def test_the_settings_are_checked_at_start():
    with pytest.raises(Exception, match="summary_llm_url"):
        load_config(environ={"DAILYPAPERS_SUMMARY_LLM_URL": "ftp://example.org/x"})
    with pytest.raises(Exception, match="summary_prompt"):
        load_config(environ={"DAILYPAPERS_SUMMARY_PROMPT": "   "})
