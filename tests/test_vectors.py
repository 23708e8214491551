"""Embeddings with the real all-MiniLM-L6-v2 model: the resumable job, stored vectors on SQLite
and PostgreSQL (pgvector), similar papers in the API, the page and the CLI."""

import json

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from lxml import html

from dailypapers.cli import cli
from dailypapers.config import load_config
from dailypapers.domain.records import PaperRecord, VersionRecord
from dailypapers.ingest.arxiv_bulk import iter_snapshot
from dailypapers.ingest.demo import iter_seed_papers
from dailypapers.search.vector import Embedder, embed_pending, paper_text
from dailypapers.storage.papers import get_paper, write_papers
from dailypapers.storage.schema import paper_vectors
from dailypapers.storage.vectors import count_pending, nearest, save_vectors, vector_of
from dailypapers.web.app import create_app

from .conftest import DEMO

SATELLITE = "local-8df39cf8a6a6"  # the seed paper on EuroSAT land-use classification


def small_catalog() -> list[PaperRecord]:
    """The 71 seed papers (machine learning) and 17 snapshot papers (physics, maths)."""
    records = [r for r in iter_seed_papers(DEMO / "seed-papers.json") if isinstance(r, PaperRecord)]
    with open(DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl", "rb") as lines:
        records += [r for r in iter_snapshot(lines, "s") if isinstance(r, PaperRecord)]
    return records


@pytest.fixture(scope="session")
def embedder():
    return Embedder()


@pytest.fixture(scope="session")
def catalog_vectors(embedder):
    records = small_catalog()
    vectors = embedder.embed([paper_text(r.title, r.abstract) for r in records])
    return {r.arxiv_id: (r.latest_version or 0, v) for r, v in zip(records, vectors)}


@pytest.fixture
def catalog(store, catalog_vectors, embedder):
    with store.begin() as conn:
        write_papers(conn, small_catalog())
        save_vectors(
            conn, embedder.name, [(i, version, v) for i, (version, v) in catalog_vectors.items()]
        )
    return store


def test_the_model_is_the_real_one(embedder):
    vectors = embedder.embed(
        [
            "attention heads reading chunks of a long document",
            "sparse attention for long documents",
            "the thermal conductivity of copper at low temperature",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2]
    assert embedder.name == "sentence-transformers/all-MiniLM-L6-v2@128"


def test_embedding_job_is_resumable_and_replaces_on_a_new_version(store, embedder):
    with store.begin() as conn:
        write_papers(conn, small_catalog()[-20:])
    first = embed_pending(store, embedder, batch_size=8, stop_after=8)
    assert first == 8  # "killed" after one batch
    with store.connect() as conn:
        assert count_pending(conn, embedder.name) == 12
    assert embed_pending(store, embedder, batch_size=8) == 12
    assert embed_pending(store, embedder) == 0
    renamed = PaperRecord(
        "0704.0001",
        "A completely different title about graph colouring",
        "Graph colouring bounds.",
        source="oai",
        latest_version=3,
        versions=[VersionRecord(3)],
    )
    with store.begin() as conn:
        write_papers(conn, [renamed])
        before = vector_of(conn, "0704.0001", embedder.name)
    assert embed_pending(store, embedder) == 1
    with store.connect() as conn:
        after = vector_of(conn, "0704.0001", embedder.name)
        rows = conn.execute(
            sa.select(sa.func.count())
            .select_from(paper_vectors)
            .where(paper_vectors.c.arxiv_id == "0704.0001")
        ).scalar_one()
        version = conn.execute(
            sa.select(paper_vectors.c.version).where(paper_vectors.c.arxiv_id == "0704.0001")
        ).scalar_one()
    assert rows == 1 and version == 3 and float(before @ after) < 0.9


def test_a_paraphrase_finds_the_paper(catalog, embedder):
    query = embedder.embed(
        [
            "classifying land use from satellite pictures with a custom CNN "
            "and attention, trained from scratch"
        ]
    )[0]
    with catalog.connect() as conn:
        found = nearest(conn, query, embedder.name, 5)
    assert found[0][0] == SATELLITE
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)


def test_similar_papers_exclude_the_paper_and_agree_across_databases(
    catalog, embedder, catalog_vectors
):
    with catalog.connect() as conn:
        vector = vector_of(conn, SATELLITE, embedder.name)
        found = nearest(conn, vector, embedder.name, 5, exclude=[SATELLITE])
    assert SATELLITE not in [i for i, _ in found] and len(found) == 5
    # the same answer an exact computation over the stored vectors gives
    ids = [i for i in catalog_vectors if i != SATELLITE]
    matrix = np.stack([catalog_vectors[i][1] for i in ids])
    exact = [ids[k] for k in np.argsort(-(matrix @ catalog_vectors[SATELLITE][1]))[:5]]
    assert [i for i, _ in found] == exact
    # machine-learning neighbours for a machine-learning paper, not the physics ones
    with catalog.connect() as conn:
        assert all(get_paper(conn, i).is_local for i, _ in found)


def test_similar_in_the_api_and_on_the_paper_page(catalog, tmp_path):
    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)})
    with TestClient(create_app(config, catalog)) as client:
        items = client.get(f"/api/papers/{SATELLITE}/similar", params={"limit": 3}).json()
        assert len(items) == 3 and all(i["paper"]["id"] != SATELLITE for i in items)
        assert all(i["title"] and 0 < i["similarity"] <= 1 for i in items)
        assert [i["similarity"] for i in items] == sorted(
            (i["similarity"] for i in items), reverse=True
        )
        assert client.get("/api/papers/1234.56789/similar").status_code == 404
        assert (
            client.get(f"/api/papers/{SATELLITE}/similar", params={"limit": "0"}).status_code == 400
        )
        page = html.fromstring(client.get(f"/papers/{SATELLITE}").text)
        listed = page.xpath("//section[@id='similar']//li/a/@href")
        assert listed[:3] == [f"/papers/{i['paper']['id']}" for i in items]


def test_cli_index_embeds_and_similar_answers(tmp_path, database_url, embedder):
    env = {
        "DAILYPAPERS_DATABASE_URL": database_url,
        "DAILYPAPERS_DATA_DIR": str(tmp_path),
        # the ONNX file the session's embedder made, not a conversion per test
        "DAILYPAPERS_EMBEDDING_CACHE_DIR": str(embedder.cache_dir),
    }
    runner = CliRunner()
    snapshot = DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl"
    assert runner.invoke(cli, ["ingest", "snapshot", str(snapshot)], env=env).exit_code == 0
    before = runner.invoke(cli, ["similar", "0704.0001"], env=env)
    assert before.exit_code == 1 and "has no embedding yet" in before.output
    built = runner.invoke(cli, ["index"], env=env)
    assert built.exit_code == 0, built.output
    assert "embeddings: 17 papers embedded with sentence-transformers/all-MiniLM-L6-v2@128" in (
        built.output
    )
    result = runner.invoke(cli, ["similar", "arXiv:0704.0001v2", "--json", "--limit", "3"], env=env)
    found = json.loads(result.output)
    assert len(found) == 3 and "0704.0001" not in [f["id"] for f in found]


def test_score_fusion_arithmetic():
    from dailypapers.search.hybrid import fuse_scores

    keyword = [("a", 10.0), ("b", 6.0), ("c", 2.0)]
    semantic = [("c", 0.8), ("d", 0.6), ("b", 0.4)]
    fused = dict(fuse_scores(keyword, semantic, 0.25))
    # BM25 divided by its best; a paper a leg did not bring gets that leg's lowest score
    assert fused["a"] == pytest.approx(0.25 * 1.0 + 0.75 * 0.4)
    assert fused["b"] == pytest.approx(0.25 * 0.6 + 0.75 * 0.4)
    assert fused["c"] == pytest.approx(0.25 * 0.2 + 0.75 * 0.8)
    assert fused["d"] == pytest.approx(0.25 * 0.2 + 0.75 * 0.6)
    assert [i for i, _ in fuse_scores(keyword, semantic, 1.0)][:3] == ["a", "b", "c"]
    assert [i for i, _ in fuse_scores(keyword, semantic, 0.0)][:2] == ["c", "d"]
    # one leg alone keeps its own order
    assert [i for i, _ in fuse_scores(keyword, [], 0.3)] == ["a", "b", "c"]
    assert [i for i, _ in fuse_scores([], semantic, 0.3)] == ["c", "d", "b"]
    assert fuse_scores([], [], 0.3) == []


@given(
    keyword=st.lists(st.floats(0.01, 100), min_size=1, max_size=30),
    semantic=st.lists(st.floats(-1, 1), min_size=1, max_size=30),
    share=st.floats(0, 1),
)
def test_fusion_never_drops_a_paper_both_legs_rank_first(keyword, semantic, share):
    from dailypapers.search.hybrid import fuse_scores

    keyword_hits = [("top", max(keyword))] + [(f"k{n}", s) for n, s in enumerate(keyword)]
    semantic_hits = [("top", max(semantic))] + [(f"s{n}", s) for n, s in enumerate(semantic)]
    keyword_hits.sort(key=lambda hit: -hit[1])
    semantic_hits.sort(key=lambda hit: -hit[1])
    fused = fuse_scores(keyword_hits, semantic_hits, share)
    assert fused[0][0] == "top" or fused[0][1] == pytest.approx(fused[1][1])
    assert {i for i, _ in fused} == {i for i, _ in keyword_hits + semantic_hits}


@pytest.fixture
def hybrid_setup(catalog, embedder, tmp_path):
    from dailypapers.search.backends import keyword_backend
    from dailypapers.search.keyword import KeywordIndex

    if catalog.dialect == "sqlite":
        KeywordIndex.for_data_dir(tmp_path).rebuild(catalog)
    return catalog, keyword_backend(catalog, str(tmp_path)), tmp_path


def test_hybrid_finds_paraphrases_and_keeps_filters_inside_each_leg(hybrid_setup, embedder):
    from dailypapers.domain.query import parse_query
    from dailypapers.search.backends import semantic_backend
    from dailypapers.search.hybrid import hybrid_search

    store, keyword, data_dir = hybrid_setup
    semantic = semantic_backend(store, str(data_dir), embedder.name)

    def run(text, **kwargs):
        return [
            h.arxiv_id
            for h in hybrid_search(
                store,
                parse_query(text),
                keyword=keyword,
                semantic=semantic,
                embedder=embedder,
                limit=10,
                **kwargs,
            )
        ]

    # a paraphrase ("remote sensing scene" for "satellite land use") still comes first
    assert run("remote sensing scene classification with attention")[0] == SATELLITE
    # exact title words: the keyword leg puts it first; MiniLM does not know "EuroSAT" and
    # ranks it 8th, so equal-weight fusion keeps it near the top but not always first (the
    # fusion weights are to be tuned on the judged queries of bench/search_quality.py)
    assert SATELLITE in run("balanced multi-task attention EuroSAT")[:3]
    # filters apply inside both legs
    with store.connect() as conn:
        for arxiv_id in run("particles and fields cat:hep-ph"):
            assert "hep-ph" in get_paper(conn, arxiv_id).categories
        for arxiv_id in run("neural networks year:2007"):
            assert get_paper(conn, arxiv_id).published_at.year == 2007
    # exclusions are honoured by the semantic leg too
    assert SATELLITE not in run("satellite image classification -satellite")
    # a pasted abstract goes to the semantic leg and finds its paper
    with store.connect() as conn:
        abstract = get_paper(conn, SATELLITE).abstract
    assert run(abstract)[0] == SATELLITE
    # the keyword share follows the query's length: a share of 1 gives the keyword leg's order,
    # 0 the semantic leg's (which differs), so each query must take its own setting
    for text, shares in [
        (abstract, {"keyword_share": 0.0, "keyword_share_long": 1.0}),
        ("remote sensing scene classification", {"keyword_share": 1.0, "keyword_share_long": 0.0}),
    ]:
        by_words = [hit.arxiv_id for hit in keyword.search(parse_query(text), limit=10)]
        assert run(text, **shares) == by_words


def test_api_search_is_hybrid_once_vectors_exist(hybrid_setup, embedder):
    store, _keyword, data_dir = hybrid_setup
    config = load_config(
        environ={"DAILYPAPERS_DATA_DIR": str(data_dir), "DAILYPAPERS_PAGE_CACHE_SECONDS": "0"}
    )
    app = create_app(config, store, embedder=embedder)  # the session's model, loaded once
    with TestClient(app) as client:
        hits = client.get(
            "/api/papers/search",
            params={"q": "remote sensing scene classification with attention", "limit": 5},
        ).json()
        assert hits[0]["paper"]["id"] == SATELLITE
        page = html.fromstring(
            client.get(
                "/search", params={"q": "remote sensing scene classification with attention"}
            ).text
        )
        assert page.xpath("//article[contains(@class,'result')]/@id")[0] == f"paper-{SATELLITE}"


def test_usearch_index_beside_sqlite(tmp_path, catalog_vectors, embedder, monkeypatch):
    from dailypapers.search.ann import VectorIndex, semantic_neighbours
    from dailypapers.storage import open_store

    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    with store.begin() as conn:
        write_papers(conn, small_catalog())
        save_vectors(
            conn, embedder.name, [(i, version, v) for i, (version, v) in catalog_vectors.items()]
        )
    index = VectorIndex.for_data_dir(tmp_path, embedder.name)
    assert index.rebuild(store) == len(catalog_vectors) == len(index)
    overlaps = []
    with store.connect() as conn:
        for arxiv_id in list(catalog_vectors)[:20]:
            vector = catalog_vectors[arxiv_id][1]
            exact = [i for i, _ in nearest(conn, vector, embedder.name, 5, [arxiv_id])]
            approximate = [i for i, _ in index.search(vector, 5, [arxiv_id])]
            overlaps.append(len(set(exact) & set(approximate)) / 5)
    assert sum(overlaps) / len(overlaps) >= 0.9
    # reopened from disk, and used by the neighbour search
    reopened = VectorIndex.for_data_dir(tmp_path, embedder.name)
    assert len(reopened) == len(catalog_vectors)
    found = semantic_neighbours(
        store, str(tmp_path), embedder.name, catalog_vectors[SATELLITE][1], 3, [SATELLITE]
    )
    assert len(found) == 3 and SATELLITE not in [i for i, _ in found]
    # a new vector for a paper replaces its old one
    moved = embedder.embed(["graph colouring of sparse random graphs"])[0]
    with store.begin() as conn:
        save_vectors(conn, embedder.name, [(SATELLITE, 2, moved)])
    reader = VectorIndex.reader(tmp_path, embedder.name)
    assert reader is not None and reader.search(moved, 1)[0][0] != SATELLITE
    # before the index is written again, searches compare the new vector exactly, and the
    # paper's old vector in the index no longer speaks for it
    near_old = semantic_neighbours(
        store, str(tmp_path), embedder.name, catalog_vectors[SATELLITE][1], 5
    )
    assert SATELLITE not in [i for i, _ in near_old]
    assert semantic_neighbours(store, str(tmp_path), embedder.name, moved, 1)[0][0] == SATELLITE
    assert VectorIndex.for_data_dir(tmp_path, embedder.name).pending(store) == 1
    # a delta too big to compare at each search (a backfill under way) waits for the index
    import dailypapers.search.ann as ann

    monkeypatch.setattr(ann, "DELTA_EXACT_MAX", 0)
    assert semantic_neighbours(store, str(tmp_path), embedder.name, moved, 1)[0][0] != SATELLITE
    monkeypatch.undo()
    assert reopened.update(store) >= 1 and len(reopened) == len(catalog_vectors)
    assert reopened.search(moved, 1)[0][0] == SATELLITE
    # a searching process sees the new generation without being restarted
    fresh = VectorIndex.reader(tmp_path, embedder.name)
    assert fresh is not reader and len(fresh) == len(catalog_vectors)
    assert fresh.search(moved, 1)[0][0] == SATELLITE
    assert semantic_neighbours(store, str(tmp_path), embedder.name, moved, 1)[0][0] == SATELLITE
    # only the current generation stays on disk
    folder = tmp_path / "search" / "vectors"
    assert len(list(folder.rglob("vectors.*.usearch"))) == 1
    store.close()


def test_concurrent_queries_are_batched_and_get_their_own_vectors(embedder):
    from concurrent.futures import ThreadPoolExecutor

    texts = [
        f"{topic} for {task}"
        for topic in (
            "graph neural networks",
            "diffusion models",
            "quantum error correction",
            "sparse attention",
        )
        for task in ("long documents", "protein folding", "speech")
    ]
    alone = embedder.embed(texts)
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(embedder.embed_query, texts * 2))
    for number, vector in enumerate(together):
        assert np.allclose(vector, alone[number % len(texts)], atol=1e-5)
    assert not embedder._waiting and not embedder._busy


def test_recent_query_vectors_are_reused(embedder):
    cached = Embedder(query_cache=2)
    cached._model = embedder._load()  # the session's model, not a second copy
    first = cached.embed_query("graph neural networks")
    again = cached.embed_query("graph neural networks")
    assert np.array_equal(first, again) and again is not first  # a copy: callers may modify
    first[:] = 0
    assert np.abs(cached.embed_query("graph neural networks")).sum() > 0
    cached.embed_query("diffusion models")
    cached.embed_query("quantum error correction")
    assert list(cached._cache) == ["diffusion models", "quantum error correction"]


def test_index_lock_lets_one_process_update(tmp_path, store, embedder):
    from dailypapers.services.indexing import index_lock, update_indexes

    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)})
    with index_lock(tmp_path, wait=False) as first:
        assert first
        with index_lock(tmp_path, wait=False) as second:
            assert not second
        assert update_indexes(store, config, embedder) is None
    with index_lock(tmp_path, wait=False) as again:
        assert again


def test_a_round_brings_every_index_up_to_date(tmp_path, store, embedder):
    from dailypapers.domain.query import parse_query
    from dailypapers.search.ann import VectorIndex
    from dailypapers.search.backends import keyword_backend
    from dailypapers.services.indexing import update_indexes

    config = load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)})
    with store.begin() as conn:
        write_papers(conn, small_catalog())
    first = update_indexes(store, config, embedder, background=True)
    assert first is not None and first.embedded == len(small_catalog())
    with store.connect() as conn:
        assert count_pending(conn, embedder.name) == 0
    hits = keyword_backend(store, str(tmp_path)).search(parse_query("EuroSAT land use"), limit=3)
    assert hits[0].arxiv_id == SATELLITE
    if store.dialect == "sqlite":
        assert first.keyword == first.vectors == len(small_catalog())
        assert len(VectorIndex.reader(tmp_path, embedder.name)) == len(small_catalog())
    second = update_indexes(store, config, embedder, background=True)
    assert second is not None and second.embedded == 0
    if store.dialect == "sqlite":
        assert len(VectorIndex.for_data_dir(tmp_path, embedder.name)) == len(small_catalog())


def test_serve_makes_a_new_paper_searchable_by_itself(tmp_path, embedder):
    """The web process's own jobs: a paper written after start-up is found by keyword after
    one keyword-index round and has a vector from the embeddings job, with nobody running
    `dailypapers index`."""
    import time

    from dailypapers.storage import open_store

    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    with store.begin() as conn:
        write_papers(conn, small_catalog()[:10])
    config = load_config(
        environ={
            "DAILYPAPERS_DATA_DIR": str(tmp_path),
            "DAILYPAPERS_INDEX_INTERVAL_SECONDS": "3600",
            "DAILYPAPERS_PAGE_CACHE_SECONDS": "0",
            "DAILYPAPERS_HARVEST_SETS": "",
            "DAILYPAPERS_ANNOUNCEMENT_CATEGORIES": "",
            "DAILYPAPERS_THUMBNAILS_SCHEDULE": "0",
            "DAILYPAPERS_EMBEDDINGS_SCHEDULE": "1",
            "DAILYPAPERS_RATE_SEARCH": "10000/minute",  # the test polls search
        }
    )
    app = create_app(config, store, background_index=True, embedder=embedder)
    newcomer = PaperRecord(
        arxiv_id="2401.00042",
        title="Zymurgical fermentation kinetics of sourdough starters",
        abstract="We model wild yeast and lactobacilli in sourdough starters.",
        authors=["A. Baker"],
        categories=["q-bio.PE"],
        versions=[VersionRecord(1, None)],
        source="api",
    )
    with TestClient(app) as client:
        jobs = app.state.site.process_jobs
        jobs.wake()
        deadline = time.monotonic() + 60
        while jobs.rounds < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        with store.begin() as conn:
            write_papers(conn, [newcomer])
        before = client.get("/api/papers/search", params={"q": "zymurgical sourdough"}).json()
        assert "2401.00042" not in [hit["paper"]["id"] for hit in before]
        # The process's keyword-index job finds it (woken here rather than waiting out the
        # hour; a round already running when it was written may not see it, the next does).
        while True:
            found = client.get("/api/papers/search", params={"q": "zymurgical sourdough"})
            if "2401.00042" in [hit["paper"]["id"] for hit in found.json()]:
                break
            assert time.monotonic() < deadline, "the keyword-index job never indexed it"
            jobs.wake()
            time.sleep(0.2)

        def embedded() -> bool:
            with store.connect() as conn:
                return vector_of(conn, "2401.00042", embedder.name) is not None

        while not embedded() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert embedded()
        # With its vector too (the embeddings job, every second here) it leads: until then
        # only its keyword share counted, and a semantically close paper could come first.
        found = client.get("/api/papers/search", params={"q": "zymurgical sourdough"}).json()
        assert [hit["paper"]["id"] for hit in found][:1] == ["2401.00042"]
    assert not jobs._thread.is_alive()  # stopped with the app
    assert not app.state.site.scheduler._thread.is_alive()
    store.close()


def test_pgvector_index_scan_returns_more_than_its_default_breadth(catalog, embedder):
    """pgvector's HNSW scan stops at hnsw.ef_search rows (40 by default): asking for 60 of
    88 papers through the index must still give 60, in similarity order."""
    if catalog.dialect != "postgresql":
        pytest.skip("pgvector only")
    query = embedder.embed(["sparse attention for long documents"])[0]
    with catalog.connect() as conn:
        conn.exec_driver_sql("ANALYZE paper_vectors")  # make the planner use the index
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        found = nearest(conn, query, embedder.name, 60)
    assert len(found) == 60
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
