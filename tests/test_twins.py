"""One paper, one result: a demo seed paper (local id) and its arXiv record merge, whichever
arrives first, carrying its daily entry, votes, comments and links, on SQLite and PostgreSQL;
its old URLs redirect and the search indexes drop it."""

import io
import json
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from lxml import html

from dailypapers.config import load_config
from dailypapers.domain.papers import ListFilter
from dailypapers.domain.query import parse_query
from dailypapers.domain.records import PaperRecord, VersionRecord
from dailypapers.domain.twins import title_key
from dailypapers.ingest.arxiv_bulk import iter_snapshot
from dailypapers.ingest.demo import iter_seed_papers
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.search.backends import semantic_backend
from dailypapers.search.keyword import KeywordIndex
from dailypapers.search.vector import Embedder
from dailypapers.services import community, foryou
from dailypapers.services.indexing import update_indexes
from dailypapers.storage.comments import thread
from dailypapers.storage.daily import list_daily, upvotes_of, vote_rows, voted_papers
from dailypapers.storage.foryou import list_dismissals
from dailypapers.storage.fulltext import fulltext_search
from dailypapers.storage.papers import count_papers, get_paper, write_papers
from dailypapers.storage.schema import paper_aliases, paper_vectors
from dailypapers.storage.twins import merged_into
from dailypapers.storage.users import create_user
from dailypapers.web.app import create_app

from .conftest import DATA, DEMO
from .test_people import csrf_of, session

SOFT = "local-e4c9054f2135"  # "Soft Injection of Task Embeddings ...", seed page, 2025-07-28
SOFT_ARXIV = "2507.20906"  # its arXiv record: v1 dated 2025-07-29
SOFT_TITLE = "Soft Injection of Task Embeddings Outperforms Prompt-Based In-Context Learning"
ROLE = "local-4c9916b02e65"  # the other seed paper of 2025-07-28 (its twin is not loaded)
HUMO = "local-22d0f863f216"  # "HuMo: Human-Centric Video Generation ...", 2025-09-10, 4 upvotes
HUMO_ARXIV = "2509.08519"


def seed_records() -> list[PaperRecord]:
    """The demo's seed page: 71 papers with local ids, each on the daily list of its date."""
    found = iter_seed_papers(DEMO / "seed-papers.json")
    return [r for r in found if isinstance(r, PaperRecord)]


def arxiv_records(*ids: str) -> list[PaperRecord]:
    """The real snapshot records of these arXiv ids (tests/data/twins_snapshot.jsonl)."""
    lines = (DATA / "twins_snapshot.jsonl").read_bytes()
    found = iter_snapshot(io.BytesIO(lines), "twins_snapshot.jsonl")
    return [r for r in found if isinstance(r, PaperRecord) and r.arxiv_id in ids]


def write(store, records):
    with store.begin() as conn:
        return write_papers(conn, records)


def user(store, name):
    with store.begin() as conn:
        return create_user(conn, name, f"{name}@example.org", "not a real hash")


def make_app(store, tmp_path):
    config = load_config(
        environ={"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    )
    return create_app(config, store)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (SOFT_TITLE, SOFT_TITLE.lower().replace("-", " ") + "."),
        ("Deep\n  Learning  for Graphs", "Deep learning for graphs"),
        (r"Schr\"{o}dinger Bridges", "Schrödinger bridges"),
        (r"$\alpha$-Nets: \emph{Fast} Training", "α-Nets: Fast Training"),
        ("Ｆｕｌｌ‐width ﬁne print", "Full-width fine print"),
    ],
)
def test_title_keys_ignore_case_spacing_punctuation_latex_and_accents(one, other):
    assert title_key(one) == title_key(other) != ""


def test_different_titles_have_different_keys():
    assert title_key("Attention is all you need") != title_key("Attention is not all you need")
    assert title_key("$\\beta$-VAE") != title_key("$\\alpha$-VAE")


def test_the_seed_paper_and_its_arxiv_record_become_one(store, tmp_path):
    assert write(store, seed_records()).new == 71
    ada = user(store, "ada")
    community.vote(store, ada, SOFT, True)
    comment = community.post_comment(store, ada, SOFT, "Does it *transfer* to 70B models?")

    counts = write(store, arxiv_records(SOFT_ARXIV))
    assert (counts.new, counts.merged) == (1, 1)
    with store.connect() as conn:
        assert get_paper(conn, SOFT) is None
        assert count_papers(conn) == 71
        paper = get_paper(conn, SOFT_ARXIV)
        assert paper.title == SOFT_TITLE and paper.authors == ["Jungwon Park", "Wonjong Rhee"]
        assert paper.source == "snapshot" and paper.published_at == datetime(2025, 7, 29, 12)
        # the seed's daily entry moved: its day, its curator, the vote cast on the local id
        assert paper.daily["day"] == date(2025, 7, 28)
        assert paper.daily["submitter_name"] == "Demo curator"
        assert paper.daily["vote_count"] == 1 == upvotes_of(conn, SOFT_ARXIV)
        assert voted_papers(conn, ada.id, [SOFT_ARXIV, SOFT]) == {SOFT_ARXIV}
        assert [c.id for c in thread(conn, SOFT_ARXIV)] == [comment.id]
        assert thread(conn, SOFT) == []
        assert merged_into(conn, SOFT) == SOFT_ARXIV
        day = list_daily(conn, ListFilter(date(2025, 7, 28), date(2025, 7, 28)))
        assert SOFT_ARXIV in [i.arxiv_id for i in day] and len(day) == 2
        assert SOFT not in [i.arxiv_id for i in day]

    with TestClient(make_app(store, tmp_path)) as client:
        listed = client.get("/api/daily_papers", params={"date": "2025-07-28"}).json()
        item = next(i for i in listed if i["paper"]["id"] == SOFT_ARXIV)
        assert len(listed) == 2 and SOFT not in [i["paper"]["id"] for i in listed]
        assert item["paper"]["upvotes"] == 1 and item["numComments"] == 1
        cards = html.fromstring(client.get("/papers/date/2025-07-28").text)
        links = cards.xpath("//article//h2/a/@href")
        assert f"/papers/{SOFT_ARXIV}" in links and f"/papers/{SOFT}" not in links
        hits = client.get("/api/papers/search", params={"q": SOFT_TITLE}).json()
        found = [h["paper"]["id"] for h in hits]
        assert found[0] == SOFT_ARXIV and found.count(SOFT_ARXIV) == 1 and SOFT not in found
        page = client.get(f"/papers/{SOFT_ARXIV}")
        assert page.status_code == 200 and "transfer" in page.text


def test_old_urls_answer_301_to_the_arxiv_paper(store, tmp_path):
    write(store, seed_records())
    write(store, arxiv_records(SOFT_ARXIV))
    with TestClient(make_app(store, tmp_path)) as client:
        for old, new in [
            (f"/papers/{SOFT}", f"/papers/{SOFT_ARXIV}"),
            (f"/papers/{SOFT}.md", f"/papers/{SOFT_ARXIV}.md"),
            (f"/api/papers/{SOFT}", f"/api/papers/{SOFT_ARXIV}"),
            (f"/api/papers/{SOFT}/comments", f"/api/papers/{SOFT_ARXIV}/comments"),
            (f"/api/papers/{SOFT}/similar?limit=3", f"/api/papers/{SOFT_ARXIV}/similar?limit=3"),
            (f"/api/arxiv/{SOFT}/repos", f"/api/arxiv/{SOFT_ARXIV}/repos"),
        ]:
            moved = client.get(old, follow_redirects=False)
            assert (moved.status_code, moved.headers["location"]) == (301, new), old
            assert "nosniff" in moved.headers["x-content-type-options"]
        followed = client.get(f"/api/papers/{SOFT}")
        assert followed.status_code == 200 and followed.json()["id"] == SOFT_ARXIV
        head = client.head(f"/papers/{SOFT}", follow_redirects=False)
        assert head.status_code == 301
        vote = client.post(f"/api/papers/{SOFT}/upvote", follow_redirects=False)
        assert vote.status_code == 308  # the method and body survive the redirect
        assert vote.headers["location"] == f"/api/papers/{SOFT_ARXIV}/upvote"
        # papers that did not merge answer as before
        assert client.get(f"/papers/{SOFT_ARXIV}").status_code == 200
        assert client.get(f"/papers/{ROLE}", follow_redirects=False).status_code == 200
        assert client.get("/papers/local-000000000000").status_code == 404


def test_a_seed_paper_arriving_after_its_arxiv_record_joins_it(store):
    write(store, arxiv_records(SOFT_ARXIV))
    counts = write(store, seed_records())
    assert (counts.new, counts.merged, counts.daily_new) == (71, 1, 71)
    with store.connect() as conn:
        assert get_paper(conn, SOFT) is None and count_papers(conn) == 71
        paper = get_paper(conn, SOFT_ARXIV)
        assert paper.daily["day"] == date(2025, 7, 28) and paper.source == "snapshot"
        assert merged_into(conn, SOFT) == SOFT_ARXIV
    again = write(store, seed_records())  # the demo loaded again: nothing comes back
    assert (again.new, again.updated, again.unchanged, again.merged) == (0, 0, 71, 0)
    with store.connect() as conn:
        assert get_paper(conn, SOFT) is None and count_papers(conn) == 71


def test_twins_listed_and_voted_apart_merge_without_double_counting(store, tmp_path):
    """A catalog where both were listed before they could merge (Hugging Face's JSON gave no
    arXiv date): one entry remains, imported upvotes are not added up, and a reader who voted
    for both keeps one vote."""
    write(store, seed_records())
    hf_item = {
        "paper": {
            "id": HUMO_ARXIV,
            "title": "HuMo: Human-Centric Video Generation via Collaborative Multi-Modal "
            "Conditioning",
            "summary": "Human-Centric Video Generation (HCVG) methods seek to synthesize videos.",
            "upvotes": 4,
            "githubRepo": "https://github.com/Phantom-video/HuMo",
        },
        "publishedAt": "2025-09-10T00:00:00.000Z",
        "submittedBy": {"fullname": "AK", "user": "akhaliq"},
    }
    report = ingest_daily_json(store, json.dumps([hf_item]).encode(), "day.json")
    assert report.counts.merged == 0  # no arXiv date yet: not a twin
    ada, bob = user(store, "ada"), user(store, "bob")
    for who, paper_id in [(ada, HUMO), (ada, HUMO_ARXIV), (bob, HUMO)]:
        community.vote(store, who, paper_id, True)
    community.post_comment(store, ada, HUMO, "Seen on the seed page.")
    community.post_comment(store, bob, HUMO_ARXIV, "Seen on arXiv.")
    with store.connect() as conn:
        assert upvotes_of(conn, HUMO) == 4 + 2 and upvotes_of(conn, HUMO_ARXIV) == 4 + 1

    counts = write(store, arxiv_records(HUMO_ARXIV))
    assert counts.merged == 1
    with store.connect() as conn:
        assert get_paper(conn, HUMO) is None
        paper = get_paper(conn, HUMO_ARXIV)
        assert paper.daily["day"] == date(2025, 9, 10)
        assert paper.daily["submitter_username"] == "akhaliq"  # the arXiv paper's entry stays
        assert (paper.daily["upvotes"], paper.daily["vote_count"]) == (4, 2)
        assert vote_rows(conn, HUMO_ARXIV) == 2 and upvotes_of(conn, HUMO_ARXIV) == 6
        assert voted_papers(conn, ada.id, [HUMO_ARXIV]) == voted_papers(conn, bob.id, [HUMO_ARXIV])
        assert sorted(c.body for c in thread(conn, HUMO_ARXIV)) == [
            "Seen on arXiv.",
            "Seen on the seed page.",
        ]
        assert paper.github_repos == ["https://github.com/Phantom-video/HuMo"] and paper.has_code
        day = list_daily(conn, ListFilter(date(2025, 9, 10), date(2025, 9, 10)))
        assert [i.arxiv_id for i in day] == [HUMO_ARXIV] and day[0].upvotes == 6

    app = make_app(store, tmp_path)
    app.state.site.clock = lambda: datetime(2025, 9, 12, tzinfo=UTC)
    carol = session(app, "carol")
    headers = {"X-CSRF-Token": csrf_of(carol.get(f"/papers/{HUMO_ARXIV}"))}
    # a vote posted to the old URL (a page loaded before the merge) lands on the arXiv paper
    voted = carol.post(f"/api/papers/{HUMO}/upvote", headers=headers)
    assert voted.json() == {"id": HUMO_ARXIV, "upvotes": 7, "voted": True}
    listed = carol.get("/api/daily_papers", params={"date": "2025-09-10"}).json()
    assert [(i["paper"]["id"], i["paper"]["upvotes"]) for i in listed] == [(HUMO_ARXIV, 7)]


def soft_record(days_later: int, arxiv_id: str = "2507.99999") -> PaperRecord:
    """An arXiv record of the seed paper's title, first version `days_later` days after the
    seed's date (2025-07-28)."""
    submitted = datetime(2025, 7, 28, 15, tzinfo=UTC) + timedelta(days=days_later)
    return PaperRecord(
        arxiv_id,
        SOFT_TITLE,
        "An abstract.",
        source="oai",
        categories=["cs.CL"],
        versions=[VersionRecord(1, submitted)],
        latest_version=1,
        datestamp=submitted.date(),
    )


@pytest.mark.parametrize(
    ("days_later", "merges"), [(-7, True), (7, True), (-8, False), (8, False), (365, False)]
)
def test_the_same_title_merges_only_within_a_week(store, days_later, merges):
    write(store, seed_records())
    assert write(store, [soft_record(days_later)]).merged == int(merges)
    with store.connect() as conn:
        assert (get_paper(conn, SOFT) is None) == merges
        assert merged_into(conn, SOFT) == ("2507.99999" if merges else None)
        assert count_papers(conn) == 72 - merges


def test_two_arxiv_candidates_are_ambiguous_and_left_apart(store, caplog):
    write(store, seed_records())
    with caplog.at_level(logging.WARNING, logger="dailypapers.storage.twins"):
        counts = write(store, [soft_record(1, "2507.99998"), soft_record(2, "2507.99999")])
    assert counts.merged == 0
    assert f"{SOFT} ({SOFT_TITLE!r}) has 2 arXiv twins, 2507.99998, 2507.99999" in caplog.text
    with store.connect() as conn:
        assert get_paper(conn, SOFT) is not None and merged_into(conn, SOFT) is None


def test_links_and_organisation_of_the_local_paper_carry_over(store):
    local = replace(
        next(r for r in seed_records() if r.arxiv_id == SOFT),
        organization="SNU",
        github_repo="https://github.com/SNU-DRL/Soft_Injection",
        project_page="https://example.org/soft-injection",
    )
    counts = write(store, [local, *arxiv_records(SOFT_ARXIV)])  # one batch: merged in it
    assert counts.merged == 1
    with store.connect() as conn:
        paper = get_paper(conn, SOFT_ARXIV)
        categories = conn.execute(sa.text("SELECT count(*) FROM paper_categories")).scalar()
    assert paper.github_repos == ["https://github.com/SNU-DRL/Soft_Injection"] and paper.has_code
    assert paper.project_pages == ["https://example.org/soft-injection"]
    assert paper.organization == "SNU" and paper.categories == ["cs.CL"] and categories == 1


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_the_search_indexes_drop_the_local_id_after_the_index_round(store, tmp_path, embedder):
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)})
    write(store, seed_records())
    # A hidden paper, as real catalogs have: the index then holds fewer documents than the
    # catalog has rows, and a stale document would not set off a rebuild that hides it.
    gone = soft_record(-400, "2406.00001")
    write(store, [replace(gone, title="Withdrawn"), replace(gone, deleted=True)])
    update_indexes(store, config, embedder)
    keyword = KeywordIndex.for_data_dir(tmp_path)
    query = parse_query(SOFT_TITLE)
    assert keyword.search(query, limit=1)[0].arxiv_id == SOFT
    semantic = semantic_backend(store, str(tmp_path), embedder.name)
    vector = embedder.embed_query(SOFT_TITLE)
    assert semantic.nearest(vector, 1)[0][0] == SOFT

    write(store, arxiv_records(SOFT_ARXIV))
    done = update_indexes(store, config, embedder)
    assert done.embedded == 1  # the arXiv paper; nothing else changed
    keyword = KeywordIndex.for_data_dir(tmp_path)
    hits = [h.arxiv_id for h in keyword.search(query, limit=10)]
    assert hits[0] == SOFT_ARXIV and SOFT not in hits
    assert keyword.count() == 71
    near = [i for i, _ in semantic.nearest(vector, 10)]
    assert near[0] == SOFT_ARXIV and SOFT not in near
    with store.connect() as conn:
        stored = set(conn.execute(sa.select(paper_vectors.c.arxiv_id)).scalars())
        assert SOFT not in stored and SOFT_ARXIV in stored and len(stored) == 71
        aliases = conn.execute(sa.select(paper_aliases.c.alias_id)).scalars().all()
        assert aliases == [SOFT]
        if store.dialect == "postgresql":  # the keyword leg before tantivy's index exists
            found = [i for i, _ in fulltext_search(conn, query, query.filter(), 10)]
            assert found[0] == SOFT_ARXIV and SOFT not in found


def test_a_catalog_from_before_twins_merges_them_on_upgrade(database_url):
    """Twins written before migration 0008 sit side by side; the upgrade merges them."""
    from dailypapers.domain.merge import record_row
    from dailypapers.storage import migrate_store, open_store
    from dailypapers.storage.papers import _dump
    from dailypapers.storage.schema import papers

    store = open_store(database_url, migrate=False)
    migrate_store(store, "0007")
    now = datetime(2026, 1, 1)
    with store.begin() as conn:  # as the old code wrote them: no merging
        for record in [*arxiv_records(SOFT_ARXIV, HUMO_ARXIV), *seed_records()]:
            conn.execute(sa.insert(papers).values(_dump(record_row(record), now, None)))
        assert count_papers(conn) == 73
    migrate_store(store)
    with store.connect() as conn:
        assert count_papers(conn) == 71
        assert get_paper(conn, SOFT) is None and get_paper(conn, HUMO) is None
        assert merged_into(conn, SOFT) == SOFT_ARXIV and merged_into(conn, HUMO) == HUMO_ARXIV
        assert get_paper(conn, ROLE) is not None  # its twin is not in the catalog
    store.close()


def test_not_interested_marks_follow_a_local_paper_into_its_arxiv_twin(store):
    """A mark on the local paper moves to the arXiv paper; a reader who marked both keeps
    one mark, and a reader's marks on other papers stay."""
    write(store, seed_records())
    hf_item = {
        "paper": {
            "id": HUMO_ARXIV,
            "title": "HuMo: Human-Centric Video Generation via "
            "Collaborative Multi-Modal Conditioning",
            "summary": "Video.",
            "upvotes": 4,
        },
        "publishedAt": "2025-09-10T00:00:00.000Z",
        "submittedBy": {"fullname": "AK", "user": "akhaliq"},
    }
    assert ingest_daily_json(store, json.dumps([hf_item]).encode(), "day.json").counts.merged == 0
    ada, bob = user(store, "ada"), user(store, "bob")
    for who, paper_id in [(ada, HUMO), (ada, ROLE), (bob, HUMO), (bob, HUMO_ARXIV), (bob, SOFT)]:
        assert foryou.dismiss(store, who, paper_id)
    assert write(store, arxiv_records(SOFT_ARXIV, HUMO_ARXIV)).merged == 2
    with store.connect() as conn:
        assert sorted(d[0] for d in list_dismissals(conn, ada.id)) == sorted([HUMO_ARXIV, ROLE])
        assert sorted(d[0] for d in list_dismissals(conn, bob.id)) == [SOFT_ARXIV, HUMO_ARXIV]
