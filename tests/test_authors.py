"""Author pages: the grouping of spellings (a table of real arXiv variants and properties), the
`paper_authors` rows every writer keeps (write_papers, the bulk load, migration 0014 for a
catalog that existed) on SQLite and PostgreSQL, and the page and its JSON twin through the real
app: papers newest first and paged, co-authors, categories, hostile names."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html

from dailypapers.config import load_config
from dailypapers.domain.authors import group_spellings, indexed_names
from dailypapers.domain.records import DailyEntry, PaperRecord, VersionRecord
from dailypapers.storage import migrate_store, open_store
from dailypapers.storage.bulk import bulk_load, prepare_paper
from dailypapers.storage.papers import write_papers
from dailypapers.web.app import create_app

from .conftest import fresh_pg_database

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


def paper(arxiv_id: str, day: int, authors: list[str], categories=("cs.LG",), *, month=3):
    moment = datetime(2026, month, day, 10, tzinfo=UTC)
    return PaperRecord(
        arxiv_id,
        f"Paper {arxiv_id}",
        "An abstract.",
        source="oai",
        authors=authors,
        categories=list(categories),
        versions=[VersionRecord(1, moment, 10)],
        latest_version=1,
        published_at=moment,
    )


# --- which spellings are one person ------------------------------------------------------------

# Real variants from arXiv author lists: (asked for, the catalog's spellings, merged, others).
VARIANTS = [
    # case, accents, order, "Jr." and hyphens make no other person
    ("Yann LeCun", ["Yann LeCun", "Yann Le Cun", "YANN LECUN", "LeCun, Yann"], 4, ()),
    ("Bernhard Schölkopf", ["Bernhard Schölkopf", "Bernhard Scholkopf"], 2, ()),
    ("Neal J. Evans II", ["Neal J. Evans II", "Neal J. Evans"], 2, ()),
    ("Chien-Peng Yuan", ["Chien-Peng Yuan", "Chien Peng Yuan"], 1, ()),
    ("José García-Pérez", ["José García-Pérez", "Jose Garcia-Perez"], 2, ()),
    ("Gerard 't Hooft", ["Gerard 't Hooft", "Gerard t Hooft", "Gerard 'T Hooft"], 3, ()),
    # an initial joins the one full name it can stand for
    ("C. Balázs", ["C. Balázs", "Csaba Balázs"], 2, ()),
    ("Csaba Balázs", ["C. Balázs", "Csaba Balázs"], 2, ()),
    # ... and none when two people share it
    ("J. Smith", ["J. Smith", "John Smith", "Jane Smith"], 1, ("Jane Smith", "John Smith")),
    ("John Smith", ["J. Smith", "John Smith", "Jane Smith"], 1, ()),
    # middle names count only where both give one
    ("Geoffrey E. Hinton", ["Geoffrey E. Hinton", "Geoffrey Hinton", "Geoffrey A. Hinton"], 2, ()),
    ("Wei Wang", ["Wei Wang", "Wang Wei"], 1, ()),
    ("The ATLAS Collaboration", ["The ATLAS Collaboration", "ATLAS Collaboration"], 2, ()),
]


@pytest.mark.parametrize(("name", "spellings", "merged", "others"), VARIANTS)
def test_spellings_of_one_person_are_merged_and_others_kept_apart(name, spellings, merged, others):
    group = group_spellings(name, dict.fromkeys(spellings, 1))
    assert name in group.spellings
    assert len(group.spellings) == merged, group.spellings
    assert sorted(group.others) == sorted(others)


def test_an_ambiguous_initial_is_merged_with_neither_full_name():
    counts = {"J. Smith": 4, "John Smith": 3, "Jane Smith": 2, "J. A. Smith": 1}
    assert group_spellings("John Smith", counts).spellings == ("John Smith",)
    assert group_spellings("Jane Smith", counts).spellings == ("Jane Smith",)
    initial = group_spellings("J. Smith", counts)
    assert initial.spellings == ("J. Smith", "J. A. Smith")
    assert initial.others == ("John Smith", "Jane Smith")


names = st.text(st.characters(categories=("L",)), min_size=2, max_size=10)


@settings(max_examples=200, deadline=None)
@given(names, names, st.sampled_from(["upper", "lower", "comma", "plain"]))
def test_a_full_name_always_takes_its_own_case_and_order_variants(given_name, surname, variant):
    name = f"{given_name} {surname}"
    other = {
        "upper": name.upper(),
        "lower": name.lower(),
        "comma": f"{surname}, {given_name}",
        "plain": name,
    }[variant]
    group = group_spellings(name, {name: 2, other: 1})
    assert name in group.spellings
    # Upper-casing may change the letters themselves (ß -> SS, a dotless i): only a variant
    # that lowercases back to the name is surely the same spelling.
    if variant in ("comma", "plain") or other.lower() == name.lower():
        assert other in group.spellings


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), max_size=6))
def test_indexed_names_keep_positions_and_skip_names_without_letters(authors):
    rows = indexed_names(authors)
    assert [row.position for row in rows] == sorted({row.position for row in rows})
    for position, name, surname, initial in rows:
        assert authors[position] == name and surname and len(surname) <= 200
        assert len(initial) <= 1


# --- the rows every writer keeps ------------------------------------------------------------


def stored_rows(store) -> list[tuple]:
    with store.connect() as conn:
        query = "SELECT arxiv_id, position, name, surname FROM paper_authors ORDER BY 1, 2"
        return [tuple(row) for row in conn.execute(sa.text(query))]


def test_write_papers_keeps_author_rows_with_each_change(store):
    with store.begin() as conn:
        write_papers(conn, [paper("2603.00001", 1, ["Yann LeCun", "Ada Lovelace"])])
    assert stored_rows(store) == [
        ("2603.00001", 0, "Yann LeCun", "lecun"),
        ("2603.00001", 1, "Ada Lovelace", "lovelace"),
    ]
    update = paper("2603.00001", 1, ["Ada Lovelace", "...", "Y. Le Cun"])
    update.versions.append(VersionRecord(2, datetime(2026, 3, 2, tzinfo=UTC), 10))
    with store.begin() as conn:
        assert write_papers(conn, [update]).updated == 1
    assert stored_rows(store) == [
        ("2603.00001", 0, "Ada Lovelace", "lovelace"),
        ("2603.00001", 2, "Y. Le Cun", "lecun"),
    ]


def test_a_bulk_load_writes_the_rows_write_papers_would(store):
    records = [paper("2603.00001", 1, ["Yann LeCun", "Ada Lovelace"]), paper("2603.00002", 2, [])]
    with bulk_load(store) as write:
        assert write([prepare_paper(r, store.dialect) for r in records]).new == 2
    assert stored_rows(store) == [
        ("2603.00001", 0, "Yann LeCun", "lecun"),
        ("2603.00001", 1, "Ada Lovelace", "lovelace"),
    ]
    with store.connect() as conn:  # the index the load dropped is back
        assert _has_surname_index(conn)


def _has_surname_index(conn) -> bool:
    return "ix_paper_authors_surname" in {
        index["name"] for index in sa.inspect(conn).get_indexes("paper_authors")
    }


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migration_0014_fills_the_rows_of_an_existing_catalog(dialect, tmp_path, request):
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = fresh_pg_database(request.getfixturevalue("pg_server"))
    store = open_store(url, migrate=False)
    migrate_store(store, "0013")
    stamp = datetime(2026, 3, 1)
    with store.begin() as conn:
        for number, authors in [("2603.00001", ["Yann LeCun", "Ada Lovelace"]), ("2603.00002", [])]:
            conn.execute(
                sa.text(
                    "INSERT INTO papers (arxiv_id, title, abstract, authors, categories, dois,"
                    " github_repos, project_pages, has_code, withdrawn, hidden, source,"
                    " source_rank, created_at, modified_at) VALUES (:id, 't', 'a', :authors,"
                    " '[]', '[]', '[]', '[]', false, false, false, 'oai', 1, :at, :at)"
                ),
                {"id": number, "authors": json.dumps(authors), "at": stamp},
            )
    migrate_store(store)
    assert stored_rows(store) == [
        ("2603.00001", 0, "Yann LeCun", "lecun"),
        ("2603.00001", 1, "Ada Lovelace", "lovelace"),
    ]
    with store.connect() as conn:
        assert _has_surname_index(conn)
    store.engine.dispose()


# --- the page and its JSON twin ----------------------------------------------------------------

CATALOG = [
    paper("2603.00001", 1, ["Yann LeCun", "Ada Lovelace"], ["cs.LG", "cs.CV"]),
    paper("2603.00002", 2, ["Y. Le Cun", "Léon Bottou"], ["cs.LG"]),
    paper("2603.00003", 3, ["YANN LECUN", "Ada Lovelace", "<script>alert(1)</script> Evil"]),
    paper("2603.00004", 4, ["J. Smith", "John Smith"], ["math.CO"]),
    paper("2603.00005", 5, ["Jane Smith"], ["math.CO"]),
    paper("2603.00006", 6, ["AC/DC Band/Member", "Ada Lovelace"], ["cs.SD"]),
]


@pytest.fixture
def client(store, tmp_path):
    with store.begin() as conn:
        write_papers(conn, CATALOG)
    environ = {"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    app = create_app(load_config(environ=environ, env_file=None), store)
    app.state.site.clock = lambda: NOW
    return TestClient(app, raise_server_exceptions=False)


def test_the_author_page_lists_merged_spellings_papers_coauthors_and_categories(client):
    page = client.get("/authors/Yann%20LeCun")
    assert page.status_code == 200
    tree = html.fromstring(page.text)
    assert tree.xpath("//h1/text()") == ["Yann LeCun"]
    titles = tree.xpath("//article//h2/a/text()")
    assert titles == ["Paper 2603.00003", "Paper 2603.00002", "Paper 2603.00001"]  # newest first
    spellings = tree.xpath("//*[@class='spellings']//span[@class='spelling']/text()")
    assert sorted(spellings) == ["Y. Le Cun", "YANN LECUN", "Yann LeCun"]
    coauthors = tree.xpath("//ul[@class='coauthors']/li/a/@href")
    assert coauthors[0] == "/authors/Ada%20Lovelace"  # two papers together, the most
    assert "/authors/L%C3%A9on%20Bottou" in coauthors
    assert tree.xpath("//link[@rel='alternate']/@href") == ["/api/authors/Yann%20LeCun"]
    follow = tree.xpath("//div[@class='tools']/a[contains(@class,'follow-toggle')]/@href")
    assert follow == ["/follows/new?kind=author&value=Yann+LeCun"]  # a visitor is asked to log in


def test_the_json_twin_has_the_whole_shape(client):
    body = client.get("/api/authors/Ada%20Lovelace", params={"limit": "2"}).json()
    assert [p["paper"]["id"] for p in body.pop("papers")] == ["2603.00006", "2603.00003"]
    assert body == {
        "name": "Ada Lovelace",
        "spellings": [{"name": "Ada Lovelace", "papers": 3}],
        "otherPeople": [],
        "total": 3,
        "page": 1,
        "pageSize": 2,
        "coauthors": [  # Yann LeCun and YANN LECUN are one co-author
            {"name": "Yann LeCun", "papers": 2, "url": "/authors/Yann%20LeCun"},
            {
                "name": "<script>alert(1)</script> Evil",
                "papers": 1,
                "url": "/authors/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%20Evil",
            },
            {"name": "AC/DC Band/Member", "papers": 1, "url": "/authors/AC%2FDC%20Band%2FMember"},
        ],
        "categories": [
            {"category": "cs.LG", "papers": 2},
            {"category": "cs.CV", "papers": 1},
            {"category": "cs.SD", "papers": 1},
        ],
    }
    second = client.get("/api/authors/Ada%20Lovelace", params={"limit": "2", "page": "2"})
    assert [p["paper"]["id"] for p in second.json()["papers"]] == ["2603.00001"]


def test_an_initial_two_people_share_is_kept_apart_and_says_so(client):
    tree = html.fromstring(client.get("/authors/J.%20Smith").text)
    assert tree.xpath("//article//h2/a/text()") == ["Paper 2603.00004"]
    others = tree.xpath("//p[@class='others']/a/@href")
    assert sorted(others) == ["/authors/Jane%20Smith", "/authors/John%20Smith"]


def test_hostile_names_are_escaped_and_routable_or_a_clear_404(client):
    paper_page = client.get("/papers/2603.00003")
    assert "<script>alert(1)</script>" not in paper_page.text
    tree = html.fromstring(paper_page.text)
    hrefs = tree.xpath("//*[contains(@class,'authors')]//a[@class='author']/@href")
    evil = "/authors/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%20Evil"
    assert evil in hrefs
    page = client.get(evil)
    assert page.status_code == 200 and "<script>alert(1)</script>" not in page.text
    assert html.fromstring(page.text).xpath("//h1/text()") == ["<script>alert(1)</script> Evil"]
    slashed = client.get("/authors/AC%2FDC%20Band%2FMember")
    assert slashed.status_code == 200
    assert html.fromstring(slashed.text).xpath("//article//h2/a/text()") == ["Paper 2603.00006"]
    for path, status, message in [
        ("/api/authors/..%2F..", 404, "a name needs letters"),
        ("/api/authors/Nobody%20Here", 404, "No paper of this catalog has an author named"),
        ("/api/authors/" + "a" * 301, 400, "at most 300 characters"),
        ("/api/authors/Ada%20Lovelace?page=0", 400, "page must be"),
    ]:
        answer = client.get(path)
        assert answer.status_code == status, path
        assert message in answer.json()["error"], path
    assert client.get("/authors/..%2F..%2Fetc").status_code == 404


def test_cards_link_author_names_to_their_pages(client, store):
    listed = paper("2603.00007", 7, ["Ada Lovelace", "Grace Hopper"])
    listed.daily = DailyEntry(day=date(2026, 3, 7), upvotes=1)
    with store.begin() as conn:
        write_papers(conn, [listed])
    tree = html.fromstring(client.get("/papers/date/2026-03-07").text)
    card = tree.xpath("//article[@id='paper-2603.00007']")[0]
    assert card.xpath(".//a[@class='author']/@href") == [
        "/authors/Ada%20Lovelace",
        "/authors/Grace%20Hopper",
    ]
