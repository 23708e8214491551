"""Organisations through the real app on SQLite and PostgreSQL: `/orgs/{name}` lists the papers
carrying one (their own organisation or their daily entry's; case and accents aside), newest
first; the chip on a card links there; an admin sets a paper's organisation from its page
(CSRF-protected, admins only); unknown and hostile names are a clear 404."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.domain.accounts import hash_password
from dailypapers.domain.records import DailyEntry
from dailypapers.storage.papers import write_papers
from dailypapers.storage.users import create_user

from .test_authors import paper
from .test_claims import admin
from .test_follows_web import PASSWORD, csrf_of, make_app, reader


@pytest.fixture
def app(store, tmp_path):
    own = paper("2603.00021", 1, ["Ada Lovelace"])
    own.organization = "NVIDIA"
    listed = paper("2603.00022", 2, ["Grace Hopper"])
    listed.daily = DailyEntry(date(2026, 3, 2), "AK", "akhaliq", upvotes=3, organization="nvidia")
    other = paper("2603.00023", 3, ["Alan Turing"])
    other.organization = "<script>alert(1)</script> Labs"
    with store.begin() as conn:
        write_papers(conn, [own, listed, other, paper("2603.00024", 4, ["Nobody"])])
    with store.begin() as conn:
        create_user(conn, "root", "root@example.org", hash_password(PASSWORD), is_admin=True)
    return make_app(store, tmp_path)


def titles(page) -> list[str]:
    return html.fromstring(page.text).xpath("//article//h2/a/text()")


def test_an_organisation_lists_the_papers_that_carry_it_in_any_case(app):
    client = TestClient(app)
    for path in ["/orgs/NVIDIA", "/orgs/nvidia", "/orgs/Nvidia"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert titles(page) == ["Paper 2603.00022", "Paper 2603.00021"]  # newest first
    day = html.fromstring(client.get("/papers/date/2026-03-02").text)
    assert day.xpath("//article[@id='paper-2603.00022']//a[@class='org']/@href") == ["/orgs/nvidia"]
    hostile = html.fromstring(client.get("/papers/2603.00023").text)
    href = hostile.xpath("//a[@class='org']/@href")[0]
    assert href == "/orgs/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%20Labs"
    page = client.get(href)
    assert page.status_code == 200 and "<script>alert(1)</script>" not in page.text
    for path in ["/orgs/Nobody%20Inc", "/orgs/..%2F..", "/orgs/" + "x" * 300]:
        answer = client.get(path)
        assert answer.status_code in (400, 404), path
        assert "<script>" not in answer.text


def test_an_admin_sets_a_papers_organisation(app):
    root = admin(app)
    token = csrf_of(root.get("/papers/2603.00024"))
    set_it = {"csrf_token": token, "organization": "  Analytical   Engines  "}
    assert root.post("/papers/2603.00024/organization", data=set_it).status_code == 200
    assert titles(TestClient(app).get("/orgs/analytical%20engines")) == ["Paper 2603.00024"]
    ada = reader(app)
    refused = ada.post(
        "/papers/2603.00024/organization",
        data={"csrf_token": csrf_of(ada.get("/papers/2603.00024")), "organization": "Mine"},
    )
    assert refused.status_code == 403
    assert (
        root.post("/papers/2603.00024/organization", data={"organization": "X"}).status_code == 403
    )
    root.post("/papers/2603.00024/organization", data={"csrf_token": token, "organization": ""})
    assert TestClient(app).get("/orgs/analytical%20engines").status_code == 404
