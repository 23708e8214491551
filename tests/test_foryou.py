"""For you with the real all-MiniLM-L6-v2 model, on SQLite and PostgreSQL: a reader of both
robotic manipulation and protein structure gets both, "not interested" pushes a paper and its
near twin down at once, every paper says why it is there, a new reader's page is never empty,
a pasted abstract ranks, and the CLI's JSON is the page's list."""

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.cli import cli
from dailypapers.config import load_config
from dailypapers.domain.accounts import hash_password
from dailypapers.domain.errors import BadParameter
from dailypapers.domain.library import IMPORTED
from dailypapers.domain.records import PaperRecord
from dailypapers.search.vector import Embedder, paper_text
from dailypapers.services import foryou, userdata
from dailypapers.services.digests import run_digests
from dailypapers.services.follows import follow
from dailypapers.services.library import import_file, save
from dailypapers.storage.daily import set_vote
from dailypapers.storage.library import add_items
from dailypapers.storage.papers import write_papers
from dailypapers.storage.schema import digests, subscriptions
from dailypapers.storage.users import create_user, find_user
from dailypapers.storage.vectors import save_vectors
from dailypapers.web.app import create_app

from .conftest import DATA
from .smtpsink import SmtpSink
from .test_digests import add_active, make_config, text_of

PASSWORD = "a long enough password"
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
PAPERS = json.loads((DATA / "foryou_papers.json").read_text())
ROBOTS = [p["id"] for p in PAPERS[:12]]
PROTEINS = [p["id"] for p in PAPERS[12:24]]
LIBRARY = ROBOTS[:4] + PROTEINS[:4]  # upvoted in January; the rest is the window (March)
GRASP = ROBOTS[4]  # Spatial RoboGrasp, and its near twin below
TWIN = "2603.90001"
NEIGHBOUR = "2506.17110"  # RGB-based robot grasping: cosine 0.74 to GRASP


def records() -> list[PaperRecord]:
    out = []
    for number, paper in enumerate(PAPERS):
        published = (
            datetime(2026, 1, 10) if paper["id"] in LIBRARY else datetime(2026, 3, 2 + number % 7)
        )
        out.append(
            PaperRecord(
                paper["id"],
                " ".join(paper["title"].split()),
                paper["abstract"].strip(),
                "s",
                authors=[a.strip() for a in paper["authors"].split(",")][:5],
                categories=paper["categories"].split(),
                published_at=published,
            )
        )
    grasp = next(r for r in out if r.arxiv_id == GRASP)
    out.append(
        PaperRecord(
            TWIN,
            grasp.title + ", extended",
            grasp.abstract + " We release the code.",
            "s",
            categories=grasp.categories,
            published_at=datetime(2026, 3, 5),
        )
    )
    return out


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


@pytest.fixture(scope="module")
def vectors(embedder):
    made = records()
    found = embedder.embed([paper_text(r.title, r.abstract) for r in made])
    return {r.arxiv_id: v for r, v in zip(made, found, strict=True)}


@pytest.fixture
def catalog(store, vectors, embedder):
    """The papers, their vectors, and ada, who upvoted four papers of each field."""
    with store.begin() as conn:
        write_papers(conn, records())
        save_vectors(conn, embedder.name, [(i, 1, v) for i, v in vectors.items()])
        user = create_user(conn, "ada", "ada@example.org", hash_password(PASSWORD))
        create_user(conn, "newcomer", "new@example.org", hash_password(PASSWORD))
        create_user(conn, "bea", "bea@example.org", hash_password(PASSWORD))  # a library
        create_user(conn, "cy", "cy@example.org", hash_password(PASSWORD))  # follows
        for arxiv_id in LIBRARY:
            set_vote(conn, user.id, arxiv_id, True)
    return store


@pytest.fixture
def app(catalog, embedder):
    made = create_app(
        load_config(environ={"DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}), catalog, embedder=embedder
    )
    made.state.site.clock = lambda: NOW
    return made


def login(app, username="ada") -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    token = csrf_of(client.get("/login"))
    data = {"csrf_token": token, "login": username, "password": PASSWORD}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return client


def csrf_of(response) -> str:
    return html.fromstring(response.text).xpath("//input[@name='csrf_token']/@value")[0]


def cards(response) -> list[tuple[str, str, str]]:
    """(paper id, why kind, why text) of each card of the page, in order."""
    page = html.fromstring(response.text)
    return [
        (
            card.get("id").removeprefix("paper-"),
            card.get("data-why"),
            " ".join(card.xpath(".//p[@class='why']")[0].text_content().split()),
        )
        for card in page.xpath("//article[contains(@class, 'foryou')]")
    ]


def place(ids: list[str], arxiv_id: str) -> int:
    """Where a paper is in a list; past its end when the list left it out."""
    return ids.index(arxiv_id) if arxiv_id in ids else len(ids)


def test_a_reader_of_two_fields_gets_both_each_with_its_closest_paper(catalog):
    with catalog.connect() as conn:
        ada = find_user(conn, "ada")
    result = foryou.for_you(catalog, load_config(environ={}), ada, NOW, limit=6)
    assert (result.span.since.isoformat(), result.span.until.isoformat()) == (
        "2026-03-02",
        "2026-03-08",
    )
    assert not result.cold_start
    # Interests never mix the two fields (proteins may split further: physics and learning).
    assert sorted(ROBOTS[:4]) in [sorted(group) for group in result.interests]
    assert all(set(g) <= set(ROBOTS) or set(g) <= set(PROTEINS) for g in result.interests)
    assert {i for g in result.interests for i in g} == set(LIBRARY)
    ids = [item.paper.arxiv_id for item in result.items]
    assert len(ids) == 6
    assert {i for i in ids if i in ROBOTS or i == TWIN} and {i for i in ids if i in PROTEINS}
    assert not set(ids) & set(LIBRARY)
    for item in result.items:
        assert item.why.kind == "paper"
        field = ROBOTS if item.paper.arxiv_id in ROBOTS or item.paper.arxiv_id == TWIN else PROTEINS
        assert item.why.arxiv_id in field[:4], (item.paper.title, item.why_title)
        assert item.why_title


def test_not_interested_pushes_the_paper_and_its_near_twin_down_at_once(app):
    client = login(app)
    before = [c[0] for c in cards(client.get("/for-you"))]
    assert NEIGHBOUR in before[:20]  # a close neighbour, high in the list before
    # The form needs the session's CSRF token.
    refused = client.post(f"/papers/{GRASP}/not-interested", data={}, follow_redirects=False)
    assert refused.status_code == 403
    page = client.get("/for-you")
    answer = client.post(
        f"/papers/{GRASP}/not-interested",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/for-you?dismissed={GRASP}"
    after_page = client.get(answer.headers["location"])
    after = [c[0] for c in cards(after_page)]
    assert GRASP not in after
    assert place(after, TWIN) > before.index(TWIN) + 5  # maybe out of the 50 shown
    # Lower although the dismissed paper above it left the list.
    assert place(after, NEIGHBOUR) > before.index(NEIGHBOUR)
    far = next(i for i in before if i in PROTEINS)  # the other field does not move down
    assert after.index(far) <= before.index(far)
    notice = html.fromstring(after_page.text).xpath("//div[@id='dismissed-notice']")[0]
    assert "Spatial RoboGrasp" in notice.text_content() and "moved down" in notice.text_content()
    # Undo, from the notice: the list is as it was.
    undo = client.post(
        f"/papers/{GRASP}/not-interested",
        data={"csrf_token": csrf_of(after_page), "action": "undo"},
        follow_redirects=False,
    )
    assert undo.status_code == 303
    assert [c[0] for c in cards(client.get("/for-you"))] == before


def test_every_paper_says_why_with_a_link_to_the_closest_paper(app):
    client = login(app)
    response = client.get("/for-you")
    assert response.status_code == 200
    listed = cards(response)
    assert len(listed) == 50  # of the window's 57 papers
    page = html.fromstring(response.text)
    for arxiv_id, kind, text in listed:
        assert kind == "paper" and text.startswith("Because you upvoted "), (arxiv_id, text)
        link = page.xpath(f"//article[@id='paper-{arxiv_id}']//a[@class='closest']/@href")[0]
        assert link.removeprefix("/papers/") in LIBRARY
    data = client.get("/api/me/for-you").json()
    assert [p["id"] for p in data["papers"]] == [c[0] for c in listed]
    assert all(p["why"]["kind"] == "paper" and p["why"]["paper"] in LIBRARY for p in data["papers"])
    assert data["candidates"] == len(PAPERS) + 1 - len(LIBRARY)


def test_a_new_reader_is_asked_for_a_profile_and_shown_papers_meanwhile(app):
    for client in (TestClient(app), login(app, "newcomer")):
        response = client.get("/for-you")
        assert response.status_code == 200
        page = html.fromstring(response.text)
        prompt = page.xpath("//section[@id='cold-start']")[0].text_content()
        assert "import your library" in prompt and "follow" in prompt and "paste" in prompt
        listed = cards(response)
        assert len(listed) == 50
        assert {kind for _, kind, _ in listed} == {"trending"}
        assert page.xpath("//textarea[@name='abstract']")
    assert login(app, "newcomer").get("/api/me/for-you").json()["coldStart"] is True


def test_a_pasted_abstract_ranks_the_list_and_is_kept_until_forgotten(app):
    abstract = (
        "We predict the three-dimensional structure of proteins from their amino acid sequence "
        "with a deep network, and study how proteins fold into their native state."
    )
    visitor = TestClient(app)
    token = csrf_of(visitor.get("/for-you"))
    shown = visitor.post("/for-you/abstract", data={"csrf_token": token, "abstract": abstract})
    assert shown.status_code == 200
    top = cards(shown)[:5]
    assert all(i in PROTEINS for i, _, _ in top), top
    assert all(text == "Close to the abstract you pasted" for _, _, text in top)
    too_short = visitor.post(
        "/for-you/abstract", data={"csrf_token": token, "abstract": "proteins"}
    )
    assert too_short.status_code == 400 and "at least 40 characters" in too_short.text

    client = login(app, "newcomer")
    token = csrf_of(client.get("/for-you"))
    kept = client.post("/for-you/abstract", data={"csrf_token": token, "abstract": abstract})
    assert kept.status_code == 200  # followed the redirect to the list
    assert [i for i, _, _ in cards(kept)[:5]] == [i for i, _, _ in top]
    profile = client.get("/for-you/profile")
    assert "three-dimensional structure" in profile.text
    client.post("/for-you/abstract/forget", data={"csrf_token": csrf_of(profile)})
    assert client.get("/api/me/for-you").json()["coldStart"] is True


def test_starting_over_forgets_upvotes_and_marks(app, catalog):
    client = login(app)
    page = client.get("/for-you")
    client.post(f"/papers/{GRASP}/not-interested", data={"csrf_token": csrf_of(page)})
    profile = client.get("/for-you/profile")
    assert "Spatial RoboGrasp" in profile.text and "Papers it learns from (8)" in profile.text
    client.post("/for-you/start-over", data={"csrf_token": csrf_of(profile)})
    data = client.get("/api/me/for-you").json()
    assert data["coldStart"] is True
    assert "Papers it learns from (0)" in client.get("/for-you/profile").text
    with catalog.connect() as conn:  # the upvotes themselves stay
        from dailypapers.storage.foryou import upvoted_papers

        assert len(upvoted_papers(conn, find_user(conn, "ada").id, None, 100)) == 8


def test_the_command_line_prints_the_pages_list(app, catalog, monkeypatch):
    page = cards(login(app).get("/for-you"))
    url = catalog.engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    monkeypatch.setenv("DAILYPAPERS_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["recommend", "--user", "ada", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [p["id"] for p in data["papers"]] == [c[0] for c in page]
    assert all(p["why"]["kind"] == "paper" and p["why"]["paper"] in LIBRARY for p in data["papers"])
    shorter = CliRunner().invoke(
        cli,
        [
            "recommend",
            "--user",
            "ada",
            "--json",
            "--limit",
            "3",
            "--since",
            "2026-03-05",
            "--until",
            "2026-03-08",
        ],
    )
    assert shorter.exit_code == 0, shorter.output
    short = json.loads(shorter.output)
    assert (short["since"], short["until"], len(short["papers"])) == ("2026-03-05", "2026-03-08", 3)
    wrong = CliRunner().invoke(cli, ["recommend", "--user", "nobody", "--json"])
    assert wrong.exit_code == 2 and "no account 'nobody'" in wrong.output
    backwards = CliRunner().invoke(
        cli, ["recommend", "--user", "ada", "--since", "2026-03-08", "--until", "2026-03-01"]
    )
    assert backwards.exit_code == 2 and "after --until" in backwards.output


def test_the_json_api_needs_a_reader_and_checks_its_parameters(app):
    anonymous = TestClient(app).get("/api/me/for-you")
    assert anonymous.status_code == 401 and "error" in anonymous.json()
    client = login(app)
    assert client.get("/api/me/for-you?limit=0").status_code == 400
    assert client.get("/api/me/for-you?since=yesterday").status_code == 400
    data = client.get("/api/me/for-you?limit=2").json()
    assert len(data["papers"]) == 2 and set(data) == {
        "since",
        "until",
        "candidates",
        "coldStart",
        "demoted",
        "interests",
        "papers",
    }


def test_the_window_is_prepared_again_when_its_papers_change(catalog, vectors, embedder):
    config = load_config(environ={})
    with catalog.connect() as conn:
        ada = find_user(conn, "ada")
    first = foryou.for_you(catalog, config, ada, NOW)
    extra = PaperRecord(
        "2603.90002",
        "Robotic grasping with tactile sensing",
        "A robot hand grasps objects using touch sensors and vision to manipulate them.",
        "s",
        categories=["cs.RO"],
        published_at=datetime(2026, 3, 8),
    )
    with catalog.begin() as conn:
        write_papers(conn, [extra])
        save_vectors(
            conn,
            embedder.name,
            [(extra.arxiv_id, 1, embedder.embed([paper_text(extra.title, extra.abstract)])[0])],
        )
    second = foryou.for_you(catalog, config, ada, NOW)
    assert second.candidates == first.candidates + 1
    assert "2603.90002" in [i.paper.arxiv_id for i in second.items]
    assert np.isfinite([i.score for i in second.items]).all()


ASTRO = [p["id"] for p in PAPERS if p["categories"].startswith("astro-ph.GA")]
BERT = "1810.04805"
JAMMING = PROTEINS[11]  # Protein folding as a jamming transition


def reader(store, username):
    with store.connect() as conn:
        return find_user(conn, username)


def test_a_reader_with_only_a_library_gets_papers_close_to_it(app, catalog):
    bea = reader(catalog, "bea")
    for arxiv_id in PROTEINS[:3]:
        save(catalog, bea, arxiv_id, NOW)
    with catalog.begin() as conn:  # one came with an import
        add_items(conn, bea.id, [(PROTEINS[3], datetime(2026, 3, 9), IMPORTED, None)])
    library = set(PROTEINS[:4])
    client = login(app, "bea")
    response = client.get("/for-you")
    listed = cards(response)
    page = html.fromstring(response.text)
    assert not page.xpath("//section[@id='cold-start']")
    top = [i for i, _, _ in listed[:5]]
    assert top[0] in PROTEINS and sum(i in PROTEINS for i in top) >= 3, top
    titles = {p["id"]: " ".join(p["title"].split()) for p in PAPERS}
    for arxiv_id, kind, text in listed:
        assert kind == "paper", (arxiv_id, text)
        closest = page.xpath(f"//article[@id='paper-{arxiv_id}']//a[@class='closest']/@href")[0]
        closest = closest.removeprefix("/papers/")
        assert closest in library and arxiv_id not in library
        how = "imported" if closest == PROTEINS[3] else "saved"
        assert text == f"Because you {how} {titles[closest]}", text
    assert {t.split(" ")[2] for _, _, t in listed} == {"saved", "imported"}
    data = client.get("/api/me/for-you").json()
    assert [p["id"] for p in data["papers"]] == [i for i, _, _ in listed]
    assert sorted(i for g in data["interests"] for i in g["papers"]) == sorted(library)
    profile = html.fromstring(client.get("/for-you/profile").text)
    chips = profile.xpath("//ul[@class='signals']/li/span[@class='chip']/text()")
    assert sorted(chips) == ["imported", "saved", "saved", "saved"]
    assert "Papers it learns from (4)" in profile.text_content()


def test_a_reader_with_only_follows_gets_the_followed_papers_labelled(app, catalog):
    cy = reader(catalog, "cy")
    config = load_config(environ={})
    follow(catalog, config, cy, "category", "astro-ph.ga")  # spelled as the catalog does
    follow(catalog, config, cy, "author", "Jacob Devlin")
    follow(catalog, config, cy, "search", "jamming")
    client = login(app, "cy")
    response = client.get("/for-you")
    page = html.fromstring(response.text)
    assert not page.xpath("//section[@id='cold-start']")
    listed = cards(response)
    labelled = {i: text for i, kind, text in listed if kind == "follow"}
    assert set(labelled) == {*ASTRO, BERT, JAMMING}
    assert [i for i, _, _ in listed[: len(labelled)]] == list(labelled)  # follows first
    assert all(labelled[i] == "You follow astro-ph.GA" for i in ASTRO)
    assert labelled[BERT] == "You follow author: Jacob Devlin"
    assert labelled[JAMMING] == "You follow search: jamming"
    assert {kind for _, kind, _ in listed[len(labelled) :]} == {"trending"}
    data = client.get("/api/me/for-you").json()
    whys = {p["id"]: p["why"] for p in data["papers"]}
    assert whys[BERT] == {"kind": "follow", "follows": ["author: Jacob Devlin"]}
    assert not data["coldStart"]
    profile = html.fromstring(client.get("/for-you/profile").text)
    follows = [
        " ".join(li.text_content().split()) for li in profile.xpath("//ul[@class='follows']/li")
    ]
    assert follows == ["category astro-ph.GA", "author Jacob Devlin", "search jamming"]
    assert profile.xpath("//a[@href='/settings/follows']")


def test_follows_take_a_share_beside_the_papers_a_reader_upvoted(catalog):
    ada = reader(catalog, "ada")
    config = load_config(environ={})
    follow(catalog, config, ada, "category", "astro-ph.GA")
    result = foryou.for_you(catalog, config, ada, NOW, limit=20)
    kinds = [item.why.kind for item in result.items]
    # About a quarter of the list (follow_share), the rest close to the upvoted papers.
    assert 3 <= kinds.count("follow") <= len(ASTRO), kinds
    assert kinds.count("paper") == 20 - kinds.count("follow")
    assert all(
        item.why.follows == ("astro-ph.GA",) for item in result.items if item.why.kind == "follow"
    )
    assert "follow" in kinds[:5]  # a share of the top, not only the tail


def test_an_empty_profile_gets_the_cold_start_page_with_its_three_ways(app):
    client = login(app, "newcomer")
    page = html.fromstring(client.get("/for-you").text)
    prompt = page.xpath("//section[@id='cold-start']")[0]
    links = prompt.xpath(".//a/@href")
    assert "/library#import" in links and "/settings/follows" in links
    assert page.xpath("//form[@action='/for-you/abstract']//textarea[@name='abstract']")
    assert len(cards_of(page)) == 50  # never an empty page


def cards_of(page) -> list:
    return page.xpath("//article[contains(@class, 'foryou')]")


def test_my_data_carries_the_marks_the_abstract_and_the_start_over(catalog, embedder):
    """Export, delete, import the export: the not-interested marks (with their dates), the
    pasted abstract (embedded again when the list is next ranked) and the start-over moment
    come back, and the list is the same."""
    config = load_config(environ={})
    ada = reader(catalog, "ada")
    foryou.start_over(catalog, ada)
    for arxiv_id in LIBRARY:  # saved after starting over (the start is the real clock's)
        save(catalog, ada, arxiv_id, datetime.now(UTC))
    abstract = "Robots grasp transparent objects from a single depth image and a learned policy."
    foryou.keep_abstract(catalog, config, ada, abstract, embedder)
    for arxiv_id in (GRASP, PROTEINS[5]):
        foryou.dismiss(catalog, ada, arxiv_id)
    listed = [i.paper.arxiv_id for i in foryou.for_you(catalog, config, ada, NOW).items]
    before = userdata.export_all(catalog, ada, "Daily Papers", NOW)
    part = before["for_you"]
    assert [m["arxiv_id"] for m in part["not_interested"]] == [PROTEINS[5], GRASP]
    assert all(m["created_at"].endswith("+00:00") for m in part["not_interested"])
    assert part["abstract"] == abstract and part["started_at"].endswith("+00:00")

    removed = userdata.remove_restorable(catalog, ada)
    assert removed["for_you"] == 3  # two marks and the profile row
    assert foryou.for_you(catalog, config, ada, NOW).cold_start
    record = import_file(catalog, config, ada, json.dumps(before).encode(), "ada.json", None, NOW)
    assert (
        "for you: 2 not-interested marks restored, 0 already marked, 0 not in this catalog; "
        "the pasted abstract restored; started over on " in " ".join(record.notes)
    )
    after = userdata.export_all(catalog, ada, "Daily Papers", NOW)
    assert after["for_you"] == before["for_you"]
    assert after["library"] == before["library"]
    again = foryou.for_you(catalog, config, ada, NOW, embedder=embedder)
    assert [i.paper.arxiv_id for i in again.items] == listed
    assert any(i.why.kind == "paper" and i.why.arxiv_id is None for i in again.items)

    # Importing it once more changes nothing; a broken part refuses the whole file.
    twice = import_file(catalog, config, ada, json.dumps(before).encode(), "a.json", None, NOW)
    assert "for you: 0 not-interested marks restored, 2 already marked" in " ".join(twice.notes)
    broken = {**before, "for_you": {**part, "abstract": "short"}}
    with pytest.raises(BadParameter, match="for_you.abstract: Paste an abstract of at least"):
        import_file(catalog, config, ada, json.dumps(broken).encode(), "b.json", None, NOW)


def digest_papers(message) -> list[tuple[str, str]]:
    """(title, why line) of each paper of a digest's text part."""
    found = re.findall(r"^\d+\. (.+)\n(?:   .+\n)*?   Why: (.+)$", text_of(message), re.M)
    return [(title, why) for title, why in found]


def test_the_digest_has_a_for_you_section_that_never_repeats_a_paper(catalog):
    """Through a real SMTP server: bea's library steers her digest's For you section, each
    paper says which library paper it is close to, and the next day's digest sends the next
    papers of the same ranking, none of the first day's again."""
    bea = reader(catalog, "bea")
    for arxiv_id in PROTEINS[:3]:
        save(catalog, bea, arxiv_id, NOW)
    with catalog.begin() as conn:
        for arxiv_id in ROBOTS[:2]:
            set_vote(conn, bea.id, arxiv_id, True)
    titles = {p["id"]: " ".join(p["title"].split()) for p in PAPERS}
    with SmtpSink() as sink:
        config = make_config(sink)
        ranked = foryou.for_you(catalog, config, bea, NOW, limit=10).items
        assert all(item.why.kind == "paper" for item in ranked)
        subscription = add_active(catalog, "bea@example.org", user_id=bea.id, max_papers=5)
        with catalog.begin() as conn:
            conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.id == subscription)
                .values(sections=json.dumps(["for_you"]))
            )
        for day in (NOW, NOW + timedelta(days=1)):
            run_digests(catalog, config, lambda day=day: day, day=day.date())
        first, second = sink.to("bea@example.org")
    assert "== For you ==" in text_of(first)
    day_one, day_two = digest_papers(first), digest_papers(second)
    # The first day sends the head of the ranking; the next day ranks what is left again
    # (its interests' shares start afresh), so its five are new ones, not a fixed slice.
    assert [title for title, _ in day_one] == [titles[i.paper.arxiv_id] for i in ranked[:5]]
    upvoted = {titles[i] for i in ROBOTS[:2]}
    saved = {titles[i] for i in PROTEINS[:3]}
    sent = day_one + day_two
    for title, why in sent:
        closest = re.fullmatch(
            r"Close to \u201c(.+)\u201d(, which you upvoted| in your library)", why
        )
        assert closest, why
        assert closest[1] in (upvoted if closest[2] == ", which you upvoted" else saved), title
    assert {why.endswith("in your library") for _, why in sent} == {True, False}
    assert len({title for title, _ in sent}) == 10  # no paper twice


def test_the_digest_sends_no_for_you_papers_to_an_empty_profile(catalog):
    cy = reader(catalog, "cy")
    with SmtpSink() as sink:
        config = make_config(sink)
        follow(catalog, config, cy, "category", "astro-ph.GA")  # the Following section's
        subscription = add_active(catalog, "cy@example.org", user_id=cy.id)
        with catalog.begin() as conn:
            conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.id == subscription)
                .values(sections=json.dumps(["for_you"]))
            )
        run_digests(catalog, config, lambda: NOW, day=NOW.date())
        assert sink.to("cy@example.org") == []
    with catalog.connect() as conn:
        status = conn.execute(
            sa.select(digests.c.status).where(digests.c.subscription_id == subscription)
        ).scalar_one()
    assert status == "empty"  # "nothing new"
