"""Storage: the only package that writes SQL. `open_store(url)` gives a Store for a
`sqlite:///` or `postgresql://` URL; dialect differences stay inside this package.

SQLite runs in WAL mode with one writer at a time (a process-wide lock around write
transactions); PostgreSQL is used as it is. Opening a store applies pending migrations.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from .changes import bump_change_count, read_change_count

log = logging.getLogger(__name__)
# The migration that brought paper_aliases: catalogs older than it may hold unmerged twins.
TWINS_REVISION = "0008"

MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message says which and why."""


def engine_url(url: str) -> sa.URL:
    """Our URL -> SQLAlchemy's: `postgresql://` and `postgres://` use psycopg 3.

    >>> url = engine_url("postgresql://postgres:@/postgres?host=/tmp/pg")
    >>> url.render_as_string(hide_password=False)
    'postgresql+psycopg://postgres:@/postgres?host=%2Ftmp%2Fpg'
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as error:
        raise StoreError(f"database_url is not a database URL: {url!r}") from error
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    raise StoreError(f"database_url must be sqlite:/// or postgresql://, got {backend!r}")


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner alone (it holds password hashes and
    emails); SQLite gives its -wal and -shm files the same mode. An existing file is left as
    it is: an operator may have chosen its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event (below) issue BEGIN itself, so writers can take
    # SQLite's write lock up front with BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk upserts touch many index pages
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE for writers: two processes never deadlock upgrading read locks, and
    # busy_timeout makes the second writer wait its turn instead of failing.
    immediate = conn.get_execution_options().get("sqlite_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriterLock:
    """SQLite's writers take turns here before BEGIN IMMEDIATE: the threads of this process on
    a lock, the processes on one machine (serve's workers, a worker, the CLI) on an exclusive
    `flock` of the file `<database>-writers`. The kernel hands the lock to the next waiter the
    moment it is released, where SQLite's busy handler polls, sleeping up to 100 ms between
    tries: with two workers writing, a vote waited up to a second at p99 (bench/web.py
    --writes). Programs that do not take this lock (the sqlite3 shell) still meet SQLite's own
    lock and busy_timeout. The file is opened again after a fork: a descriptor shared with the
    parent would share its lock too."""

    def __init__(self, path: Path | None) -> None:
        self._threads = threading.Lock()
        self._path = path
        self._fd: int | None = None
        self._pid = 0
        self._closer: weakref.finalize[[int], WriterLock] | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._path is None:
            return
        try:
            if self._pid != os.getpid():
                self._fd = os.open(self._path, os.O_CREAT | os.O_WRONLY, 0o600)
                self._pid = os.getpid()
                # A store nobody closed (a script, a test) still gives its descriptor back.
                self._closer = weakref.finalize(self, os.close, self._fd)
            assert self._fd is not None
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        with self._threads:
            if self._closer is not None:
                self._closer()
            self._fd, self._pid, self._closer = None, 0, None


class Store:
    """A catalog database. Use `begin()` for a write transaction, `connect()` for reads."""

    def __init__(self, engine: Engine, writers: Path | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._write_lock = WriterLock(writers) if self.dialect == "sqlite" else None
        # Counts write transactions this process committed; caches compare it to know
        # whether what they hold may be stale.
        self.generation = 0
        # Whether the database has the change counter (migration 0015) that counted writes
        # move for the other processes' caches; open_store sets it once migrations ran.
        self.counts_changes = False
        # The counter's value after this process's last counted write: a reader of the
        # counter that finds this value knows the move was ours (`generation` covered it).
        self.own_change_count: int | None = None

    @contextmanager
    def begin(self, *, counted: bool = True) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any error.
        `counted=False` is for writes that change nothing a page shows (rate-limit counts,
        sessions): they leave `generation` and the database's change counter alone, so the
        anonymous page caches keep what they hold when someone logs in or searches."""
        with self._counted(counted):
            if self._write_lock is None:
                with self.engine.begin() as conn:
                    yield conn
                    moved = self._note_change(conn, counted)
                if moved is not None:  # committed: the counter holds our value (or more)
                    self.own_change_count = moved
                return
            # The lock before the pool: a writer waiting its turn holds no connection.
            with self._write_lock, self.engine.connect() as conn, self._writing(conn, counted):
                yield conn

    @contextmanager
    def transaction(self, conn: Connection, *, counted: bool = True) -> Iterator[Connection]:
        """Like `begin()`, on a connection the caller keeps open across transactions (a bulk
        load holds one for its session settings and locks)."""
        with (
            self._counted(counted),
            self._write_lock or nullcontext(),
            self._writing(conn, counted),
        ):
            yield conn

    @contextmanager
    def _writing(self, conn: Connection, counted: bool) -> Iterator[Connection]:
        conn.execution_options(sqlite_write=True)  # BEGIN IMMEDIATE on SQLite
        with conn.begin():
            yield conn
            moved = self._note_change(conn, counted)
        if moved is not None:  # committed: the counter holds our value (or more)
            self.own_change_count = moved

    def _note_change(self, conn: Connection, counted: bool) -> int | None:
        # Last in the transaction, after the caller's writes (storage/changes.py says why).
        if counted and self.counts_changes:
            return bump_change_count(conn)
        return None

    def change_count(self) -> int | None:
        """The database's change counter (storage/changes.py), None when it has none."""
        if not self.counts_changes:
            return None
        with self.engine.connect() as conn:
            return read_change_count(conn)

    @contextmanager
    def _counted(self, counted: bool) -> Iterator[None]:
        try:
            yield
        finally:
            if counted:
                self.generation += 1

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (creating it when missing) the database at `url` and bring its schema up to date."""
    target = engine_url(url)
    writers = None
    if target.get_backend_name() == "sqlite":
        database = target.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            _create_private(path)
            writers = path.with_name(path.name + "-writers")
        engine = sa.create_engine(target, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = sa.create_engine(target, pool_pre_ping=True)
    store = Store(engine, writers)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.SQLAlchemyError as error:
        engine.dispose()
        raise StoreError(
            f"cannot open database {target.render_as_string()}: {getattr(error, 'orig', None) or error}"
        ) from None
    if migrate:
        migrate_store(store)
    with engine.connect() as conn:
        store.counts_changes = sa.inspect(conn).has_table("changes")
    return store


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def migrate_store(store: Store, revision: str = "head") -> None:
    """Apply migrations up to `revision` (the same scripts on SQLite and PostgreSQL)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    from .bulk import restore_after_crash

    with store.begin() as conn:
        if store.dialect == "postgresql":
            # Two processes starting at once must not both run the migrations.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7240411)")
        # Indexes a killed bulk load dropped come back first, so migrations see the schema
        # they expect.
        restore_after_crash(store, conn)
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(_alembic_config(conn), revision)
        reached = revision == "head" or revision >= TWINS_REVISION
        if before is not None and before < TWINS_REVISION and reached:
            # A catalog from before twins merged on write may hold both halves of a paper.
            from .twins import merge_existing_twins

            merged = merge_existing_twins(conn, datetime.now(UTC).replace(tzinfo=None))
            if merged:
                log.info("merged %d local papers into their arXiv twins", merged)


def schema_revision(store: Store) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with store.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def head_revision() -> str:
    """The newest migration this code has (what `schema_revision` reads after a migrate).
    Read from the scripts once per process: readiness asks on every probe."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None, "the migrations folder holds no migration"
    return head


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of this code's migrations (a backup from a newer release
    names one it does not know)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False
