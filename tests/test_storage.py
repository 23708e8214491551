from dataclasses import asdict
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from dailypapers.domain.records import DailyEntry, PaperRecord, ParseProblem, VersionRecord
from dailypapers.ingest.arxiv_api import parse_api_feed
from dailypapers.ingest.arxiv_bulk import iter_snapshot
from dailypapers.ingest.arxiv_oai import parse_oai_page
from dailypapers.ingest.demo import load_demo
from dailypapers.ingest.hf_daily import iter_daily_papers
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.storage import schema, schema_revision
from dailypapers.storage.papers import get_paper, write_papers
from dailypapers.storage.stats import catalog_stats

from .conftest import DATA, DEMO


def record(arxiv_id="2401.00001", version=1, title="A title", **fields) -> PaperRecord:
    versions = [
        VersionRecord(n, datetime(2024, 1, n, 10, tzinfo=UTC), 10 * n)
        for n in range(1, version + 1)
    ]
    defaults = dict(
        abstract="An abstract.",
        source="oai",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.CL", "cs.LG"],
        versions=versions,
        latest_version=version,
        datestamp=date(2024, 1, version),
    )
    defaults.update(fields)
    return PaperRecord(arxiv_id, title, **defaults)


def write(store, records):
    with store.begin() as conn:
        return write_papers(conn, records)


def paper(store, arxiv_id):
    with store.connect() as conn:
        return get_paper(conn, arxiv_id)


def test_migrations_reach_head_and_match_the_schema(store):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from dailypapers.storage import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert schema_revision(store) == ScriptDirectory.from_config(config).get_current_head()
    import warnings

    inspector = sa.inspect(store.engine)
    warnings.filterwarnings("ignore", "Did not recognize type 'vector'")  # pgvector's type
    for table in schema.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        if store.dialect == "postgresql" and table.name == "papers":
            columns.remove("search_vector")  # PostgreSQL only, generated (migration 0003)
        assert columns == {c.name for c in table.columns}, table.name


def test_write_then_repeat_changes_nothing(store):
    counts = write(store, [record(), record("2401.00002")])
    assert (counts.new, counts.updated, counts.unchanged) == (2, 0, 0)
    before = paper(store, "2401.00001")
    counts = write(store, [record(), record("2401.00002")])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 2)
    assert paper(store, "2401.00001") == before


def test_stored_paper_round_trips(store):
    write(store, [record(version=2, comments="Code: https://github.com/a/b", dois=["10.1/x"])])
    stored = paper(store, "2401.00001")
    assert stored.authors == ["Ada Lovelace", "Alan Turing"]
    assert stored.primary_category == "cs.CL"
    assert stored.categories == ["cs.CL", "cs.LG"]
    assert stored.github_repos == ["https://github.com/a/b"] and stored.has_code
    assert stored.published_at == datetime(2024, 1, 1, 10)
    assert stored.updated_at == datetime(2024, 1, 2, 10)
    assert [v.version for v in stored.versions] == [1, 2]
    assert stored.versions[1].size_kb == 20
    assert stored.latest_version == 2


def test_new_version_updates_and_older_version_does_not_regress(store):
    write(store, [record(version=1, title="Old title")])
    counts = write(store, [record(version=2, title="New title")])
    assert counts.updated == 1
    assert paper(store, "2401.00001").title == "New title"
    counts = write(store, [record(version=1, title="Old title")])
    stored = paper(store, "2401.00001")
    assert stored.title == "New title" and stored.latest_version == 2
    assert counts.unchanged == 1


def test_a_poorer_source_fills_gaps_but_never_overwrites(store):
    write(store, [record(version=2, comments=None)])
    hf = PaperRecord(
        "2401.00001",
        "HF title",
        "HF abstract",
        source="hf-daily",
        authors=["X"],
        github_repo="https://github.com/org/repo",
        daily=DailyEntry(date(2024, 1, 5), "AK", "akhaliq", 12),
    )
    counts = write(store, [hf])
    stored = paper(store, "2401.00001")
    assert stored.title == "A title" and stored.authors == ["Ada Lovelace", "Alan Turing"]
    assert stored.github_repos == ["https://github.com/org/repo"]
    assert counts.updated == 1 and counts.daily_new == 1
    assert stored.daily["upvotes"] == 12 and stored.daily["day"] == date(2024, 1, 5)


def test_route_order_does_not_change_the_result(store, make_store):
    api = parse_api_feed((DEMO / "api" / "legacy-2016_id_list_1111.2011v2.xml").read_bytes())
    hf = PaperRecord(
        "1111.2011", "t", "a", source="hf-daily", daily=DailyEntry(date(2024, 1, 5), upvotes=3)
    )
    snap = PaperRecord(
        "1111.2011",
        "Snapshot title",
        "Snapshot abstract",
        source="snapshot",
        versions=[
            VersionRecord(1, datetime(2011, 11, 9, tzinfo=UTC), 500),
            VersionRecord(2, datetime(2012, 4, 12, tzinfo=UTC), 510),
        ],
        latest_version=2,
        datestamp=date(2012, 4, 13),
        categories=["cond-mat.str-el"],
    )
    for item in (api.records[0], hf, snap):
        write(store, [item])
    _, other = make_store()
    for item in (snap, hf, api.records[0]):
        write(other, [item])
    left, right = asdict(paper(store, "1111.2011")), asdict(paper(other, "1111.2011"))
    for row in (left, right):
        row.pop("created_at"), row.pop("modified_at"), row["daily"].pop("created_at")
        row["daily"].pop("id")
    assert left == right
    assert left["title"] == "Snapshot title" and len(left["versions"]) == 2


def test_same_paper_from_every_route_is_one_row(store):
    api = parse_api_feed((DEMO / "api" / "2026_id_list_2104.12255v1_versioned.xml").read_bytes())
    hf = list(iter_daily_papers((DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes()))
    write(store, api.records)
    write(store, [i for i in hf if not isinstance(i, ParseProblem)])
    write(store, api.records)
    with store.connect() as conn:
        stats = catalog_stats(conn)
        ids = conn.execute(sa.select(schema.papers.c.arxiv_id)).scalars().all()
    assert sorted(ids) == ["2104.12255", "2407.13168"]
    assert stats["daily_submissions"] == 2


def test_repeats_within_one_batch_merge(store):
    counts = write(store, [record(version=1), record(version=3), record(version=2)])
    assert counts.new == 1 and counts.unchanged == 2
    assert paper(store, "2401.00001").latest_version == 3
    assert len(paper(store, "2401.00001").versions) == 3


def test_deleted_record_hides_a_known_paper_and_ignores_unknown(store):
    write(store, [record()])
    gone = PaperRecord("2401.00001", "", "", source="oai", deleted=True)
    never = PaperRecord("2401.09999", "", "", source="oai", deleted=True)
    counts = write(store, [gone, never])
    assert counts.updated == 1 and counts.unchanged == 1
    assert paper(store, "2401.00001").hidden is True
    assert paper(store, "2401.09999") is None


def test_a_failing_batch_writes_nothing(store):
    write(store, [record("2401.00001")])
    with pytest.raises(RuntimeError), store.begin() as conn:
        write_papers(conn, [record("2401.00002"), record("2401.00001", version=2)])
        raise RuntimeError("crash mid-batch")
    assert paper(store, "2401.00002") is None
    assert paper(store, "2401.00001").latest_version == 1


def test_oai_fixtures_then_snapshot_then_api_are_idempotent(store):
    pages = [
        parse_oai_page(p.read_bytes()) for p in sorted((DEMO / "oai").glob("*listrecords*.xml"))
    ]
    for result in pages:
        write(store, result.records)
    with open(DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl", "rb") as lines:
        write(store, list(iter_snapshot(lines, "s")))
    with store.connect() as conn:
        first = catalog_stats(conn)
    for result in pages:
        counts = write(store, result.records)
        assert counts.new == counts.updated == 0
    with store.connect() as conn:
        assert catalog_stats(conn) == first


def test_demo_loads_once_with_daily_lists(store):
    report = load_demo(store)
    assert (
        report.clean and report.counts.daily_new == 71 + 18
    )  # the seed page, its newest day filled
    again = load_demo(store)
    assert again.counts.new == again.counts.updated == 0 and again.counts.daily_new == 0
    with store.connect() as conn:
        stats = catalog_stats(conn)
    assert stats["daily_submissions"] == 89
    assert stats["papers"] == report.counts.new
    assert stats["versions"] > stats["papers"]
    assert stats["daily_first"] == "2019-08-14" and stats["daily_last"] == "2025-10-29"
    assert stats["primary_categories"]["quant-ph"] > 0


def test_daily_json_upvote_change_is_an_update(store):
    data = (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes()
    first = ingest_daily_json(store, data, "day.json")
    assert first.counts.daily_new == 2 and sum(first.skipped.values()) == 3
    assert not first.clean
    changed = data.replace(b'"upvotes": 17', b'"upvotes": 18')
    second = ingest_daily_json(store, changed, "day.json")
    assert second.counts.daily_updated == 1 and second.counts.daily_new == 0
    assert paper(store, "2407.13168").daily["upvotes"] == 18


def test_snapshot_parsed_in_a_pool_matches_parsing_in_process(store, make_store, tmp_path):
    from dailypapers.ingest.run import ingest_snapshot

    from .conftest import dump_catalog

    lines = (DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl").read_bytes().splitlines()
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"\n".join([*lines[:5], b"{bad", *lines[5:]]) + b"\n")
    pooled = ingest_snapshot(store, path, batch_size=4, workers=2)
    _, other = make_store()
    inline = ingest_snapshot(other, path, batch_size=4, workers=0)
    assert pooled.summary() == inline.summary()
    assert (
        [str(p) for p in pooled.problems]
        == [str(p) for p in inline.problems]
        == [
            "s.jsonl:6: invalid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)"
        ]
    )
    assert dump_catalog(store) == dump_catalog(other)
