"""What `dailypapers jobs` and the admin page show: each job with its schedule, on or off (and
why), its last try (when, outcome, duration, error) and when it runs next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import Config
from ..domain.jobs import FAILED, OK, RUNNING, JobRun
from ..storage import Store
from ..storage.jobs import latest_runs
from .registry import JOBS, Job


@dataclass
class JobState:
    job: Job
    schedule: str  # "daily at 02:00 UTC", "every 5 min", "off"
    off: str | None  # why it is off; None when on
    last: JobRun | None
    next_run: datetime | None  # aware UTC; None when off or running

    def as_json(self) -> dict[str, Any]:
        last = self.last
        return {
            "name": self.job.name,
            "help": self.job.help,
            "schedule": self.schedule,
            "setting": self.job.schedule_setting,
            "enabled": self.off is None,
            "off_reason": self.off,
            "per_process": self.job.per_process,
            "last_run": None
            if last is None
            else {
                "period_start": _iso(last.period_start),
                "attempt": last.attempt,
                "outcome": last.status,
                "started_at": _iso(last.started_at),
                "finished_at": _iso(last.finished_at),
                "duration_seconds": last.duration_seconds,
                "error": last.error,
                "counts": last.counts,
                "host": last.host,
                "pid": last.pid,
            },
            "next_run": self.next_run.isoformat() if self.next_run else None,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat() if moment is not None else None


def job_states(store: Store, config: Config, now: datetime) -> list[JobState]:
    """Every registered job, in the registry's order, at `now` (aware)."""
    with store.connect() as conn:
        latest = latest_runs(conn)
    states = []
    for job in JOBS:
        schedule = job.schedule(config)
        off = job.off_reason(config)
        last = latest.get(job.name)
        described = "off" if schedule is None else schedule.describe()
        if job.per_process and schedule is not None:
            described += " in each serve process"
        states.append(JobState(job, described, off, last, _next_run(job, config, last, now)))
    return states


def _next_run(job: Job, config: Config, last: JobRun | None, now: datetime) -> datetime | None:
    from .local import backoff  # the SQLite scheduler's rule; Backoff on PostgreSQL agrees

    schedule = job.schedule(config)
    if schedule is None or job.off_reason(config) is not None:
        return None
    if job.per_process:
        started = last.started_at.replace(tzinfo=UTC) if last else now
        return max(now, started + timedelta(seconds=schedule.seconds))
    period = schedule.period_start(now)
    if last is None or last.period_start.replace(tzinfo=UTC) != period:
        return now  # this period has not run yet: it is due
    if last.status == RUNNING:
        return None
    if last.status == FAILED and last.attempt < config.job_max_attempts:
        ended = (last.finished_at or last.started_at).replace(tzinfo=UTC)
        return max(now, ended + backoff(config, last.attempt))
    assert last.status in (OK, FAILED)
    return schedule.next_start(now)
