"""Bulk loads (storage/bulk.py): prepared rows, the secondary indexes dropped for the load and
always back after it; on SQLite and on PostgreSQL."""

from datetime import UTC, date, datetime

import pytest

from dailypapers.domain.records import DailyEntry, PaperRecord
from dailypapers.storage import open_store
from dailypapers.storage.bulk import bulk_load, prepare_paper
from dailypapers.storage.papers import write_papers


def index_definitions(store) -> list[tuple[str, str]]:
    with store.connect() as conn:
        if store.dialect == "sqlite":
            query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
        else:
            query = (
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() ORDER BY indexname"
            )
        return [tuple(row) for row in conn.exec_driver_sql(query)]


def deferred(store) -> list[str]:
    with store.connect() as conn:
        return list(conn.exec_driver_sql("SELECT name FROM deferred_indexes").scalars())


def test_opening_the_catalog_during_a_bulk_load_leaves_its_indexes_alone(
    store, database_url, make_store
):
    record = PaperRecord(
        "2304.00001", "A title", "An abstract.", source="snapshot", categories=["cs.CL"]
    )
    _, fresh = make_store()
    with bulk_load(store) as write:
        assert write([prepare_paper(record, store.dialect)]).new == 1
        dropped = deferred(store)
        assert "ix_papers_published_at" in dropped
        other = open_store(database_url)  # would rebuild them, were the load not running
        other.close()
        assert deferred(store) == dropped
        assert index_definitions(store) != index_definitions(fresh)
    assert deferred(store) == []
    assert index_definitions(store) == index_definitions(fresh)


def test_indexes_the_load_reads_stay(store):
    """The local papers' partial index always (small, and twins are found through it), and
    the papers' dates while local papers are there (their arXiv twins are found by date)."""
    with bulk_load(store):
        assert "ix_papers_published_at" in deferred(store)
        assert "ix_papers_local_published_at" not in deferred(store)
    local = PaperRecord(
        "local-4a1c934d3d98",
        "Attention Is All You Need",
        "An abstract.",
        source="demo",
        published_at=datetime(2017, 6, 12, tzinfo=UTC),
    )
    with store.begin() as conn:
        write_papers(conn, [local])
    with bulk_load(store):
        assert "ix_papers_modified_at" in deferred(store)
        assert "ix_papers_published_at" not in deferred(store)
    assert deferred(store) == []


def test_prepare_refuses_what_needs_the_catalog():
    deleted = PaperRecord("2401.00001", "", "", source="oai", deleted=True)
    daily = PaperRecord(
        "2401.00002", "t", "a", source="hf-daily", daily=DailyEntry(date(2024, 1, 5))
    )
    local = PaperRecord("local-4a1c934d3d98", "t", "a", source="demo")
    for record in (deleted, daily, local):
        with pytest.raises(ValueError, match="arXiv papers, no deletions or daily entries"):
            prepare_paper(record, "sqlite")


def test_prepared_rows_hold_what_the_driver_takes():
    record = PaperRecord(
        "0704.0001",
        "A title",
        "An abstract.",
        source="snapshot",
        categories=["hep-ph", "hep-ph"],
        authors=["C. Balázs"],
        published_at=datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC),
    )
    arxiv_id, values, versions, categories = prepare_paper(record, "sqlite")
    assert arxiv_id == "0704.0001" and versions == []
    assert categories == [("0704.0001", "hep-ph", True)]
    assert '["C. Balázs"]' in values and "2007-04-02 19:18:42.000000" in values
    _, values, _, _ = prepare_paper(record, "postgresql")
    assert datetime(2007, 4, 2, 19, 18, 42) in values
