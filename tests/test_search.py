"""The query language and the keyword index, on catalogs in SQLite and PostgreSQL."""

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dailypapers.cli import cli
from dailypapers.domain.papers import PaperFilter
from dailypapers.domain.query import MAX_QUERY, parse_query
from dailypapers.domain.records import PaperRecord, VersionRecord
from dailypapers.ingest.demo import load_demo
from dailypapers.search.backends import FullText
from dailypapers.search.keyword import KeywordIndex, build_query_text
from dailypapers.storage.papers import get_paper, write_papers


def test_query_language():
    query = parse_query(
        'sparse attention "long documents" -survey -"old idea" author:Beltagy '
        "cat:cs.CL year:2021-2019"
    )
    assert query.words == ["sparse", "attention"]
    assert query.phrases == [["long", "documents"]]
    assert query.excluded_words == ["survey"] and query.excluded_phrases == [["old", "idea"]]
    assert query.authors == ["beltagy"] and query.categories == ["cs.CL"]
    assert query.years == (2019, 2021)


@pytest.mark.parametrize(
    ("text", "paper_id"),
    [
        ("2004.05150", "2004.05150"),
        ("https://arxiv.org/abs/2004.05150v2", "2004.05150"),
        ("id:hep-th/9901001 ignored words", "hep-th/9901001"),
        ("arXiv:1302.2146", "1302.2146"),
    ],
)
def test_ids_and_urls_jump_to_the_paper(text, paper_id):
    assert parse_query(text).paper_id == paper_id


def test_hostile_and_odd_input_is_just_text():
    query = parse_query('a AND (b OR c*) :: "unbalanced note:x 🙂 ' + "x" * (MAX_QUERY * 2))
    assert query.words == ["a", "and", "b", "or", "c"]
    assert query.phrases[0][:3] == ["unbalanced", "note", "x"]  # the quote closes at the end
    assert len(query.text) == MAX_QUERY
    assert parse_query("word " * 100).long


@pytest.fixture
def indexed(store, tmp_path):
    """The keyword leg of each database: tantivy beside SQLite, full text in PostgreSQL."""
    load_demo(store)
    if store.dialect == "postgresql":
        return FullText(store)
    keyword = KeywordIndex(tmp_path / "keyword")
    assert keyword.rebuild(store) == keyword.count() > 500
    return keyword


def ids(keyword, text, **kwargs):
    return [hit.arxiv_id for hit in keyword.search(parse_query(text), **kwargs)]


def test_unambiguous_queries_rank_the_right_paper_first(indexed):
    assert ids(indexed, "same-sign dilepton RPV supersymmetry")[0] == "1302.2146"
    assert ids(indexed, "satellite land use classification without pre-training")[0] == (
        "local-8df39cf8a6a6"
    )
    assert ids(indexed, "splitting zero attacks on BLS signatures proof-of-possession")[0] == (
        "2104.12255"
    )


@pytest.mark.parametrize(
    ("text", "title_start"),
    [
        ("MMLU-Pro", "MMLU-Pro:"),
        ("M4LE benchmark", "M4LE:"),
        ("In-BoXBART", "In-BoXBART:"),
        ("97.23% EuroSAT", "Balanced Multi-Task Attention"),
        ("M2TRec cold-start", "M2TRec:"),
    ],
)
def test_acronyms_and_numbers_find_their_paper(indexed, store, text, title_start):
    """Query and text are split into words alike (MMLU-Pro: mmlu + pro; 97.23%: 97 + 23;
    M4LE one word), and such rare words weigh most: the paper naming them comes first."""
    from dailypapers.storage.papers import get_paper

    with store.connect() as conn:
        first = get_paper(conn, ids(indexed, text)[0])
    assert first is not None and first.title.startswith(title_start)


def test_a_pasted_abstract_is_searched_for_its_rarest_words(indexed, store):
    from dailypapers.search import keyword as module
    from dailypapers.storage.papers import get_paper

    with store.connect() as conn:
        paper = get_paper(conn, "1302.2146")
    assert paper is not None
    query = parse_query(paper.abstract)
    assert len(set(query.words)) > module.MAX_QUERY_TERMS
    assert ids(indexed, paper.abstract)[0] == "1302.2146"
    if isinstance(indexed, KeywordIndex):
        kept = indexed._distinctive(indexed.index.searcher(), query.words)
        assert len(kept) == module.MAX_QUERY_TERMS
        assert not set(kept) & module.STOP_WORDS
        # the rarest words: none left out is rarer than any kept
        searcher = indexed.index.searcher()

        def papers_with(word):
            return searcher.doc_freq("text", module._ANALYZER.analyze(word)[0])

        left_out = set(query.words) - set(kept) - module.STOP_WORDS
        assert max(map(papers_with, kept)) <= min(map(papers_with, left_out))
        assert kept == [w for w in dict.fromkeys(query.words) if w in set(kept)]  # text order


def test_filters_phrases_authors_and_exclusions(indexed, store):
    from dailypapers.storage.papers import get_paper

    assert ids(indexed, "author:Perelstein") == ["1302.2146"]
    assert ids(indexed, '"dilepton signature"') == ["1302.2146"]
    assert "1302.2146" not in ids(indexed, "dilepton -gluino")
    quantum = ids(indexed, "quantum cat:quant-ph", limit=15)
    with store.connect() as conn:
        found = [get_paper(conn, i) for i in quantum]
    assert quantum and all("quant-ph" in p.categories for p in found)
    years = ids(indexed, "quantum year:2010-2012", limit=15)
    with store.connect() as conn:
        assert years and all(2010 <= get_paper(conn, i).published_at.year <= 2012 for i in years)
    coded = ids(indexed, "benchmark", where=PaperFilter(has_code=True), limit=50)
    with store.connect() as conn:
        assert all(get_paper(conn, i).has_code for i in coded)
    assert ids(indexed, "") == [] and ids(indexed, "-only -exclusions") == []


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_any_string_searches_without_error(indexed, text):
    query = parse_query(text)
    assert isinstance(build_query_text(query), str)
    hits = indexed.search(query, limit=5)
    assert len(hits) <= 5 and all(isinstance(h.arxiv_id, str) for h in hits)


def test_a_new_version_replaces_the_old_document(store, indexed):
    renamed = PaperRecord(
        "1302.2146",
        "Quasiparticle zebra renaming study",
        "A new abstract about zebras.",
        source="oai",
        versions=[VersionRecord(3, datetime(2015, 1, 1, tzinfo=UTC))],
        latest_version=3,
        categories=["hep-ph"],
    )
    with store.begin() as conn:
        write_papers(conn, [renamed])
    if isinstance(indexed, KeywordIndex):
        before = indexed.count()
        assert indexed.update(store) >= 1
        assert indexed.count() == before  # replaced, not duplicated
    assert ids(indexed, "zebra") == ["1302.2146"]
    assert "1302.2146" not in ids(indexed, "dilepton signature")


def test_interrupted_update_resumes_from_the_watermark(store, tmp_path):
    load_demo(store)
    keyword = KeywordIndex(tmp_path / "kw")
    seen = []

    def stop_after_first_batch(done, total):
        seen.append(done)
        raise KeyboardInterrupt

    import dailypapers.search.keyword as module

    module_batch, module_commit = module._BATCH, module.COMMIT_EVERY
    module._BATCH = module.COMMIT_EVERY = 100
    try:
        with pytest.raises(KeyboardInterrupt):
            keyword.update(store, stop_after_first_batch)
        assert seen == [100]
        assert keyword.count() == 100 and keyword.watermark is not None
        keyword.update(store)
    finally:
        module._BATCH, module.COMMIT_EVERY = module_batch, module_commit
    with store.connect() as conn:
        from dailypapers.storage.stats import catalog_stats

        assert keyword.count() == catalog_stats(conn)["papers"]


def test_cli_index_and_search(tmp_path, database_url):
    env = {"DAILYPAPERS_DATABASE_URL": database_url, "DAILYPAPERS_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    loaded = runner.invoke(cli, ["demo"], env=env)
    assert loaded.exit_code == 0
    built = runner.invoke(cli, ["index", "--rebuild", "--no-vectors"], env=env)
    assert "keyword index: 571 papers indexed" in loaded.stderr
    assert built.exit_code == 0 and "571 papers indexed, 571 searchable" in built.output
    elsewhere = {**env, "DAILYPAPERS_DATA_DIR": str(tmp_path / "no-index-here")}
    empty = runner.invoke(cli, ["search", "same-sign dilepton", "--json"], env=elsewhere)
    if database_url.startswith("sqlite"):
        assert empty.exit_code == 1 and "run `dailypapers index` first" in empty.output
    else:  # without a tantivy index, PostgreSQL's own full text answers
        assert empty.exit_code == 0 and json.loads(empty.stdout)[0]["id"] == "1302.2146"
    result = runner.invoke(cli, ["search", "same-sign dilepton", "--json", "--limit", "3"], env=env)
    hits = json.loads(result.stdout)
    assert hits[0]["id"] == "1302.2146" and len(hits) <= 3
    jump = runner.invoke(cli, ["search", "https://arxiv.org/abs/1302.2146v2"], env=env)
    assert "The Same-Sign Dilepton Signature" in jump.output


def test_api_search_uses_the_keyword_index_once_built(store, tmp_path):
    from fastapi.testclient import TestClient

    from dailypapers.config import load_config
    from dailypapers.web.app import create_app

    load_demo(store)
    config = load_config(
        environ={"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    )
    app = create_app(config, store)
    with TestClient(app) as client:
        if store.dialect == "sqlite":  # before an index exists: substring search, all words
            plain = client.get("/api/papers/search", params={"q": "dilepton signature"}).json()
            assert [h["paper"]["id"] for h in plain] == ["1302.2146"]
            assert client.get("/api/papers/search", params={"q": "dilepton zebra"}).json() == []
        else:  # before an index exists: PostgreSQL's full text
            plain = client.get("/api/papers/search", params={"q": "dilepton signature"}).json()
            assert plain[0]["paper"]["id"] == "1302.2146"
        KeywordIndex.for_data_dir(tmp_path).rebuild(store)  # the running app picks it up
        ranked = client.get("/api/papers/search", params={"q": "dilepton zebra", "limit": 3}).json()
        assert ranked[0]["paper"]["id"] == "1302.2146"  # BM25: not every word needed
        assert isinstance(app.state.site.searcher.keyword_index, KeywordIndex)  # on PostgreSQL too
        assert ranked[0]["title"] == "The Same-Sign Dilepton Signature of RPV/MFV SUSY"
        by_author = client.get("/api/papers/search", params={"q": "author:Perelstein"}).json()
        assert [h["paper"]["id"] for h in by_author] == ["1302.2146"]
        jump = client.get("/api/papers/search", params={"q": "arXiv:1302.2146v2"}).json()
        assert [h["paper"]["id"] for h in jump] == ["1302.2146"]
        odd = client.get("/api/papers/search", params={"q": 'AND ( " :: *'})
        assert odd.status_code == 200


def test_search_page_highlights_filters_jumps_and_feeds(store, tmp_path):
    from fastapi.testclient import TestClient
    from lxml import etree, html

    from dailypapers.config import load_config
    from dailypapers.web.app import create_app

    load_demo(store)
    KeywordIndex.for_data_dir(tmp_path).rebuild(store)
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)})
    with TestClient(create_app(config, store)) as client:
        response = client.get("/search", params={"q": "same-sign dilepton"})
        tree = html.fromstring(response.text)
        first = tree.xpath("//article[contains(@class,'result')]")[0]
        assert first.get("id") == "paper-1302.2146"
        assert [m.text for m in first.xpath(".//h2//mark")] == ["Same", "Sign", "Dilepton"]
        assert tree.xpath("//link[@type='application/json']/@href") == [
            "/api/papers/search?q=same-sign%20dilepton"
        ]
        hostile = client.get("/search", params={"q": "<script>alert(1)</script> dilepton"})
        assert hostile.status_code == 200 and "<script>alert(1)" not in hostile.text
        jump = client.get("/search", params={"q": "arXiv:1302.2146v2"}, follow_redirects=False)
        assert jump.status_code == 303 and jump.headers["location"] == "/papers/1302.2146"
        coded = html.fromstring(
            client.get("/search", params={"q": "benchmark", "has_code": "1"}).text
        )
        for article in coded.xpath("//article[contains(@class,'result')]"):
            assert article.xpath(".//a[contains(@class,'code')]")
        empty = client.get("/search", params={"q": ""})
        assert empty.status_code == 200 and 'Words, "exact phrases"' in empty.text
        feed = etree.fromstring(
            client.get("/feeds/search.atom", params={"q": "dilepton signature"}).content
        )
        ns = {"a": "http://www.w3.org/2005/Atom"}
        assert feed.xpath("//a:entry/a:id/text()", namespaces=ns)[0].endswith("/papers/1302.2146")


def test_the_tantivy_index_serves_either_database_once_built(store, tmp_path):
    """PostgreSQL's full text answers until a tantivy index exists in the data folder; then
    the index answers (ranking every full-text match costs seconds at 100k papers)."""
    from dailypapers.search.backends import keyword_backend

    load_demo(store)
    before = keyword_backend(store, str(tmp_path))
    if store.dialect == "postgresql":
        assert isinstance(before, FullText)
    else:
        assert before is None
    KeywordIndex.for_data_dir(tmp_path).update(store)
    after = keyword_backend(store, str(tmp_path))
    assert isinstance(after, KeywordIndex)
    assert ids(after, "same-sign dilepton")[0] == "1302.2146"


def test_an_index_left_from_another_catalog_is_rebuilt(tmp_path):
    """The database file was replaced but the data folder kept: no ghost papers in search."""
    from dailypapers.storage import open_store

    old = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    load_demo(old)
    keyword = KeywordIndex(tmp_path / "kw")
    keyword.update(old)
    old.close()
    new = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    with new.begin() as conn:
        write_papers(
            conn,
            [
                PaperRecord(
                    arxiv_id="2401.00042",
                    title="Sourdough kinetics",
                    abstract="Wild yeast.",
                    source="api",
                    versions=[VersionRecord(1, None)],
                )
            ],
        )
    keyword.update(new)
    assert keyword.count() == 1
    assert ids(keyword, "same-sign dilepton") == []
    assert ids(keyword, "sourdough") == ["2401.00042"]
    new.close()


def test_a_page_filter_alone_searches_and_the_stand_in_honours_filters(store, tmp_path):
    """`/search?q=&category=cs.SE` lists that category (the filter is the search), and before
    any index exists the substring stand-in keeps cat:/year:/author: instead of dropping them."""
    from fastapi.testclient import TestClient
    from lxml import html

    from dailypapers.config import load_config
    from dailypapers.web.app import create_app

    load_demo(store)
    config = load_config(
        environ={"DAILYPAPERS_DATA_DIR": str(tmp_path), "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    )
    with TestClient(create_app(config, store)) as client:
        if store.dialect == "sqlite":  # no index of any kind: the substring stand-in
            found = client.get("/api/papers/search", params={"q": "quantum year:2010-2012"})
            with store.connect() as conn:
                papers = [get_paper(conn, h["paper"]["id"]) for h in found.json()]
            assert papers and all(2010 <= p.published_at.year <= 2012 for p in papers)
            by_author = client.get("/api/papers/search", params={"q": "author:Perelstein"})
            assert [h["paper"]["id"] for h in by_author.json()] == ["1302.2146"]
        KeywordIndex.for_data_dir(tmp_path).rebuild(store)
        tree = html.fromstring(client.get("/search", params={"q": "", "category": "hep-ph"}).text)
        listed = tree.xpath("//article[contains(@class,'result')]/@id")
        assert listed and 'Words, "exact phrases"' not in tree.text_content()
        with store.connect() as conn:
            for item in listed:
                assert "hep-ph" in get_paper(conn, item.removeprefix("paper-")).categories
        empty = client.get("/search", params={"q": "", "has_code": "1"})
        assert 'Words, "exact phrases"' in empty.text  # code alone is not a search


def test_an_index_with_older_fields_is_rebuilt(store, tmp_path):
    load_demo(store)
    folder = tmp_path / "keyword"
    index = KeywordIndex(folder)
    index.rebuild(store)
    meta = folder / "dailypapers-index.json"
    stale = json.loads(meta.read_text())
    stale.pop("schema")  # as the first version wrote it
    meta.write_text(json.dumps(stale))
    reopened = KeywordIndex(folder)
    assert reopened.watermark is None and reopened.count() == 0
    assert reopened.update(store) > 500
    assert ids(reopened, "same-sign dilepton")[0] == "1302.2146"
