"""One try of a job, recorded: a `running` row in job_runs, the job's function, then `ok`
with its counts or `failed` with its error. Every way a job runs goes through `run_job`: the
scheduler inside `serve`, a Procrastinate worker, and `dailypapers jobs run`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from datetime import UTC, datetime

from ..config import Config
from ..domain.jobs import FAILED, OK
from ..storage import Store
from ..storage.jobs import claim_run, finish_run, interrupt_runs, next_attempt
from .registry import Counts, Job, JobContext, JobFailed

log = logging.getLogger(__name__)
HOST = socket.gethostname()
# An error kept in the record is cut to this many characters (a traceback's tail).
ERROR_CHARACTERS = 4000


class RunFailed(Exception):
    """A try failed; its error is in job_runs. Raised so a queue can retry it."""


def stored(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def start_run(
    store: Store, job: Job, period_start: datetime, now: datetime, attempt: int | None = None
) -> tuple[int, int] | None:
    """Record try `attempt` (default: the period's next) of `job` as running, after marking
    the period's earlier tries still `running` as interrupted (their process died, or this
    try would not be starting). (run id, attempt), or None when that try is taken."""
    period = stored(period_start)
    with store.begin(counted=False) as conn:
        attempt = attempt or next_attempt(conn, job.name, period)
        run_id = claim_run(conn, job.name, period, attempt, HOST, os.getpid(), stored(now))
        if run_id is None:
            return None
        interrupt_runs(
            conn,
            job.name,
            period,
            attempt,
            "interrupted: the process running it ended before it finished",
            stored(now),
        )
    return run_id, attempt


def run_job(
    store: Store,
    config: Config,
    job: Job,
    context: JobContext,
    *,
    attempt: int | None = None,
) -> Counts | None:
    """Run one try of `job` in `context.period_start`'s period and record it. The counts on
    success; None when the try was claimed by someone else first. Raises RunFailed (after
    recording the error) when the job failed."""
    claimed = start_run(store, job, context.period_start, context.clock(), attempt)
    if claimed is None:
        return None
    run_id, attempt = claimed
    started = time.perf_counter()
    try:
        counts = job.run(store, config, context)
    except Exception as error:
        seconds = time.perf_counter() - started
        counts = error.counts if isinstance(error, JobFailed) else {}
        text = str(error) if isinstance(error, JobFailed) else _trace(error)
        with store.begin(counted=False) as conn:
            finish_run(
                conn, run_id, FAILED, stored(context.clock()), seconds, error=text, counts=counts
            )
        log.warning("job %s (try %d) failed after %.1f s: %s", job.name, attempt, seconds, text)
        raise RunFailed(f"{job.name}: {text}") from error
    seconds = time.perf_counter() - started
    with store.begin(counted=False) as conn:
        finish_run(conn, run_id, OK, stored(context.clock()), seconds, counts=counts)
    log.info("job %s (try %d) done in %.1f s: %s", job.name, attempt, seconds, counts)
    return counts


def _trace(error: BaseException) -> str:
    """An unexpected error: its message and where it came from, cut to the last characters."""
    text = "".join(traceback.format_exception(error)).strip()
    return text if len(text) <= ERROR_CHARACTERS else "..." + text[-ERROR_CHARACTERS:]
