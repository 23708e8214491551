"""The record of scheduled job runs (`job_runs`): claiming a try of a job in a period, ending
it, reading the latest runs and their totals, and forgetting old ones. dailypapers/jobs/ decides
when to run what; this module only keeps the rows. Times are naive UTC (storage/schema.py).

Writes are not counted (`counted=False` at the callers' `begin`): a run's row changes no page
an anonymous reader sees.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.jobs import FAILED, OK, RUNNING, JobRun
from .schema import job_runs


def _run(row: Any) -> JobRun:
    values = dict(row._mapping)
    values["counts"] = json.loads(values["counts"]) if values["counts"] else {}
    return JobRun(**values)


def claim_run(
    conn: Connection,
    job: str,
    period_start: datetime,
    attempt: int,
    host: str,
    pid: int,
    now: datetime,
) -> int | None:
    """Insert try `attempt` of `job` in the period as running; its id, or None when that try
    exists already (someone else claimed it). The unique key does the deciding, so two
    processes asking at once cannot both get it."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(job_runs)
        .values(
            job=job,
            period_start=period_start,
            attempt=attempt,
            status=RUNNING,
            started_at=now,
            host=host,
            pid=pid,
        )
        .on_conflict_do_nothing(index_elements=["job", "period_start", "attempt"])
        .returning(job_runs.c.id)
    )
    found: int | None = conn.execute(statement).scalar()
    return found


def next_attempt(conn: Connection, job: str, period_start: datetime) -> int:
    """1 for a period with no try yet, else one more than its last."""
    query = sa.select(sa.func.max(job_runs.c.attempt)).where(
        job_runs.c.job == job, job_runs.c.period_start == period_start
    )
    return int(conn.execute(query).scalar() or 0) + 1


def interrupt_runs(
    conn: Connection, job: str, period_start: datetime, before: int, reason: str, now: datetime
) -> int:
    """Mark the period's tries before `before` that are still `running` as failed with
    `reason`: their process died (a later try of the same period is starting). How many."""
    result = conn.execute(
        sa.update(job_runs)
        .where(
            job_runs.c.job == job,
            job_runs.c.period_start == period_start,
            job_runs.c.attempt < before,
            job_runs.c.status == RUNNING,
        )
        .values(status=FAILED, finished_at=now, error=reason)
    )
    return int(result.rowcount or 0)


def finish_run(
    conn: Connection,
    run_id: int,
    status: str,
    now: datetime,
    seconds: float,
    *,
    error: str | None = None,
    counts: dict[str, int] | None = None,
) -> None:
    """End a run `ok` or `failed`, with its duration, error text and counts."""
    conn.execute(
        sa.update(job_runs)
        .where(job_runs.c.id == run_id)
        .values(
            status=status,
            finished_at=now,
            duration_seconds=round(seconds, 3),
            error=error,
            counts=json.dumps(counts, sort_keys=True) if counts else None,
        )
    )


def period_runs(conn: Connection, job: str, period_start: datetime) -> list[JobRun]:
    """The tries of `job` in one period, first first."""
    rows = conn.execute(
        sa.select(job_runs)
        .where(job_runs.c.job == job, job_runs.c.period_start == period_start)
        .order_by(job_runs.c.attempt)
    )
    return [_run(row) for row in rows]


def latest_runs(conn: Connection) -> dict[str, JobRun]:
    """Each job's most recent try (by start), by job name; jobs never run are absent."""
    newest = (
        sa.select(job_runs.c.job, sa.func.max(job_runs.c.id).label("id"))
        .group_by(job_runs.c.job)
        .subquery()
    )
    rows = conn.execute(sa.select(job_runs).join(newest, newest.c.id == job_runs.c.id))
    return {run.job: run for run in map(_run, rows)}


def recent_runs(conn: Connection, limit: int = 50) -> list[JobRun]:
    """The `limit` most recent tries of any job, newest first."""
    rows = conn.execute(sa.select(job_runs).order_by(job_runs.c.id.desc()).limit(limit))
    return [_run(row) for row in rows]


def run_totals(conn: Connection) -> list[tuple[str, str, int, float]]:
    """(job, status, runs, seconds) over every kept run: what the metrics report."""
    rows = conn.execute(
        sa.select(
            job_runs.c.job,
            job_runs.c.status,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(job_runs.c.duration_seconds), 0.0),
        ).group_by(job_runs.c.job, job_runs.c.status)
    )
    return [(str(job), str(status), int(n), float(s)) for job, status, n, s in rows]


def delete_runs_before(conn: Connection, cutoff: datetime) -> int:
    """Forget finished runs that ended before `cutoff`; how many. Running ones stay."""
    result = conn.execute(
        sa.delete(job_runs).where(job_runs.c.status != RUNNING, job_runs.c.finished_at < cutoff)
    )
    return int(result.rowcount or 0)


def last_successes(conn: Connection) -> dict[str, datetime]:
    """When each job's latest successful try ended, by job name."""
    rows = conn.execute(
        sa.select(job_runs.c.job, sa.func.max(job_runs.c.finished_at))
        .where(job_runs.c.status == OK)
        .group_by(job_runs.c.job)
    )
    return {str(job): moment for job, moment in rows if moment is not None}
