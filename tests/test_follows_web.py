"""Follows on the site, in-process on SQLite and PostgreSQL: the follow controls where things
appear (category chips, author names, organisations, the search page), the login round trip
of a visitor, the settings page, the Following page and its JSON twin, the private feed and
its token, CSRF, limits; and the `follows` commands."""

from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import etree, html

from dailypapers.cli import cli
from dailypapers.config import load_config
from dailypapers.domain.records import PaperRecord
from dailypapers.storage import open_store
from dailypapers.storage.follows import list_follows
from dailypapers.storage.papers import write_papers
from dailypapers.storage.users import find_user
from dailypapers.web.app import create_app

from .test_follows import NOW, RECORDS

PASSWORD = "a long enough password"
ATOM = "{http://www.w3.org/2005/Atom}"


def make_app(store, tmp_path, **settings):
    environ = {"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    environ.update({f"DAILYPAPERS_{k.upper()}": str(v) for k, v in settings.items()})
    app = create_app(load_config(environ=environ, env_file=None), store)
    app.state.site.clock = lambda: NOW
    return app


@pytest.fixture
def app(store, tmp_path):
    with store.begin() as conn:
        write_papers(conn, RECORDS)
        write_papers(conn, [PaperRecord("2603.00006", "", "", source="oai", deleted=True)])
    return make_app(store, tmp_path)


def csrf_of(response) -> str:
    return html.fromstring(response.text).xpath("//input[@name='csrf_token']/@value")[0]


def reader(app, username="ada") -> TestClient:
    """A browser that signed up as `username` and logged in."""
    client = TestClient(app, raise_server_exceptions=False)
    client.post(
        "/signup",
        data={
            "csrf_token": csrf_of(client.get("/signup")),
            "username": username,
            "email": f"{username}@example.org",
            "password": PASSWORD,
        },
    )
    login = {"csrf_token": csrf_of(client.get("/login")), "login": username, "password": PASSWORD}
    assert client.post("/login", data=login, follow_redirects=False).status_code == 303
    return client


class _FormInParagraph(HTMLParser):
    """Finds a <form> opened inside a <p>: browsers close the paragraph at the form's start
    tag, which tears a follow control from its chip (lxml's parser is more forgiving)."""

    def __init__(self) -> None:
        super().__init__()
        self.open_paragraphs = 0
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self.open_paragraphs += 1
        elif tag == "form" and self.open_paragraphs:
            self.found.append(dict(attrs).get("action", ""))

    def handle_endtag(self, tag):
        if tag == "p" and self.open_paragraphs:
            self.open_paragraphs -= 1


def forms_in_paragraphs(text: str) -> list[str]:
    parser = _FormInParagraph()
    parser.feed(text)
    return parser.found


def token(client) -> str:
    return csrf_of(client.get("/settings/follows"))


def follow_form(page, kind, value):
    """The follow control of `kind` and `value` on a page: (action, fields)."""
    doc = html.fromstring(page.text)
    forms = doc.xpath(f"//form[@data-kind='{kind}'][@data-value='{value}']")
    assert forms, f"no follow control for {kind} {value}"
    form = forms[0]
    fields = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
    return form.get("action"), fields


def following_page(client):
    doc = html.fromstring(client.get("/following").text)
    return [
        (
            card.get("id").removeprefix("paper-"),
            [m.text_content() for m in card.xpath(".//p[@class='why']/span[@class='matched']")],
        )
        for card in doc.xpath("//article[contains(@class, 'card')]")
    ]


def test_follow_a_category_chip_then_see_it_on_the_following_page(app):
    ada = reader(app)
    paper = ada.get("/papers/2603.00002")
    action, fields = follow_form(paper, "category", "cs.CL")
    assert action == "/follows" and fields["kind"] == "category"
    button = html.fromstring(paper.text).xpath("//form[@data-value='cs.CL']/button")[0]
    assert button.get("aria-pressed") == "false" and button.get("aria-label") == "Follow cs.CL"
    referer = {"referer": "http://testserver/papers/2603.00002"}
    done = ada.post(action, data=fields, headers=referer, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/papers/2603.00002"
    again = ada.get("/papers/2603.00002")
    assert "Following cs.CL." in again.text  # the flash
    action, fields = follow_form(again, "category", "cs.CL")
    assert action.startswith("/follows/") and action.endswith("/delete")
    assert following_page(ada) == [("2603.00001", ["cs.CL"]), ("2603.00002", ["cs.CL"])]
    # Unfollow from the same chip: the page is empty again, and says how to follow
    assert ada.post(action, data=fields, headers=referer, follow_redirects=False).status_code == 303
    empty = ada.get("/following")
    assert following_page(ada) == [] and "Follow something to fill this page" in empty.text
    popular = html.fromstring(empty.text).xpath("//div[@class='popular']//form/@data-value")
    assert popular[:2] == ["cs.CL", "cs.CV"]


def test_follow_controls_sit_where_browsers_keep_them(app, store):
    from dailypapers.domain.records import DailyEntry

    ada = reader(app)
    ada.post("/follows", data={"csrf_token": token(ada), "kind": "category", "value": "cs.CL"})
    with store.begin() as conn:  # a paper on the daily list: its card has the controls
        listed = RECORDS[0]
        write_papers(
            conn,
            [
                PaperRecord(
                    listed.arxiv_id,
                    listed.title,
                    listed.abstract,
                    source="hf-daily",
                    organization="NVIDIA",
                    daily=DailyEntry(NOW.date(), organization="NVIDIA"),
                )
            ],
        )
    for path in [
        "/papers/2603.00003",
        "/papers",
        "/following",
        "/search?q=diffusion",
        "/settings/follows",
    ]:
        page = ada.get(path)
        assert page.status_code == 200, path
        assert forms_in_paragraphs(page.text) == [], path
    card = html.fromstring(ada.get("/papers").text).xpath("//article[@id='paper-2603.00001']")[0]
    assert card.xpath(".//form[@data-kind='category']/@data-value") == ["cs.CL"]
    assert card.xpath(".//form[@data-kind='organization']/@data-value") == ["NVIDIA"]
    assert card.xpath(".//a[@class='author']/text()") == ["Yann LeCun", "Ada Lovelace"]


def test_authors_organisations_and_searches_are_followed_where_they_appear(app):
    ada = reader(app)
    paper = ada.get("/papers/2603.00003")
    names = html.fromstring(paper.text).xpath("//*[contains(@class,'authors')]//a/@href")
    assert names == [
        "/authors/Barbara%20Liskov",
        "/authors/Yann%20L%C3%A9cun",
    ]
    action, fields = follow_form(paper, "author", "Yann Lécun")
    ada.post(action, data=fields)
    action, fields = follow_form(paper, "organization", "NVIDIA")
    ada.post(action, data=fields)
    # A search for an author offers to follow them too
    search = ada.get("/search", params={"q": 'author:"Yann LeCun"'})
    author_form = follow_form(search, "author", "Yann LeCun")
    assert author_form[0].endswith("/delete")  # Yann Lécun and Yann LeCun are one author
    action, fields = follow_form(
        ada.get("/search", params={"q": "diffusion", "category": "cs.CV"}),
        "search",
        "diffusion cat:cs.CV",
    )
    assert action == "/follows"
    ada.post(action, data=fields)
    assert following_page(ada) == [
        ("2603.00001", ["author: Yann Lécun"]),
        ("2603.00007", ["org: NVIDIA", "search: diffusion cat:cs.CV"]),
        ("2603.00002", ["search: diffusion cat:cs.CV"]),
        ("2603.00003", ["author: Yann Lécun", "org: NVIDIA"]),
    ]
    settings = html.fromstring(ada.get("/settings/follows").text)
    assert [h.text for h in settings.xpath("//h2")][:3] == ["Authors", "Searches", "Organisations"]
    assert len(settings.xpath("//ul[@class='follow-list']/li")) == 3


def test_a_visitor_is_sent_to_log_in_and_comes_back_to_follow(app):
    visitor = TestClient(app, raise_server_exceptions=False)
    paper = html.fromstring(visitor.get("/papers/2603.00001").text)
    link = paper.xpath("//a[contains(@class,'follow-toggle')][@aria-label='Follow cs.CL']/@href")[0]
    assert link == "/follows/new?kind=category&value=cs.CL"
    assert not paper.xpath("//form[contains(@class,'follow')]")  # visitors get links, not forms
    away = visitor.get(link, follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/login?next=/follows/new%3Fkind%3Dcategory%26value%3Dcs.CL"
    assert visitor.get("/following", follow_redirects=False).headers["location"] == (
        "/login?next=/following"
    )
    ada = reader(app)  # an account, then the same visitor logs in from the link
    ada.post("/logout", data={"csrf_token": token(ada)})
    login_page = visitor.get(away.headers["location"])
    form = html.fromstring(login_page.text).xpath("//form[.//input[@name='password']]")[0]
    fields = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
    fields.update(login="ada", password=PASSWORD)
    back = visitor.post("/login", data=fields, follow_redirects=False)
    assert back.headers["location"] == link
    ask = visitor.get(link)
    assert "Follow cs.CL?" in ask.text
    form = html.fromstring(ask.text).xpath("//form[@action='/follows']")[0]
    fields = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
    done = visitor.post("/follows", data=fields, follow_redirects=False)
    assert done.headers["location"] == "/following"
    assert "You already follow cs.CL" in visitor.get(link).text


def test_forms_and_json_without_the_csrf_token_are_refused(app, store):
    ada = reader(app)
    fields = {"kind": "category", "value": "cs.CL"}
    assert ada.post("/follows", data=fields).status_code == 403
    assert ada.post("/follows", data={**fields, "csrf_token": "forged"}).status_code == 403
    refused = ada.post("/api/me/follows", json=fields)
    assert (
        refused.status_code == 403
        and "expired or came from another site" in refused.json()["error"]
    )
    assert ada.post("/settings/follows/feed", data={}).status_code == 403
    with store.connect() as conn:
        assert list_follows(conn, find_user(conn, "ada").id) == []


def test_the_json_twins(app):
    ada = reader(app)
    headers = {"X-CSRF-Token": token(ada)}
    made = ada.post(
        "/api/me/follows", json={"kind": "author", "value": "Yann  LeCun"}, headers=headers
    )
    assert made.status_code == 201
    body = made.json()
    assert body == {
        "id": body["id"],
        "kind": "author",
        "value": "lecun, yann",
        "label": "Yann LeCun",
        "why": "author: Yann LeCun",
        "createdAt": body["createdAt"],
        "created": True,
    }
    again = ada.post(
        "/api/me/follows", json={"kind": "author", "value": "yann lecun"}, headers=headers
    )
    assert (
        again.status_code == 200
        and again.json()["id"] == body["id"]
        and not again.json()["created"]
    )
    assert [f["id"] for f in ada.get("/api/me/follows").json()] == [body["id"]]
    following = ada.get("/api/me/following").json()
    assert (following["since"], following["until"]) == (
        "2026-03-06T12:00:00.000Z",
        "2026-03-20T12:00:00.000Z",
    )
    assert [(p["paper"]["id"], [m["why"] for m in p["matched"]]) for p in following["papers"]] == [
        ("2603.00001", ["author: Yann LeCun"]),
        ("2603.00003", ["author: Yann LeCun"]),
    ]
    assert (
        ada.get("/api/me/following", params={"limit": 1}).json()["papers"][0]["paper"]["id"]
        == "2603.00001"
    )
    assert (
        ada.get("/api/me/following", params={"limit": 1, "page": 2}).json()["papers"][0]["paper"][
            "id"
        ]
        == "2603.00003"
    )
    bad = ada.get("/api/me/following", params={"limit": "0"})
    assert bad.status_code == 400 and bad.json() == {
        "error": "limit must be between 1 and 200, got 0"
    }
    for payload, message in [
        (b"nope", 'The body must be JSON: {"kind": "category", "value": "cs.CL"}'),
        (
            b'{"kind": "people", "value": "x"}',
            "kind must be one of category, author, search, organization",
        ),
        (b'{"kind": "category"}', "value is required"),
        (
            b'{"kind": "category", "value": "cs.XX"}',
            "no paper of this catalog is in the category 'cs.XX'; check it",
        ),
    ]:
        refused = ada.post(
            "/api/me/follows",
            content=payload,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert (refused.status_code, refused.json()) == (400, {"error": message})
    # Another reader sees none of it, and cannot remove it
    bob = reader(app, "bob")
    bob_headers = {"X-CSRF-Token": token(bob)}
    assert (
        bob.get("/api/me/follows").json() == []
        and bob.get("/api/me/following").json()["papers"] == []
    )
    assert bob.delete(f"/api/me/follows/{body['id']}", headers=bob_headers).status_code == 404
    gone = ada.delete(f"/api/me/follows/{body['id']}", headers=headers)
    assert gone.status_code == 200 and gone.json()["id"] == body["id"]
    assert ada.delete(f"/api/me/follows/{body['id']}", headers=headers).status_code == 404
    anonymous = TestClient(app)
    assert anonymous.get("/api/me/follows").status_code == 401
    assert anonymous.get("/api/me/following").json() == {"error": "Log in first."}


def test_the_follow_limit_is_a_clear_refusal(store, tmp_path):
    with store.begin() as conn:
        write_papers(conn, RECORDS)
    app = make_app(store, tmp_path, follows_max=2)
    ada = reader(app)
    headers = {"X-CSRF-Token": token(ada)}
    for value in ["cs.CL", "cs.CV"]:
        assert (
            ada.post(
                "/api/me/follows", json={"kind": "category", "value": value}, headers=headers
            ).status_code
            == 201
        )
    over = ada.post("/api/me/follows", json={"kind": "category", "value": "cs.LG"}, headers=headers)
    assert over.status_code == 429
    assert (
        over.json()["error"]
        == "You follow 2 things, the most one account may (follows_max): unfollow some first."
    )
    # The form says the same on the page it came from
    page = ada.post(
        "/follows",
        data={
            "csrf_token": headers["X-CSRF-Token"],
            "kind": "category",
            "value": "cs.LG",
            "next": "/settings/follows",
        },
    )
    assert "You follow 2 things" in page.text and page.url.path == "/settings/follows"


def test_the_private_feed_and_its_token(app, store):
    ada = reader(app)
    ada_token = token(ada)
    ada.post("/follows", data={"csrf_token": ada_token, "kind": "category", "value": "cs.CL"})
    settings = ada.post("/settings/follows/feed", data={"csrf_token": ada_token})
    url = html.fromstring(settings.text).xpath("//input[@id='feed-url']/@value")[0]
    path = url.removeprefix("http://testserver")
    assert path.startswith("/feeds/following/") and path.endswith(".atom")
    # Shown once: the database keeps a hash, the page says when it was made
    later = ada.get("/settings/follows")
    assert path not in later.text and "Your feed address was made on" in later.text
    visitor = TestClient(app, raise_server_exceptions=False)  # a feed reader: no session
    feed = visitor.get(path)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith(
        "application/atom+xml"
    )
    assert feed.headers["cache-control"] == "private, no-cache"
    root = etree.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}id").text.rsplit("/", 1)[1] for e in entries] == [
        "2603.00001",
        "2603.00002",
    ]
    assert [c.get("term") for c in entries[0].findall(f"{ATOM}category")] == ["cs.CL"]
    assert entries[0].find(f"{ATOM}summary").text.startswith("Following: cs.CL\n\n")
    # A new address revokes the old one
    ada.post("/settings/follows/feed", data={"csrf_token": ada_token})
    assert visitor.get(path).status_code == 404
    # Another reader's feed is theirs alone
    bob = reader(app, "bob")
    bob_token = token(bob)
    bob.post("/follows", data={"csrf_token": bob_token, "kind": "organization", "value": "nvidia"})
    bob_page = bob.post("/settings/follows/feed", data={"csrf_token": bob_token})
    bob_path = (
        html.fromstring(bob_page.text)
        .xpath("//input[@id='feed-url']/@value")[0]
        .removeprefix("http://testserver")
    )
    bob_feed = etree.fromstring(visitor.get(bob_path).content)
    assert [
        e.find(f"{ATOM}id").text.rsplit("/", 1)[1] for e in bob_feed.findall(f"{ATOM}entry")
    ] == ["2603.00007", "2603.00003"]
    assert bob_feed.find(f"{ATOM}title").text == "Following: bob"
    # Turning it off, and addresses that were never made
    bob.post("/settings/follows/feed/delete", data={"csrf_token": bob_token})
    assert visitor.get(bob_path).status_code == 404
    for guess in ["x" * 43, "not-a-token", "A" * 200]:
        assert visitor.get(f"/feeds/following/{guess}.atom").status_code == 404
    assert visitor.get("/feeds/following.atom").status_code == 404


def test_nothing_new_says_so(app):
    ada = reader(app)
    ada.post("/follows", data={"csrf_token": token(ada), "kind": "author", "value": "Alan Turing"})
    page = ada.get("/following")
    assert (
        "Nothing new in the last 14 days from the 1 thing you follow (author: Alan Turing)"
        in page.text
    )


def test_following_pages_and_bad_pages(app):
    ada = reader(app)
    ada.post("/follows", data={"csrf_token": token(ada), "kind": "search", "value": "diffusion"})
    assert len(following_page(ada)) == 4
    assert ada.get("/following", params={"page": "21"}).status_code == 400
    assert ada.get("/following", params={"page": "2"}).status_code == 200


def test_follows_commands(database_url, tmp_path):
    store = open_store(database_url)
    with store.begin() as conn:
        write_papers(conn, RECORDS)
    make_app(store, tmp_path)  # nothing but the catalog
    store.close()
    runner = CliRunner()
    env = {"DAILYPAPERS_DATABASE_URL": database_url, "DAILYPAPERS_DATA_DIR": str(tmp_path)}
    made = runner.invoke(
        cli,
        ["user", "create", "ada", "--email", "ada@example.org", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert made.exit_code == 0, made.output
    added = runner.invoke(
        cli, ["follows", "add", "--user", "ada", "author", "Yann  LeCun"], env=env
    )
    assert added.exit_code == 0 and added.output == "following author: Yann LeCun (id 1)\n"
    again = runner.invoke(cli, ["follows", "add", "--user", "ada", "author", "YANN LECUN"], env=env)
    assert again.exit_code == 0 and again.output == "already following author: Yann LeCun (id 1)\n"
    runner.invoke(cli, ["follows", "add", "--user", "ada", "category", "cs.cl"], env=env)
    listed = runner.invoke(cli, ["follows", "list", "--user", "ada"], env=env)
    assert listed.output == "1\tauthor\tYann LeCun\tlecun, yann\n2\tcategory\tcs.CL\tcs.CL\n"
    bad = runner.invoke(cli, ["follows", "add", "--user", "ada", "category", "cs.XX"], env=env)
    assert (
        bad.exit_code == 2 and "no paper of this catalog is in the category 'cs.XX'" in bad.output
    )
    nobody = runner.invoke(cli, ["follows", "list", "--user", "zed"], env=env)
    assert nobody.exit_code == 2 and "no account zed" in nobody.output
    removed = runner.invoke(cli, ["follows", "remove", "--user", "ada", "1"], env=env)
    assert removed.exit_code == 0 and removed.output == "stopped following author: Yann LeCun\n"
    missing = runner.invoke(cli, ["follows", "remove", "--user", "ada", "1"], env=env)
    assert missing.exit_code == 1 and "You follow nothing with the id 1." in missing.output
    listed = runner.invoke(cli, ["follows", "list", "--user", "ada", "--json"], env=env)
    assert '"why": "cs.CL"' in listed.output
