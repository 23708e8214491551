"""Profiles through the real app on SQLite and PostgreSQL: `/u/{username}` lists what a person
submitted and commented, newest first, and their upvotes only once they allow it (a setting of
their account, off by default, CSRF-protected); a Hugging Face submitter without an account has
a profile of the imported entries; the submitter on cards and paper pages links there; unknown
and hostile names are a clear 404."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.domain.records import DailyEntry
from dailypapers.storage.papers import write_papers

from .test_authors import CATALOG, paper
from .test_follows_web import csrf_of, make_app, reader


@pytest.fixture
def app(store, tmp_path):
    listed = paper("2603.00010", 10, ["Grace Hopper"])
    listed.daily = DailyEntry(date(2026, 3, 10), "AK", "akhaliq", upvotes=5)
    with store.begin() as conn:
        write_papers(conn, [*CATALOG, listed])
    return make_app(store, tmp_path, submission_max_age_days=60)


def sections(page) -> dict[str, list[str]]:
    tree = html.fromstring(page.text)
    return {
        section.get("id"): section.xpath(".//li/a[1]/text()")
        for section in tree.xpath("//section[contains(@class,'profile-section')]")
    }


def test_a_profile_shows_submissions_and_comments_and_upvotes_only_when_allowed(app):
    ada = reader(app)
    token = csrf_of(ada.get("/submit"))
    for arxiv_id in ("2603.00001", "2603.00002"):
        assert ada.post("/submit", data={"csrf_token": token, "paper": arxiv_id}).status_code < 400
    for arxiv_id, body in [("2603.00001", "First thoughts"), ("2603.00002", "Second look")]:
        ada.post(f"/papers/{arxiv_id}/comments", data={"csrf_token": token, "body": body})
    ada.post("/papers/2603.00010/upvote", data={"csrf_token": token, "action": "up"})

    visitor = TestClient(app)
    page = visitor.get("/u/ada")
    assert page.status_code == 200
    shown = sections(page)
    assert shown["submitted"] == ["Paper 2603.00002", "Paper 2603.00001"]  # newest first
    assert shown["commented"] == ["Paper 2603.00002", "Paper 2603.00001"]  # newest first
    assert "upvoted" not in shown  # private by default
    assert "Second look" in page.text

    settings = ada.get("/settings/password")
    assert not html.fromstring(settings.text).xpath("//input[@name='show_upvotes']/@checked")
    refused = ada.post("/settings/profile", data={"show_upvotes": "on"})
    assert refused.status_code == 403  # no CSRF token
    assert "upvoted" not in sections(visitor.get("/u/ada"))
    ada.post("/settings/profile", data={"csrf_token": token, "show_upvotes": "on"})
    assert sections(visitor.get("/u/ADA"))["upvoted"] == ["Paper 2603.00010"]
    assert html.fromstring(ada.get("/settings/password").text).xpath(
        "//input[@name='show_upvotes']/@checked"
    )
    ada.post("/settings/profile", data={"csrf_token": token})
    assert "upvoted" not in sections(visitor.get("/u/ada"))


def test_the_submitter_links_to_their_profile_on_cards_and_paper_pages(app):
    ada = reader(app)
    ada.post("/submit", data={"csrf_token": csrf_of(ada.get("/submit")), "paper": "2603.00003"})
    client = TestClient(app)
    paper_page = html.fromstring(client.get("/papers/2603.00003").text)
    assert paper_page.xpath("//a[@class='submitter']/@href") == ["/u/ada"]
    day = html.fromstring(client.get("/papers/date/2026-03-10").text)
    card = day.xpath("//article[@id='paper-2603.00010']")[0]
    assert card.xpath(".//span[contains(@class,'submitter')]/a/@href") == ["/u/akhaliq"]
    imported = client.get("/u/akhaliq")  # a Hugging Face username, no account here
    assert imported.status_code == 200
    assert sections(imported) == {"submitted": ["Paper 2603.00010"]}


def test_hf_submitted_by_keeps_its_shape(app):
    item = TestClient(app).get("/api/daily_papers", params={"date": "2026-03-10"}).json()[0]
    assert item["submittedBy"]["user"] == "akhaliq"
    assert item["submittedBy"]["fullname"] == "AK"


@pytest.mark.parametrize(
    "path",
    ["/u/nobody", "/u/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/u/a%2F..%2F..", "/u/" + "x" * 500],
)
def test_unknown_and_hostile_usernames_are_a_clear_404(app, path):
    page = TestClient(app).get(path)
    assert page.status_code == 404
    assert "No one here is called" in page.text
    assert "<script>alert(1)</script>" not in page.text
