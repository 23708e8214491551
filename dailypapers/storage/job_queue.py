"""Procrastinate's tables on PostgreSQL: the job queue of dailypapers/jobs/queue.py. Migration
0014 creates them from the installed Procrastinate's own schema file; a restore drops them
with our tables, since a backup brings its own.

Why a migration and not Procrastinate's `schema --apply` at start-up: migrations run once, by
one process (migrate_store holds an advisory lock), in one transaction (PostgreSQL's DDL is
transactional, so a crash leaves all of it or none), and operators already run `dailypapers
db migrate` at every upgrade. The dependency is pinned to one minor release; moving to the
next one comes with a migration that applies Procrastinate's delta files for it.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

PREFIX = "procrastinate_"


def queue_schema_sql() -> str:
    """The schema file of the installed Procrastinate; StoreError when it is missing."""
    try:
        from procrastinate.schema import SchemaManager
    except ImportError:
        from . import StoreError

        raise StoreError(
            "jobs on PostgreSQL need Procrastinate: pip install 'dailypapers[postgres]'"
        ) from None
    return str(SchemaManager.get_schema())


def has_queue_schema(conn: Connection) -> bool:
    return conn.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is not None


def apply_queue_schema(conn: Connection) -> None:
    """Create Procrastinate's types, tables and functions, unless they exist."""
    if not has_queue_schema(conn):
        # On psycopg's own cursor, in the same transaction, without parameters: the file is
        # sent as it is (its '%' signs are PL/pgSQL's, not placeholders).
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(queue_schema_sql())
        finally:
            cursor.close()


def drop_queue_schema(conn: Connection) -> None:
    """Drop every Procrastinate table, function and type (its jobs are bookkeeping, not
    data: a restore brings the backup's)."""
    like = {"like": PREFIX.replace("_", "\\_") + "%"}
    tables = conn.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename LIKE %(like)s",
        like,
    ).scalars()
    for name in list(tables):
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
    functions = conn.exec_driver_sql(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = current_schema() "
        "AND p.proname LIKE %(like)s",
        like,
    ).scalars()
    for signature in list(functions):
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
    types = conn.exec_driver_sql(
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = current_schema() AND t.typname LIKE %(like)s "
        "AND t.typtype IN ('e', 'c')",
        like,
    ).scalars()
    for name in list(types):
        conn.exec_driver_sql(f'DROP TYPE IF EXISTS "{name}" CASCADE')


def delete_finished_queue_jobs(conn: Connection, cutoff_hours: int) -> int:
    """Forget Procrastinate's jobs that ended (succeeded, failed, cancelled, aborted) more
    than `cutoff_hours` ago; how many. The job each periodic task deferred last stays: its
    row in procrastinate_periodic_defers points at it (without ON DELETE)."""
    result = conn.exec_driver_sql(
        "DELETE FROM procrastinate_jobs job "
        "WHERE job.status IN ('succeeded', 'failed', 'cancelled', 'aborted') "
        "AND NOT EXISTS (SELECT 1 FROM procrastinate_periodic_defers defer "
        "WHERE defer.job_id = job.id) "
        "AND NOT EXISTS (SELECT 1 FROM procrastinate_events event WHERE event.job_id = job.id "
        "AND event.at >= NOW() - make_interval(hours => %(hours)s))",
        {"hours": cutoff_hours},
    )
    return int(result.rowcount or 0)
