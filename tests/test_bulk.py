"""Bulk loads (storage/bulk.py, and ingest_snapshot's bulk mode): the same catalog as the normal
path, the secondary indexes always back, nothing half-written when the process dies; on SQLite
and on PostgreSQL."""

import gzip
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path

import pytest
import sqlalchemy as sa

from dailypapers.domain.records import DailyEntry, PaperRecord
from dailypapers.ingest import run
from dailypapers.ingest.demo import iter_seed_papers
from dailypapers.ingest.run import ingest_snapshot
from dailypapers.storage import open_store
from dailypapers.storage.bulk import bulk_load, prepare_paper
from dailypapers.storage.papers import changed_papers, get_paper, write_papers

from .conftest import DATA, DEMO, SHARED

SAMPLE = DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl"
FIXTURE = SHARED / "fixtures" / "arxiv" / "snapshot" / "arxiv-metadata-oai-snapshot.sample.jsonl"
REAL = SHARED / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
LOADED = (
    "papers",
    "paper_versions",
    "paper_categories",
    "paper_authors",
    "daily_submissions",
    "paper_aliases",
)


def snapshot_line(arxiv_id: str, versions: list[str], **fields: object) -> bytes:
    """A snapshot line for `arxiv_id` with versions `["Mon, 2 Jan 2023 10:00:00 GMT", ...]`."""
    item = {
        "id": arxiv_id,
        "submitter": "Ada Lovelace",
        "authors": "Ada Lovelace, Alan Turing",
        "title": f"Paper {arxiv_id}",
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.CL",
        "license": None,
        "abstract": "  An abstract\nthat wraps.\n",
        "versions": [{"version": f"v{n}", "created": c} for n, c in enumerate(versions, 1)],
        "update_date": "2023-01-10",
        "authors_parsed": [["Lovelace", "Ada", ""], ["Turing", "Alan", ""]],
    }
    item.update(fields)
    return json.dumps(item, ensure_ascii=False).encode()


def generated_lines() -> list[bytes]:
    """Repeats of one paper within a batch and across batches, newer and older versions,
    withdrawals, a paper without versions, repeated categories, links, problems."""
    day = ["Mon, 2 Jan 2023 10:00:00 GMT", "Tue, 3 Jan 2023 11:00:00 GMT"]
    day3 = [*day, "Fri, 6 Jan 2023 09:30:00 GMT"]
    return [
        snapshot_line("2301.00001", day[:1], title="First title"),
        snapshot_line("2301.00002", day[:1], abstract="One."),
        snapshot_line("2301.00002", day3, abstract="Three.", categories="cs.LG cs.CL"),
        snapshot_line("2301.00002", day, abstract="Two.", update_date="2023-01-04"),
        snapshot_line(
            "2301.00001",
            day,
            title="Second title",
            categories="cs.CL cs.LG cs.CL",
            comments="Code: https://github.com/ada/engine. Site https://ada.example.org/",
        ),
        b"{broken",
        snapshot_line("2301.00003", day, abstract="This paper has been withdrawn."),
        snapshot_line("2301.00004", [], title="No versions", update_date=None),
        snapshot_line("2301.00004", [], title="No versions", update_date=None),
        snapshot_line("2301.00005", day, title=""),
        snapshot_line("math/0301001", day[:1], authors_parsed=[["Gähler", "Franz", ""]]),
        snapshot_line("2301.00001", day[:1], title="Old title", update_date="2022-12-01"),
        snapshot_line("2301.00003", day[:1], abstract="Not withdrawn in v1."),
        snapshot_line(
            "2301.00006",
            day,
            abstract="  First paragraph\nwraps.\n  Second paragraph.\n",
            doi="10.1/a 10.1/b",
            **{"journal-ref": "J. Tests 1 (2023)"},
        ),
        snapshot_line("math/0301001v2", day, update_date="2023-02-01"),
    ]


def write_snapshot(path: Path, lines: list[bytes]) -> Path:
    with gzip.open(path, "wb") as out:
        out.write(b"\n".join(lines) + b"\n")
    return path


def mixed_snapshot(folder: Path) -> Path:
    """The demo sample and the shared fixture (real lines), 1,000 real papers from the shared
    sample where it is present, and the generated repeats, interleaved."""
    lines = SAMPLE.read_bytes().splitlines()
    if FIXTURE.exists():
        lines += FIXTURE.read_bytes().splitlines()  # the same papers again: all repeats
    if REAL.exists():
        with gzip.open(REAL, "rb") as real:
            lines += [line.rstrip(b"\n") for line in islice(real, 1000)]
    generated = generated_lines()
    mixed = generated[:8] + lines[:700] + generated[8:] + lines[700:] + generated
    return write_snapshot(folder / "mixed.json.gz", mixed)


def table_rows(store) -> dict[str, list[tuple]]:
    """Every row of the tables a load writes, as text, without our own timestamps (on
    PostgreSQL the papers' generated tsvector column comes along)."""
    out = {}
    with store.connect() as conn:
        for table in LOADED:
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").mappings().all()
            out[table] = sorted(
                tuple(
                    (k, str(v))
                    for k, v in sorted(row.items())
                    if k not in ("created_at", "modified_at")
                )
                for row in rows
            )
    return out


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


def changed_since(store, since: datetime | None) -> list[dict]:
    """What the search indexer reads (storage/papers.py changed_papers), less the time."""
    with store.connect() as conn:
        rows = changed_papers(conn, since, None, 1_000_000)
    for row in rows:
        row.pop("modified_at")
    return sorted(rows, key=lambda row: row["arxiv_id"])


def age_every_change(store) -> None:
    """Mark every paper as written long ago, so the next run's changes stand apart."""
    with store.begin() as conn:
        conn.exec_driver_sql("UPDATE papers SET modified_at = '2001-01-01 00:00:00'")


def test_bulk_load_gives_the_catalog_of_the_normal_path(store, make_store, tmp_path):
    path = mixed_snapshot(tmp_path)
    normal = ingest_snapshot(store, path, batch_size=25, workers=0, bulk=False)
    _, other = make_store()
    bulk = ingest_snapshot(other, path, batch_size=25, workers=2, bulk=True)

    assert bulk.summary() == normal.summary()
    assert [str(p) for p in bulk.problems] == [str(p) for p in normal.problems]
    assert normal.counts.unchanged > 0 and normal.counts.updated > 0 and len(normal.problems) == 4
    assert table_rows(other) == table_rows(store)
    assert changed_since(other, None) == changed_since(store, None)
    assert index_definitions(other) == index_definitions(store)
    assert deferred(other) == []
    with other.connect() as conn:
        second = get_paper(conn, "2301.00001")
    assert second.title == "Second title" and second.latest_version == 2
    assert second.github_repos == ["https://github.com/ada/engine"]

    # The next snapshot on top: new versions, repeats, a paper seen for the first time.
    age_every_change(store), age_every_change(other)
    day4 = [f"{d} Jan 2023 10:00:00 GMT" for d in ("Mon, 2", "Tue, 3", "Wed, 4", "Thu, 5")]
    update = write_snapshot(
        tmp_path / "update.json.gz",
        [
            snapshot_line("2301.00002", day4, abstract="Four.", update_date="2023-01-05"),
            *SAMPLE.read_bytes().splitlines()[:5],
            snapshot_line("2301.00009", day4[:1]),
            snapshot_line("2301.00001", day4[:2], title="Second title, again"),
            snapshot_line("2301.00009", day4[:2]),
        ],
    )
    normal = ingest_snapshot(store, update, batch_size=3, workers=0, bulk=False)
    bulk = ingest_snapshot(other, update, batch_size=3, workers=0, bulk=True)
    assert bulk.summary() == normal.summary()
    assert (normal.counts.new, normal.counts.updated, normal.counts.unchanged) == (1, 2, 6)
    assert table_rows(other) == table_rows(store)
    watermark = datetime(2001, 1, 2)
    assert [r["arxiv_id"] for r in changed_since(other, watermark)] == [
        "2301.00001",
        "2301.00002",
        "2301.00009",
    ]
    assert changed_since(other, watermark) == changed_since(store, watermark)
    assert index_definitions(other) == index_definitions(store)


def test_local_papers_join_their_arxiv_twins_in_a_bulk_load_as_in_the_normal_path(
    store, make_store, tmp_path
):
    """The demo's seed page (local ids, daily entries) first; then a snapshot that brings the
    arXiv records of two of them, among others."""
    seed = [r for r in iter_seed_papers(DEMO / "seed-papers.json") if isinstance(r, PaperRecord)]
    _, other = make_store()
    for catalog in (store, other):
        with catalog.begin() as conn:
            write_papers(conn, seed)
    lines = (
        SAMPLE.read_bytes().splitlines() + (DATA / "twins_snapshot.jsonl").read_bytes().splitlines()
    )
    path = write_snapshot(tmp_path / "twins.json.gz", [*lines, *generated_lines()])
    normal = ingest_snapshot(store, path, batch_size=5, workers=0, bulk=False)
    bulk = ingest_snapshot(other, path, batch_size=5, workers=0, bulk=True)
    assert normal.counts.merged == bulk.counts.merged == 2
    assert bulk.summary() == normal.summary()
    rows = table_rows(other)
    assert rows == table_rows(store) and len(rows["paper_aliases"]) == 2
    assert changed_since(other, None) == changed_since(store, None)
    assert index_definitions(other) == index_definitions(store)


def test_an_empty_catalog_loads_in_bulk_a_full_one_does_not(store, tmp_path, monkeypatch, caplog):
    caplog.set_level("INFO", logger="dailypapers.ingest.run")
    first = ingest_snapshot(store, SAMPLE, workers=0)
    assert first.counts.new == 17 and "bulk load" in caplog.text
    caplog.clear()
    monkeypatch.setattr(run, "BULK_BELOW", 17)
    again = ingest_snapshot(store, SAMPLE, workers=0)
    assert again.counts.unchanged == 17 and "bulk load" not in caplog.text


def test_a_killed_bulk_load_keeps_its_committed_batches_and_gets_its_indexes_back(
    database_url, make_store, tmp_path
):
    lines = [snapshot_line(f"2302.{n:05d}", ["Mon, 6 Feb 2023 10:00:00 GMT"]) for n in range(600)]
    path = write_snapshot(tmp_path / "big.json.gz", lines)
    # The child kills itself (SIGKILL: no cleanup at all) right after its 4th batch commits.
    child = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from dailypapers.storage import open_store\n"
        "from dailypapers.ingest.run import ingest_snapshot\n"
        "batches = []\n"
        "def progress(done, total, detail):\n"
        "    batches.append(detail)\n"
        "    if len(batches) == 4:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "ingest_snapshot(open_store(sys.argv[1]), Path(sys.argv[2]), batch_size=50,\n"
        "                workers=0, bulk=True, progress=progress)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child, database_url, str(path)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr

    _, fresh = make_store()
    reopened = open_store(database_url)
    try:
        assert deferred(reopened) == []
        assert index_definitions(reopened) == index_definitions(fresh)
        with reopened.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM papers")).scalar() == 200
            orphans = conn.execute(
                sa.text(
                    "SELECT count(*) FROM paper_versions v"
                    " LEFT JOIN papers p ON p.arxiv_id = v.arxiv_id WHERE p.arxiv_id IS NULL"
                )
            ).scalar()
            assert orphans == 0
            if reopened.dialect == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        finished = ingest_snapshot(reopened, path, batch_size=50, workers=0)
        assert (finished.counts.new, finished.counts.unchanged) == (400, 200)
        ingest_snapshot(fresh, path, batch_size=50, workers=0, bulk=False)
        assert table_rows(reopened) == table_rows(fresh)
    finally:
        reopened.close()


def test_ctrl_c_in_a_bulk_load_builds_the_indexes_before_it_stops(store, make_store, tmp_path):
    lines = [snapshot_line(f"2303.{n:05d}", ["Mon, 6 Mar 2023 10:00:00 GMT"]) for n in range(300)]
    path = write_snapshot(tmp_path / "s.json.gz", lines)
    ticks = []

    def interrupt(_done, _total, _detail):
        ticks.append(1)
        if len(ticks) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_snapshot(store, path, batch_size=50, workers=0, bulk=True, progress=interrupt)
    _, fresh = make_store()
    assert deferred(store) == []
    assert index_definitions(store) == index_definitions(fresh)
    with store.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM papers")).scalar() == 150


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
    arxiv_id, values, versions, categories, authors = prepare_paper(record, "sqlite")
    assert arxiv_id == "0704.0001" and versions == []
    assert categories == [("0704.0001", "hep-ph", True)]
    # The author rows too, normalised in the worker: (paper, position, name, surname, initial)
    assert authors == [("0704.0001", 0, "C. Balázs", "balazs", "c")]
    assert '["C. Balázs"]' in values and "2007-04-02 19:18:42.000000" in values
    _, values, _, _, _ = prepare_paper(record, "postgresql")
    assert datetime(2007, 4, 2, 19, 18, 42) in values
