"""The site-wide jobs on PostgreSQL, through Procrastinate: any number of `dailypapers worker`
processes (and `serve` processes with the scheduler on) share them through the database.

- Once per period: every worker runs Procrastinate's periodic deferrer, which defers each
  job for the cron tick of its schedule; a unique row per (task, tick) in
  procrastinate_periodic_defers lets exactly one defer through, however many workers try.
  `max_delay` is a day, so a worker that starts after a tick still defers the tick's job
  (unless another did): the same catch-up the SQLite scheduler does.
- One at a time: each job's tasks share a `lock` (a second run waits for the first) and a
  `queueing_lock` (at most one waits).
- Retries: a failed try is retried after job_retry_seconds, doubled each try, up to
  job_max_attempts tries (Backoff below); the error is kept in job_runs either way.
- Dead workers: each worker beats its heartbeat every job_heartbeat_seconds. Procrastinate 3
  finds the jobs of workers silent longer than job_stalled_seconds but retries nothing by
  itself, so a periodic task here (`retry_stalled`, every job_stalled_seconds) puts them back
  in the queue; the next try resumes where the dead one stopped (the harvest from its
  checkpoint, the embeddings from the papers still without vectors).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from procrastinate import App, BaseRetryStrategy, JobContext, PsycopgConnector, RetryDecision
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job as QueuedJob
from procrastinate.jobs import Status

from ..config import Config
from ..domain.schedules import DAY, Schedule
from ..storage import Store
from .registry import JOBS, Counts, Job
from .registry import JobContext as RunContext
from .runner import HOST, run_job

if TYPE_CHECKING:
    from ..search.vector import Embedder

log = logging.getLogger(__name__)
TASK_PREFIX = "dailypapers."
STALLED_TASK = TASK_PREFIX + "retry-stalled"
# A worker asked to stop lets the job it runs finish for this long.
GRACEFUL_SECONDS = 30.0


def conninfo(database_url: str) -> str:
    """Our database URL as libpq reads it.

    >>> conninfo("postgresql+psycopg://app@db/papers?sslmode=require")
    'postgresql://app@db/papers?sslmode=require'
    """
    scheme, _, rest = database_url.partition("://")
    return "postgresql://" + rest if scheme.startswith("postgres") else database_url


class Backoff(BaseRetryStrategy):
    """Retry a failed try after `first` seconds, doubling each time, until `tries` in all."""

    def __init__(self, tries: int, first: float) -> None:
        self.tries, self.first = tries, first

    def get_retry_decision(
        self, *, exception: BaseException, job: QueuedJob
    ) -> RetryDecision | None:
        if job.attempts + 1 >= self.tries:  # attempts: the tries before this one
            return None
        return RetryDecision(retry_in={"seconds": self.first * 2**job.attempts})


def build_app(
    store: Store,
    config: Config,
    *,
    embedder: Embedder | None = None,
    jobs: Sequence[Job] = JOBS,
) -> App:
    """A Procrastinate app with a task per site-wide job (all of them, so a worker can run
    what another deferred) and a periodic schedule for the ones that are on."""
    app = App(
        connector=PsycopgConnector(conninfo=conninfo(config.database_url)),
        periodic_defaults={"max_delay": DAY + 60},
    )
    retry = Backoff(config.job_max_attempts, config.job_retry_seconds)
    for job in jobs:
        if job.per_process:
            continue
        task = app.task(
            name=TASK_PREFIX + job.name,
            pass_context=True,
            lock=job.name,
            queueing_lock=job.name,
            retry=retry,
        )(_task_function(store, config, job, embedder))
        schedule = job.schedule(config)
        if schedule is not None and job.off_reason(config) is None:
            app.periodic(cron=schedule.cron, periodic_id=job.name)(task)
    # No `lock`: a check whose worker died would hold it for ever. At most one check waits
    # (its queueing lock) and each takes milliseconds, so two never overlap in practice.
    stalled = app.task(name=STALLED_TASK, pass_context=True, queueing_lock=STALLED_TASK)(
        _stalled_function(config)
    )
    app.periodic(cron=Schedule(config.job_stalled_seconds).cron, periodic_id="stalled")(stalled)
    return app


def _task_function(
    store: Store, config: Config, job: Job, embedder: Embedder | None
) -> Callable[[JobContext, int], Counts]:
    def run(context: JobContext, timestamp: int) -> Counts:
        # Synchronous: Procrastinate runs it in a thread, so heartbeats go on meanwhile.
        period = datetime.fromtimestamp(timestamp, UTC)
        return run_job(store, config, job, RunContext(period, embedder=embedder)) or {}

    run.__name__ = job.name.replace("-", "_")
    return run


def _stalled_function(config: Config) -> Callable[[JobContext, int], Any]:
    async def retry_stalled(context: JobContext, timestamp: int) -> dict[str, int]:
        """Put the jobs of workers silent for job_stalled_seconds back in the queue; a job
        out of tries, or one whose next run already waits, ends as failed instead."""
        manager = context.app.job_manager
        stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=config.job_stalled_seconds)
        counts = {"retried": 0, "failed": 0}
        for job in stalled:
            if job.id is None or job.id == context.job.id:
                continue
            if job.attempts + 1 < config.job_max_attempts:
                try:
                    await manager.retry_job(job)
                    log.warning(
                        "jobs: %s (job %d) lost its worker; queued again", job.task_name, job.id
                    )
                    counts["retried"] += 1
                    continue
                except ConnectorException:
                    pass  # the next run of the task waits already (its queueing lock)
            await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
            counts["failed"] += 1
        return counts

    return retry_stalled


async def run_worker(app: App, config: Config, *, install_signal_handlers: bool = True) -> None:
    """Run a worker until it is stopped (a signal, or the task running this being
    cancelled); the job in progress gets GRACEFUL_SECONDS to finish."""
    async with app.open_async():
        await app.run_worker_async(
            name=f"{HOST}:{os.getpid()}",
            concurrency=len(app.tasks),
            update_heartbeat_interval=config.job_heartbeat_seconds,
            stalled_worker_timeout=config.job_stalled_seconds,
            shutdown_graceful_timeout=GRACEFUL_SECONDS,
            install_signal_handlers=install_signal_handlers,
        )


def start_worker_task(app: App, config: Config) -> asyncio.Task[None]:
    """A worker inside an already running event loop (`serve`'s): cancel the task to stop
    it. Signals stay uvicorn's. A worker that stops by itself (the database went away for
    good) says so in the log; the site goes on serving pages."""
    task = asyncio.create_task(run_worker(app, config, install_signal_handlers=False))
    task.add_done_callback(_log_end)
    return task


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("jobs: the worker in this process stopped", exc_info=task.exception())
