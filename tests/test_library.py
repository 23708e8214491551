"""The library end to end on SQLite and PostgreSQL: saving from cards and paper pages (form
and JSON), /library with search and paging, imports of the hand-made Zotero, JabRef and
Mendeley exports (papers the catalog lacks fetched from a local server serving real arXiv API
payloads, in the background), malformed and huge files, exports read back, "export all my
data" restored, the CLI, and library items following a local paper into its arXiv twin."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import bibtexparser
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from lxml import etree, html

from dailypapers.cli import cli
from dailypapers.domain.library import Candidate, Reference, choose_by_title
from dailypapers.domain.records import PaperRecord
from dailypapers.ingest.arxiv_bulk import iter_snapshot
from dailypapers.ingest.arxiv_oai import parse_oai_page
from dailypapers.ingest.demo import DEMO_DIR, iter_seed_papers
from dailypapers.ingest.references import read_references
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.services import community, follows, library, userdata
from dailypapers.storage.daily import voted_papers
from dailypapers.storage.library import claim_import, get_import, item_rows, saved_among
from dailypapers.storage.papers import write_papers
from dailypapers.storage.users import create_user, find_user

from .conftest import DATA, DEMO
from .httpfixture import PayloadServer, Reply
from .test_people import csrf_of, make_app, session
from .test_twins import HUMO, HUMO_ARXIV, SOFT, SOFT_ARXIV, arxiv_records, seed_records

HUMO_TITLE = "HuMo: Human-Centric Video Generation via Collaborative Multi-Modal Conditioning"

LIBRARY = DATA / "library"
API = DEMO / "api"
# Real query-API answers for papers the test catalog lacks; any other id is unknown to arXiv.
PAYLOADS = {
    "2104.12255": API / "2026_id_list_2104.12255v1_versioned.xml",
    "quant-ph/0201082": API / "2026_id_list_quant-ph-0201082v1_versioned.xml",
    "astro-ph/0601001": API / "2026_id_list_astro-ph-0601001_affiliations.xml",
}
EMPTY = (API / "2026_id_list_0000.0000_zero-results.xml").read_bytes()
ATOM = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2024, 7, 25, 12, tzinfo=UTC)


def arxiv_answer(_path, params):
    """arXiv's answer to an id_list: the entries of the saved payloads of the ids asked for,
    in one feed (as arXiv answers several ids), with the count it would give."""
    feed = etree.fromstring(EMPTY)
    found = 0
    for arxiv_id in params.get("id_list", "").split(","):
        if arxiv_id in PAYLOADS:
            saved = etree.fromstring(PAYLOADS[arxiv_id].read_bytes())
            for entry in saved.iter(f"{ATOM}entry"):
                feed.append(entry)
                found += 1
    feed.find("{http://a9.com/-/spec/opensearch/1.1/}totalResults").text = str(found)
    return Reply(etree.tostring(feed, xml_declaration=True, encoding="UTF-8"))


_RECORDS: list[PaperRecord] = []


def catalog_records() -> list[PaperRecord]:
    """The demo's seed page, OAI pages and snapshot sample: 517 papers, none of the query
    API's (those are the ones to fetch)."""
    if not _RECORDS:
        _RECORDS.extend(
            r for r in iter_seed_papers(DEMO_DIR / "seed-papers.json") if isinstance(r, PaperRecord)
        )
        for path in sorted((DEMO_DIR / "oai").glob("*.xml")):
            _RECORDS.extend(parse_oai_page(path.read_bytes(), path.name).records)
        with open(DEMO_DIR / "arxiv-metadata-oai-snapshot.sample.jsonl", "rb") as lines:
            _RECORDS.extend(r for r in iter_snapshot(lines, "sample") if isinstance(r, PaperRecord))
    return _RECORDS


def load_catalog(store):
    for start in range(0, len(catalog_records()), 500):
        with store.begin() as conn:
            write_papers(conn, catalog_records()[start : start + 500])


@pytest.fixture
def arxiv():
    with PayloadServer(arxiv_answer) as server:
        yield server


@pytest.fixture
def site(store, arxiv, tmp_path):
    load_catalog(store)
    return make_app(
        store,
        data_dir=tmp_path,
        page_cache_seconds=0,
        arxiv_api_endpoint=arxiv.url + "/api/query",
        request_delay=0,
        http_retries=0,
        rate_library="1000/minute",
        rate_library_import="1000/hour",
        rate_signup="1000/hour",
    )


def token(client) -> str:
    return csrf_of(client.get("/library"))


def upload(client, name, data=None, fmt=""):
    data = (LIBRARY / name).read_bytes() if data is None else data
    return client.post(
        "/library/import",
        data={"csrf_token": token(client), "format": fmt},
        files={"file": (name, data, "application/octet-stream")},
        follow_redirects=False,
    )


def finished(client, location, timeout=60):
    """The import's report once the background fetcher has settled it."""
    import_id = int(location.rsplit("/", 1)[1])
    deadline = time.monotonic() + timeout
    while True:
        report = client.get(f"/api/me/library/imports/{import_id}").json()
        if report["status"] == "done":
            return report
        assert time.monotonic() < deadline, "the import never finished"
        time.sleep(0.1)


def library_ids(client, q=""):
    return [item["id"] for item in client.get("/api/me/library", params={"q": q}).json()["items"]]


def outcomes(report):
    return [
        (o["position"], o["status"], o["arxivId"], o["by"] or o["reason"])
        for o in report["outcomes"]
    ]


def listed_paper(client) -> str:
    """The first card of the latest daily list (a seed paper)."""
    tree = html.fromstring(client.get("/papers").text)
    return tree.xpath("//article[contains(@class,'card')]/@id")[0].removeprefix("paper-")


def test_saving_from_cards_and_paper_pages(site, store):
    anonymous = TestClient(site)
    paper = listed_paper(anonymous)
    tree = html.fromstring(anonymous.get("/papers").text)
    assert tree.xpath(f"//article[@id='paper-{paper}']//a[@class='save']/@href") == [
        f"/login?next=/papers/{paper}"
    ]
    assert (
        anonymous.get("/library", follow_redirects=False).headers["location"]
        == "/login?next=/library"
    )
    assert anonymous.get("/api/me/library").status_code == 401

    ada = session(site, "ada")
    assert "Library" in [
        a.text_content() for a in html.fromstring(ada.get("/papers").text).xpath("//nav//a")
    ]
    assert (
        ada.post(f"/papers/{paper}/library", data={"action": "save"}).status_code == 403
    )  # no CSRF
    saved = ada.post(
        f"/papers/{paper}/library",
        data={"csrf_token": token(ada), "action": "save"},
        headers={"referer": "http://testserver/papers"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/papers"
    card = html.fromstring(ada.get("/papers").text).xpath(f"//article[@id='paper-{paper}']")[0]
    [form] = card.xpath(".//form[contains(@class,'library')]")
    assert "saved" in form.get("class") and form.xpath(".//input[@name='action']/@value") == [
        "remove"
    ]
    page = html.fromstring(ada.get(f"/papers/{paper}").text)
    assert page.xpath(
        "//div[@class='actions']//form[contains(@class,'saved')]//span[@class='label']/text()"
    ) == ["Saved"]

    # the JSON twins, with the CSRF header
    headers = {"X-CSRF-Token": token(ada)}
    created = ada.post("/api/me/library", json={"paper_id": "arXiv:1010.0302v2"}, headers=headers)
    assert created.status_code == 201
    assert created.json() == {
        "id": "1010.0302",
        "saved": True,
        "addedAt": "2024-07-25T12:00:00.000Z",
        "how": "saved",
    }
    again = ada.post("/api/me/library", json={"paper_id": "1010.0302"}, headers=headers)
    assert again.status_code == 200 and again.json()["saved"] is True
    assert (
        ada.post("/api/me/library", json={"paper_id": "2407.99999"}, headers=headers).status_code
        == 404
    )
    assert ada.post("/api/me/library", json={"paper": "x"}, headers=headers).status_code == 400
    assert ada.post("/api/me/library", json={"paper_id": "1010.0302"}).status_code == 403
    listing = ada.get("/api/me/library").json()
    assert listing["total"] == 2 and {i["id"] for i in listing["items"]} == {paper, "1010.0302"}
    removed = ada.delete("/api/me/library/1010.0302", headers=headers)
    assert removed.json() == {"id": "1010.0302", "saved": False, "addedAt": None, "how": None}
    assert ada.delete("/api/me/library/1010.0302", headers=headers).status_code == 200  # idempotent

    # another reader sees none of it
    bob = session(site, "bob")
    assert bob.get("/api/me/library").json()["total"] == 0
    bob_card = html.fromstring(bob.get("/papers").text).xpath(f"//article[@id='paper-{paper}']")[0]
    assert "saved" not in bob_card.xpath(".//form[contains(@class,'library')]/@class")[0]

    ada.post(f"/papers/{paper}/library", data={"csrf_token": token(ada), "action": "remove"})
    assert library_ids(ada) == []


def test_the_library_page_pages_and_searches_newest_first(site, store):
    ada_client = session(site, "ada")
    with store.connect() as conn:
        ada = find_user(conn, "ada")
    ids = [r.arxiv_id for r in catalog_records() if not r.arxiv_id.startswith("local-")][:55]
    for minutes, arxiv_id in enumerate(ids):
        library.save(store, ada, arxiv_id, NOW + timedelta(minutes=minutes))
    first = ada_client.get("/api/me/library").json()
    assert (first["total"], first["pages"], len(first["items"])) == (55, 2, 50)
    assert [i["id"] for i in first["items"]] == ids[::-1][:50]  # newest first
    second = ada_client.get("/api/me/library", params={"page": "2"}).json()
    assert [i["id"] for i in second["items"]] == ids[::-1][50:]
    assert ada_client.get("/api/me/library", params={"page": "x"}).status_code == 400
    # two saves within one second keep their order (the older-published paper saved last)
    bob_client = session(site, "bob")
    with store.connect() as conn:
        bob = find_user(conn, "bob")
    published = {r.arxiv_id: r.published_at for r in catalog_records()}
    by_date = sorted((i for i in ids if published[i]), key=lambda i: published[i])[::20][:2]
    assert published[by_date[0]] < published[by_date[1]]
    library.save(store, bob, by_date[1], NOW + timedelta(microseconds=1000))
    library.save(store, bob, by_date[0], NOW + timedelta(microseconds=2000))
    assert library_ids(bob_client) == [by_date[0], by_date[1]]

    page = html.fromstring(ada_client.get("/library").text)
    assert len(page.xpath("//div[contains(@class,'library')]/article")) == 50
    assert page.xpath("//a[@rel='next']/@href") == ["/library?page=2"]
    assert set(page.xpath("//div[@class='tools']/a/@href")) >= {
        "/library/export.bib",
        "/library/export.csl.json",
        "/settings/export.json",
    }
    # the search: words over title, abstract and authors, and the query language's filters
    titled = {r.arxiv_id: r for r in catalog_records()}
    some = ids[7]
    word = max(titled[some].title.split(), key=len).strip(":,.").lower()
    expected = [
        i
        for i in ids[::-1]
        if word in (titled[i].title + titled[i].abstract + " ".join(titled[i].authors)).lower()
    ]
    assert some in expected and library_ids(ada_client, word) == expected
    author = titled[some].authors[0].split()[-1]
    assert some in library_ids(ada_client, f"author:{author}")
    assert library_ids(ada_client, f"id:{some}") == [some]
    assert library_ids(ada_client, f"{word} -{word}") == []
    searched = html.fromstring(ada_client.get("/library", params={"q": word}).text)
    assert searched.xpath("//form[@class='filters']//input[@name='q']/@value") == [word]
    assert len(searched.xpath("//div[contains(@class,'library')]/article")) == len(expected)


def test_imports_match_fetch_in_the_background_and_report(site, store, arxiv):
    ada = session(site, "ada")
    release = threading.Event()
    arxiv.handler = lambda path, params: (release.wait(30), arxiv_answer(path, params))[1]
    started = upload(ada, "zotero.bib")
    assert started.status_code == 303
    page = html.fromstring(ada.get(started.headers["location"]).text)
    assert page.xpath("//p[@class='import-status']/@data-status") == ["fetching"]
    assert "Fetching 3 papers from arXiv" in page.text_content()
    assert page.xpath("//meta[@http-equiv='refresh']/@content") == ["5"]
    # the matched papers are in the library while arXiv is asked for the others
    assert set(library_ids(ada)) == {"1204.3980", "1412.6776"}
    release.set()
    report = finished(ada, started.headers["location"])
    assert outcomes(report) == [
        ("line 2", "fetched", "2104.12255", None),
        ("line 17", "matched", "1204.3980", "DOI"),
        ("line 33", "matched", "1412.6776", "title"),
        ("line 42", "unmatched", None, "no arXiv id, DOI or title found in this catalog"),
        ("line 58", "fetched", "quant-ph/0201082", None),
        ("line 71", "unmatched", "2407.20001", "arXiv has no paper with this id"),
    ]
    assert report["counts"] == {"matched": 2, "fetched": 2, "pending": 0, "unmatched": 2}
    assert set(library_ids(ada)) == {"1204.3980", "1412.6776", "2104.12255", "quant-ph/0201082"}
    done = html.fromstring(ada.get(started.headers["location"]).text)
    assert done.xpath("//p[@class='import-status']/@data-status") == ["done"]
    assert not done.xpath("//meta[@http-equiv='refresh']")
    reasons = done.xpath("//section[contains(@class,'unmatched')]//tbody/tr/td[3]/text()")
    assert reasons == [
        "no arXiv id, DOI or title found in this catalog",
        "arXiv has no paper with this id",
    ]
    [request] = [r for r in arxiv.requests if "quant-ph/0201082" in r.params["id_list"]]
    assert request.params["id_list"] == "2104.12255,quant-ph/0201082,2407.20001"  # one batch

    # every other format, one reader each; old-style ids, duplicates and papers kept already
    expected = {
        "jabref.bib": [
            ("line 5", "matched", "1210.8059", "arXiv id"),
            ("line 23", "matched", "0704.0033", "DOI"),
            ("line 36", "matched", "1506.03784", "title"),
            ("line 44", "unmatched", None, "no arXiv id, DOI or title found in this catalog"),
            ("line 52", "matched", "0704.0001", "DOI"),
            ("line 62", "unmatched", "2407.20001", "arXiv has no paper with this id"),
        ],
        "mendeley.bib": [
            ("line 6", "matched", "1602.02264", "arXiv id"),
            ("line 19", "matched", "1606.07059", "arXiv id"),
            ("line 27", "matched", "1604.05538", "DOI"),
            ("line 39", "matched", "1606.00515", "title"),
            ("line 46", "matched", "1602.02264", "arXiv id"),
        ],
        "zotero.ris": [
            ("line 1", "matched", "1204.3980", "arXiv id"),
            ("line 20", "matched", "1010.4181", "DOI"),
            ("line 41", "matched", "2104.12255", "arXiv id"),  # fetched by the first import
            ("line 53", "unmatched", None, "no arXiv id, DOI or title found in this catalog"),
        ],
        "mendeley.ris": [
            ("line 1", "matched", "1602.00882", "DOI"),
            ("line 14", "matched", "1012.0650", "arXiv id"),
            ("line 21", "matched", "1506.05664", "title"),
        ],
        "zotero.json": [
            (
                "entry 1 (http://zotero.org/users/8412001/items/7Q2ZJ8XK)",
                "matched",
                "1210.8059",
                "arXiv id",
            ),
            (
                "entry 2 (http://zotero.org/users/8412001/items/B4M2TQ9E)",
                "matched",
                "1010.0302",
                "DOI",
            ),
            (
                "entry 3 (http://zotero.org/users/8412001/items/LQ3X7N2C)",
                "unmatched",
                None,
                "no arXiv id, DOI or title found in this catalog",
            ),
            (
                "entry 4 (http://zotero.org/users/8412001/items/ZK8E2V1A)",
                "fetched",
                "astro-ph/0601001",
                None,
            ),
            (
                "entry 5 (http://zotero.org/users/8412001/items/H7W5P3RD)",
                "matched",
                "1012.0650",
                "title",
            ),
        ],
        "reading-list.txt": [
            ("line 2", "matched", "1602.02264", "arXiv id"),
            ("line 3", "matched", "1210.8059", "arXiv id"),
            ("line 5", "matched", "quant-ph/0201082", "arXiv id"),
            ("line 6", "matched", "2104.12255", "arXiv id"),
            ("line 7", "matched", "1010.0302", "arXiv id"),
            ("line 8", "unmatched", "hep-th/9901001", "arXiv has no paper with this id"),
        ],
    }
    for index, (name, rows) in enumerate(expected.items()):
        reader = session(site, f"reader{index}")
        answer = upload(reader, name)
        assert answer.status_code == 303, (name, answer.text[:300])
        report = finished(reader, answer.headers["location"])
        assert outcomes(report) == rows, name
        kept = {row[2] for row in rows if row[1] in ("matched", "fetched")}
        assert set(library_ids(reader)) == kept, name
    # a file imported twice adds nothing the second time, and says so
    again = finished(ada, upload(ada, "zotero.bib").headers["location"])
    assert [o["already"] for o in again["outcomes"] if o["status"] != "unmatched"] == [True] * 4
    assert len(library_ids(ada)) == 4
    # imports are their owner's alone
    assert session(site, "eve").get(started.headers["location"]).status_code == 404
    assert (
        session(site, "mallory").get(f"/api/me/library/imports/{report['id']}").status_code == 404
    )


def test_broken_and_huge_files_change_nothing(site, store):
    ada = session(site, "ada")
    for name, message in [
        ("malformed.bib", "line 8 (&#39;@article{broken2016,&#39;): Unexpected block start"),
        ("malformed.ris", "line 7: the record that starts here has no &#39;ER  - &#39; line"),
        ("malformed.json", "line 7, column 2: the JSON is malformed"),
    ]:
        refused = upload(ada, name)
        assert refused.status_code == 400 and message in refused.text, name
    # 10 MiB and one byte: refused whole, with the limit in the message
    huge = upload(ada, "huge.bib", b"%" * (10 * 1024 * 1024 + 1))
    assert huge.status_code == 413
    assert "larger than the 10 MiB an import may be" in html.fromstring(huge.text).text_content()
    over = "".join(f"{2301 + i // 90_000}.{10_000 + i % 90_000}\n" for i in range(20_001))
    many = upload(ada, "ids.txt", over.encode())
    assert many.status_code == 413 and "holds 20,001 entries" in many.text
    assert upload(ada, "empty.bib", b"").status_code == 303  # nothing in it: an empty report
    with store.connect() as conn:
        user = find_user(conn, "ada")
        assert item_rows(conn, user.id) == []
    assert len(library.library_page(store, user, "", 1).imports) == 1


def test_the_body_cap_follows_the_setting(store, arxiv, tmp_path):
    small = make_app(
        store,
        data_dir=tmp_path,
        arxiv_api_endpoint=arxiv.url,
        library_import_max_bytes=1000,
        rate_library_import="2/hour",
    )
    ada = session(small, "ada")
    refused = upload(ada, "big.txt", b"2301.12345\n" * 100)  # 1,100 bytes
    assert refused.status_code == 413 and "larger than the 1,000 bytes" in refused.text
    past_the_guard = upload(ada, "bigger.txt", b"2301.12345\n" * 7000)  # past 1000 + 64 KiB
    assert (
        past_the_guard.status_code == 413 and "The body is over 66536 bytes" in past_the_guard.text
    )
    other = session(small, "bob")
    too_big_elsewhere = other.post(
        "/api/me/library", content=b"x" * (1024 * 1024 + 1), headers={"X-CSRF-Token": token(other)}
    )
    assert too_big_elsewhere.status_code == 413  # the default cap holds on every other path
    assert upload(ada, "empty.txt", b"\n").status_code == 303
    limited = upload(ada, "again.txt", b"\n")  # the third this hour (the guard's 413 not counted)
    assert limited.status_code == 429 and "Too many attempts (2/hour)" in limited.text


def test_exports_read_back_into_the_same_library(site, store):
    ada = session(site, "ada")
    paper = listed_paper(ada)  # a local (seed) paper: no eprint, a link to its page here
    headers = {"X-CSRF-Token": token(ada)}
    for arxiv_id in [
        "0704.0001",
        "1210.8059",
        "1604.05538",
        "0704.0005",
        "cond-mat/0703772",
        paper,
    ]:
        assert (
            ada.post("/api/me/library", json={"paper_id": arxiv_id}, headers=headers).status_code
            == 201
        )
    exported = ada.get("/library/export.bib")
    assert exported.headers["content-type"].startswith("application/x-bibtex")
    assert exported.headers["content-disposition"] == 'attachment; filename="ada-library.bib"'
    entries = {e.key: e for e in bibtexparser.parse_string(exported.text).entries}
    assert len(entries) == 6
    balazs = entries["balazs2007calculation"]
    assert balazs["eprint"] == "0704.0001" and balazs["archivePrefix"] == "arXiv"
    assert balazs["primaryClass"] == "hep-ph" and balazs["doi"] == "10.1103/PhysRevD.76.013009"
    assert balazs["author"].startswith("C. Balázs and E. L. Berger")
    assert balazs["url"] == "https://arxiv.org/abs/0704.0001" and balazs["year"] == "2007"
    assert (
        entries["abushammala2007dyadic"]["title"]
        == r"From dyadic $\Lambda_{\alpha}$ to $\Lambda_{\alpha}$"
    )
    assert entries["abushammala2007dyadic"]["doi"] == "10.48550/arXiv.0704.0005"
    [local] = [e for e in entries.values() if "eprint" not in e]
    assert local["url"] == f"http://testserver/papers/{paper}"

    csl = ada.get("/library/export.csl.json")
    items = {item["number"] if "number" in item else item["URL"]: item for item in csl.json()}
    lev = items["arXiv:1210.8059"]
    assert lev["author"] == [
        {"family": "Lev", "given": "Nir"},
        {"family": "Ortega-Cerdà", "given": "Joaquim"},
    ]
    assert lev["issued"] == {"date-parts": [[2012, 10, 30]]} and lev["type"] == "article"

    # each export, imported by another reader, gives the same library
    for index, (name, body) in enumerate(
        [("ada.bib", exported.content), ("ada.json", csl.content)]
    ):
        reader = session(site, f"reader{index}")
        report = finished(reader, upload(reader, name, body).headers["location"])
        assert report["counts"]["unmatched"] == 0, report
        assert set(library_ids(reader)) == set(library_ids(ada)), name
    anonymous = TestClient(site)
    assert anonymous.get("/library/export.bib", follow_redirects=False).status_code == 303


def test_all_my_data_exports_and_restores_the_library_and_votes(site, store):
    ada = session(site, "ada")
    paper = listed_paper(ada)
    with store.connect() as conn:
        user = find_user(conn, "ada")
    library.save(store, user, "1210.8059", NOW - timedelta(days=3))
    library.save(store, user, paper, NOW - timedelta(days=2))
    library.import_file(store, site.state.site.config, user, b"0704.0001\n", "list.txt", None, NOW)
    community.vote(store, user, paper, True)
    community.post_comment(store, user, paper, "What about *larger* models?")
    config = site.state.site.config
    for kind, text in [("author", "Yann  LeCun"), ("search", "diffusion cat:cs.CV -survey")]:
        follows.follow(store, config, user, kind, text)

    def export():
        answer = ada.get("/settings/export.json")
        assert (
            answer.headers["content-disposition"] == 'attachment; filename="ada-Daily Papers.json"'
        )
        return answer.json()

    before = export()
    assert list(before) == [
        "format",
        "version",
        "site",
        "exported_at",
        "profile",
        "library",
        "votes",
        "comments",
        "follows",
        "digest",
        "for_you",
    ]
    assert before["digest"] is None
    assert [(f["kind"], f["label"]) for f in before["follows"]] == [
        ("author", "Yann LeCun"),
        ("search", "diffusion cat:cs.CV -survey"),
    ]
    assert before["profile"] == {
        "username": "ada",
        "email": "ada@example.org",
        "is_admin": False,
        "created_at": before["profile"]["created_at"],
        "password_changed_at": before["profile"]["password_changed_at"],
    }
    assert "argon2" not in json.dumps(before) and "password_hash" not in json.dumps(before)
    assert [(i["arxiv_id"], i["how"]) for i in before["library"]] == [
        ("1210.8059", "saved"),
        (paper, "saved"),
        ("0704.0001", "imported"),
    ]
    assert [v["arxiv_id"] for v in before["votes"]] == [paper]
    assert before["comments"][0]["body"] == "What about *larger* models?"
    assert ada.get("/api/me/export").json()["library"] == before["library"]

    assert before["for_you"] == {"not_interested": [], "abstract": None, "started_at": None}
    assert userdata.remove_restorable(store, user) == {
        "library": 3,
        "votes": 1,
        "follows": 2,
        "for_you": 0,
    }
    with store.connect() as conn:
        assert item_rows(conn, user.id) == [] and voted_papers(conn, user.id, [paper]) == set()
    body = json.dumps(before).encode()
    report = finished(ada, upload(ada, "ada-export.json", body).headers["location"])
    assert report["format"] == "dailypapers" and report["counts"]["matched"] == 3
    assert report["notes"] == [
        "votes: 1 restored, 0 already cast, 0 not on this site's daily list",
        "follows: 2 restored, 0 already followed, 0 categories this catalog does not have",
        "for you: 0 not-interested marks restored, 0 already marked, 0 not in this catalog",
    ]
    after = export()
    assert {**after, "exported_at": None} == {**before, "exported_at": None}


def test_a_site_part_adds_its_own_section(store):
    load_catalog(store)
    with store.begin() as conn:
        user = create_user(conn, "ada", "ada@example.org", "not a real hash")
    notes = []
    section = userdata.Section(
        "reading_notes",
        lambda _conn, account: [f"note of {account.username}"],
        lambda _conn, account, data: (notes.append(data), "reading notes: restored")[1],
    )
    userdata.register(section)
    try:
        document = userdata.export_all(store, user, "Daily Papers", NOW)
        assert document["reading_notes"] == ["note of ada"]
        with pytest.raises(ValueError, match="registered already"):
            userdata.register(section)
        record = library.import_file(
            store, _config(), user, json.dumps(document).encode(), "x.json", None, NOW
        )
        assert notes == [["note of ada"]] and "reading notes: restored" in record.notes
    finally:
        del userdata.SECTIONS["reading_notes"]


def _config(**values):
    from dailypapers.config import Config

    return Config(**values)


def test_the_title_rule_settles_ties_by_the_first_author(store):
    load_catalog(store)
    twin = PaperRecord(
        arxiv_id="2501.00001",
        title="Spatial networks",
        abstract="Another paper with the same title.",
        source="arxiv-api",
        authors=["Jane Doe"],
        published_at=datetime(2025, 1, 2),
    )
    latex = PaperRecord(
        arxiv_id="2501.00002",
        title="The Haj{\\l}asz capacity density condition is self-improving",
        abstract="A title with LaTeX, as arXiv keeps it.",
        source="arxiv-api",
        authors=["Javier Canto", "Antti V. Vähäkangas (Jyväskylä)"],
        published_at=datetime(2025, 1, 3),
    )
    with store.begin() as conn:
        write_papers(conn, [twin, latex])
    [hajlasz] = read_references(
        b"@article{c, title = {The Haj{\\l}asz capacity density condition is self-improving},"
        b' author = {Canto, Javier and V{\\"a}h{\\"a}kangas, Antti}}',
        None,
        max_bytes=1000,
        max_entries=1,
    ).references
    assert hajlasz.title == "The Hajłasz capacity density condition is self-improving"
    references = [
        Reference("line 1", title="Spatial Networks", first_surname="Barthelemy"),
        Reference("line 2", title="Spatial {N}etworks", first_surname="Doe"),
        Reference("line 3", title="Spatial networks"),
        Reference("line 4", title="Spatial networks", first_surname="Smith"),
        Reference(
            "line 5",
            title="Elastic moderation of intrinsically applied tension in lipid membranes",
            first_surname="Nobody",
        ),
        Reference(
            "line 6",
            title="Elastic moderation of intrinsically applied tension in lipid membranes",
            first_surname="Lomholt",
        ),
        Reference("line 7", key="x"),
        hajlasz,  # its text's key is "hajłasz...", the LaTeX's "hajlasz..." as the catalog's
        Reference(
            "line 9",
            title="The Hajlasz capacity density condition is self-improving",
            first_surname="Vahakangas",
        ),
    ]
    with store.connect() as conn:
        found = library.match_references(conn, references)
    assert [(o.status, o.arxiv_id, o.by or o.reason) for o in found] == [
        ("matched", "1010.0302", "title and first author"),
        ("matched", "2501.00001", "title and first author"),
        (
            "unmatched",
            None,
            "the title matches 2 papers (1010.0302, 2501.00001) and names no author",
        ),
        (
            "unmatched",
            None,
            "the title matches 2 papers (1010.0302, 2501.00001) and none has the first author Smith",
        ),
        ("unmatched", None, "the title matches 1010.4181, but Nobody is not among its authors"),
        ("matched", "1010.4181", "title"),
        ("unmatched", None, "it has no arXiv id, DOI or title"),
        ("matched", "2501.00002", "title"),
        ("matched", "2501.00002", "title"),  # an author among others, affiliation and all
    ]
    assert choose_by_title(Reference("x", title="t"), [Candidate("a", [])]) == ("a", "title")


def test_a_fetch_is_leased_and_taken_over_after_a_crash(store, arxiv):
    load_catalog(store)
    with store.begin() as conn:
        user = create_user(conn, "ada", "ada@example.org", "not a real hash")
    config = _config(arxiv_api_endpoint=arxiv.url, request_delay=0.0, http_retries=0)
    record = library.import_file(
        store, config, user, b"2104.12255\n1010.0302\n", "l.txt", None, NOW
    )
    assert record.status == "fetching" and record.pending_ids == ["2104.12255"]
    with store.begin() as conn:  # a fetcher that then died
        assert claim_import(
            conn, record.id, datetime(2024, 7, 25, 12), datetime(2024, 7, 25, 12, 15)
        )
        assert not claim_import(
            conn, record.id, datetime(2024, 7, 25, 12, 1), datetime(2024, 7, 25, 12, 16)
        )
    fetcher = library.ImportFetcher(
        store, config, clock=lambda: datetime(2024, 7, 25, 12, 5, tzinfo=UTC)
    )
    assert fetcher.resume() == 0  # its lease still runs
    fetcher.clock = lambda: datetime(2024, 7, 25, 12, 20, tzinfo=UTC)
    assert fetcher.resume() == 1
    deadline = time.monotonic() + 30
    while fetcher.busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    with store.connect() as conn:
        done = get_import(conn, record.id)
        assert done.status == "done" and done.count("fetched") == 1
        assert saved_among(conn, user.id, ["2104.12255", "1010.0302"]) == {
            "2104.12255",
            "1010.0302",
        }
    assert len(arxiv.requests) == 1
    assert library.fetch_import(store, config, record.id, None) is None  # done: nobody claims it


def test_the_cli_imports_with_fetching_inline_and_exports(database_url, store, arxiv, tmp_path):
    load_catalog(store)
    with store.begin() as conn:
        create_user(conn, "ada", "ada@example.org", "not a real hash")
    env = {
        "DAILYPAPERS_DATABASE_URL": database_url,
        "DAILYPAPERS_DATA_DIR": str(tmp_path),
        "DAILYPAPERS_ARXIV_API_ENDPOINT": arxiv.url,
        "DAILYPAPERS_REQUEST_DELAY": "0",
        "DAILYPAPERS_HTTP_RETRIES": "0",
    }
    runner = CliRunner()
    result = runner.invoke(
        cli, ["library", "import", "--user", "ada", str(LIBRARY / "reading-list.txt")], env=env
    )
    assert result.exit_code == 3, result.output  # one id arXiv does not have
    assert "not added: line 8 'hep-th/9901001': arXiv has no paper with this id" in result.output
    assert (
        "reading-list.txt (arxiv-ids): 6 entries: 3 matched, 2 fetched from arXiv, 1 not found"
        in result.output
    )
    clean = runner.invoke(
        cli,
        ["library", "import", "--user", "ada", "--format", "ris", str(LIBRARY / "mendeley.ris")],
        env=env,
    )
    assert clean.exit_code == 0, clean.output
    broken = runner.invoke(
        cli, ["library", "import", "--user", "ada", str(LIBRARY / "malformed.ris")], env=env
    )
    assert broken.exit_code == 1 and "line 7: the record that starts here" in broken.output
    nobody = runner.invoke(
        cli, ["library", "import", "--user", "zed", str(LIBRARY / "mendeley.ris")], env=env
    )
    assert nobody.exit_code == 2 and "no account 'zed'" in nobody.output
    exported = runner.invoke(
        cli, ["library", "export", "--user", "ada", "--format", "csl-json"], env=env
    )
    assert exported.exit_code == 0
    numbers = sorted(item.get("number", "") for item in json.loads(exported.output))
    assert numbers == sorted(
        f"arXiv:{i}"
        for i in [
            "1602.02264",
            "1210.8059",
            "quant-ph/0201082",
            "2104.12255",
            "1010.0302",
            "1602.00882",
            "1012.0650",
            "1506.05664",
        ]
    )
    out = tmp_path / "all.json"
    everything = runner.invoke(
        cli,
        ["library", "export", "--user", "ada", "--format", "all", "--output", str(out)],
        env=env,
    )
    assert everything.exit_code == 0 and json.loads(out.read_text())["profile"]["username"] == "ada"


def test_library_items_follow_a_local_paper_into_its_arxiv_twin(store):
    with store.begin() as conn:
        write_papers(conn, seed_records())
        ada = create_user(conn, "ada", "ada@example.org", "not a real hash")
        bob = create_user(conn, "bob", "bob@example.org", "not a real hash")
    # Hugging Face lists HuMo's arXiv id without an arXiv date: not a twin of the seed yet
    hf_item = {
        "paper": {
            "id": HUMO_ARXIV,
            "title": HUMO_TITLE,
            "summary": "Human-centric video.",
            "upvotes": 4,
        },
        "publishedAt": "2025-09-10T00:00:00.000Z",
        "submittedBy": {"fullname": "AK", "user": "akhaliq"},
    }
    assert ingest_daily_json(store, json.dumps([hf_item]).encode(), "day.json").counts.merged == 0
    library.save(store, ada, SOFT, NOW)
    library.save(store, ada, HUMO, NOW - timedelta(days=2))  # ada keeps both HuMos,
    library.save(store, ada, HUMO_ARXIV, NOW - timedelta(days=1))  # the local one first
    library.save(store, bob, HUMO_ARXIV, NOW)
    with store.begin() as conn:
        assert write_papers(conn, arxiv_records(SOFT_ARXIV, HUMO_ARXIV)).merged == 2
    with store.connect() as conn:
        rows = {arxiv_id: (added, how) for arxiv_id, added, how in item_rows(conn, ada.id)}
        assert rows == {
            SOFT_ARXIV: (datetime(2024, 7, 25, 12), "saved"),
            HUMO_ARXIV: (datetime(2024, 7, 23, 12), "saved"),  # one item, the earlier date
        }
        assert [(a, t) for a, t, _ in item_rows(conn, bob.id)] == [
            (HUMO_ARXIV, datetime(2024, 7, 25, 12))
        ]
    # an old link to the local paper saves its arXiv twin
    assert library.save(store, bob, SOFT, NOW).arxiv_id == SOFT_ARXIV
    assert library.remove(store, bob, SOFT) == (SOFT_ARXIV, True)
