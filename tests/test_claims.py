"""Claimed authorship through the real app and the CLI, on SQLite and PostgreSQL: "This is me"
on a paper (CSRF-protected), the admin's approval or rejection (page and `dailypapers claims`),
the claimed name linking to the profile, the other papers of that person offered and confirmed
by the claimant, an entry held by one account only, and `isAuthorParticipating` once a claimed
author comments."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.cli import cli
from dailypapers.domain.accounts import hash_password
from dailypapers.domain.records import DailyEntry
from dailypapers.storage.papers import write_papers
from dailypapers.storage.users import create_user

from .test_authors import CATALOG, paper
from .test_follows_web import PASSWORD, csrf_of, make_app, reader


@pytest.fixture
def app(store, tmp_path):
    listed = paper("2603.00011", 11, ["Csaba Balázs", "Grace Hopper"])
    listed.daily = DailyEntry(date(2026, 3, 11), "AK", "akhaliq", upvotes=5)
    more = [listed, paper("2603.00012", 12, ["C. Balázs", "Ada Lovelace"])]
    with store.begin() as conn:
        write_papers(conn, [*CATALOG, *more])
        create_user(conn, "root", "root@example.org", hash_password(PASSWORD), is_admin=True)
    return make_app(store, tmp_path)


def admin(app) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    login = {"csrf_token": csrf_of(client.get("/login")), "login": "root", "password": PASSWORD}
    client.post("/login", data=login)
    return client


def author_links(client, arxiv_id) -> dict[str, str]:
    tree = html.fromstring(client.get(f"/papers/{arxiv_id}").text)
    return {
        a.text: a.get("href")
        for a in tree.xpath("//div[contains(@class,'authors')]//a[contains(@class,'author')]")
    }


def claim(client, arxiv_id, position, **extra):
    token = csrf_of(client.get(f"/papers/{arxiv_id}"))
    fields = {"csrf_token": token, "position": str(position), **extra}
    return client.post(f"/papers/{arxiv_id}/claims", data=fields, follow_redirects=False)


def test_a_claim_approved_by_an_admin_links_the_name_and_offers_the_other_papers(app):
    ada = reader(app, "csaba")
    assert ada.post("/papers/2603.00011/claims", data={"position": "0"}).status_code == 403
    assert claim(ada, "2603.00011", 0).status_code == 303
    visitor = TestClient(app)
    assert author_links(visitor, "2603.00011")["Csaba Balázs"] == "/authors/Csaba%20Bal%C3%A1zs"

    root = admin(app)
    queue = html.fromstring(root.get("/admin/claims").text)
    rows = queue.xpath("//tr[starts-with(@id,'claim-')]")
    assert len(rows) == 1 and "Csaba Balázs" in rows[0].text_content()
    assert ada.get("/admin/claims").status_code == 403  # not an admin
    claim_id = rows[0].get("id").removeprefix("claim-")
    token = csrf_of(root.get("/admin/claims"))
    fields = {"csrf_token": token, "action": "approve"}
    decided = root.post(f"/admin/claims/{claim_id}", data=fields, follow_redirects=False)
    assert decided.status_code == 303
    assert author_links(visitor, "2603.00011")["Csaba Balázs"] == "/u/csaba"
    # on the daily list's card too, for visitors and signed-in readers (their shared page)
    for client in (visitor, ada):
        day = html.fromstring(client.get("/papers/date/2026-03-11").text)
        card = day.xpath("//article[@id='paper-2603.00011']//p[@class='authors']")[0]
        links = {a.text: a.get("href") for a in card.xpath(".//a")}
        assert links == {"Csaba Balázs": "/u/csaba", "Grace Hopper": "/authors/Grace%20Hopper"}

    # C. Balázs stands for nobody else here: the claimant is offered that paper, and confirms it
    mine = html.fromstring(ada.get("/settings/claims").text)
    assert mine.xpath("//ul[@class='offers']/li/a/text()") == ["Paper 2603.00012"]
    position = mine.xpath("//ul[@class='offers']//input[@name='position']/@value")[0]
    confirmed = claim(ada, "2603.00012", position, next="/settings/claims")
    assert confirmed.headers["location"] == "/settings/claims"
    assert author_links(visitor, "2603.00012")["C. Balázs"] == "/u/csaba"
    profile = html.fromstring(visitor.get("/u/csaba").text)
    authored = profile.xpath("//section[@id='authored']//li/a[1]/text()")
    assert sorted(authored) == ["Paper 2603.00011", "Paper 2603.00012"]

    # the entry is held: another account cannot take it
    bob = reader(app, "bob")
    claim(bob, "2603.00011", 0)
    assert "already claimed by csaba" in bob.get("/papers/2603.00011").text


def test_a_rejected_claim_links_nothing_and_a_claimed_author_comment_is_participating(
    app, database_url, tmp_path
):
    ada = reader(app, "csaba")
    claim(ada, "2603.00011", 0)
    runner = CliRunner()
    env = {"DAILYPAPERS_DATABASE_URL": database_url, "DAILYPAPERS_DATA_DIR": str(tmp_path)}
    listed = runner.invoke(cli, ["claims", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert '"name": "Csaba Balázs"' in listed.output
    claim_id = listed.output.split('"id": ')[1].split(",")[0]

    def daily_item():
        answer = TestClient(app).get("/api/daily_papers", params={"date": "2026-03-11"})
        return answer.json()[0]

    token = csrf_of(ada.get("/papers/2603.00011"))
    ada.post("/papers/2603.00011/comments", data={"csrf_token": token, "body": "Author here."})
    assert daily_item()["isAuthorParticipating"] is False  # pending: not an author yet

    rejected = runner.invoke(cli, ["claims", "reject", claim_id], env=env)
    assert rejected.exit_code == 0 and "rejected" in rejected.output
    again = runner.invoke(cli, ["claims", "approve", claim_id], env=env)
    assert again.exit_code == 1 and "rejected already" in again.output
    assert author_links(TestClient(app), "2603.00011")["Csaba Balázs"].startswith("/authors/")
    assert daily_item()["isAuthorParticipating"] is False

    grace = reader(app, "grace")
    claim(grace, "2603.00011", 1)
    grace_id = runner.invoke(cli, ["claims", "list"], env=env).output.split("\t")[0]
    assert runner.invoke(cli, ["claims", "approve", grace_id], env=env).exit_code == 0
    assert daily_item()["isAuthorParticipating"] is False  # grace has not commented
    token = csrf_of(grace.get("/papers/2603.00011"))
    grace.post("/papers/2603.00011/comments", data={"csrf_token": token, "body": "Me too."})
    assert daily_item()["isAuthorParticipating"] is True
    hit = TestClient(app).get("/api/papers/search", params={"q": "2603.00011"}).json()[0]
    assert hit["isAuthorParticipating"] is True


@pytest.mark.parametrize(
    ("position", "message"),
    [("7", "has no author number 8"), ("x", "choose an author"), ("-1", "choose an author")],
)
def test_a_claim_of_no_author_is_refused_with_a_reason(app, position, message):
    ada = reader(app)
    claim(ada, "2603.00011", position)
    assert message in ada.get("/papers/2603.00011").text
