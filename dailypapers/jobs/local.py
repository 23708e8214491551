"""The scheduler inside `serve`: two daemon threads per process.

`ProcessJobs` runs the per-process jobs (the keyword index of this data folder) every
`index_interval_seconds` and soon after `wake` (a paper was submitted), in every process.

`PeriodScheduler` runs the site-wide jobs on SQLite, where one machine needs no broker. Of
the processes sharing a data folder (`serve --workers 2`, a second `serve`), the one holding
`<data_dir>/jobs.lock` schedules; the others try for the lock every few seconds and take over
when its holder exits (the operating system drops the lock, kill -9 included). Each period is
claimed by inserting try 1 of (job, period start) into job_runs, so a restart never runs a
finished period again; a try left `running` by a process that is gone is marked interrupted
and run again at once. A failed try waits `job_retry_seconds`, doubled after each try, up to
`job_max_attempts` tries in the period. Periods missed while nothing ran are not made up: the
current one runs, and the harvest starts where the last one ended anyway.

On PostgreSQL Procrastinate takes the site-wide jobs (jobs/queue.py) and only ProcessJobs
runs here.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from ..domain.jobs import FAILED, OK, RUNNING, JobRun
from ..storage import Store
from ..storage.jobs import period_runs
from ..storage.locks import file_lock
from .registry import JOBS, Job, JobContext
from .runner import HOST, RunFailed, run_job, stored

if TYPE_CHECKING:  # the search stack loads only when a job needs it
    from ..search.vector import Embedder

log = logging.getLogger(__name__)
LOCK_NAME = "jobs.lock"
# How often a process without the lock asks for it again, and the longest sleep between two
# looks at the schedule (a settings change needs a restart; this only bounds clock drift).
LOCK_RETRY_SECONDS = 5.0
LONGEST_SLEEP = 60.0

Clock = Callable[[], datetime]


def backoff(config: Config, attempt: int) -> timedelta:
    """The wait after failed try `attempt` (1, 2, ...): job_retry_seconds, doubled each try."""
    return timedelta(seconds=config.job_retry_seconds * 2 ** (attempt - 1))


def _alive(run: JobRun) -> bool:
    """Whether the process that started `run` is still running it. Not when it was on another
    host (on SQLite there is one machine: the database moved), nor this process (its one
    scheduler thread is asking, so it runs nothing), nor a process with that id that started
    after the run did (containers reuse small ids at every restart)."""
    if run.host != HOST or run.pid == os.getpid():
        return False
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has that id: ask /proc below
        pass
    started = _process_start(run.pid)
    return started is None or started <= run.started_at.replace(tzinfo=UTC).timestamp() + 1


def _process_start(pid: int) -> float | None:
    """When process `pid` started (Unix time), from Linux's /proc; None without it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
    except (OSError, StopIteration):
        return None
    # Field 22, counted after the command name, which may hold spaces and parentheses.
    ticks = int(stat.rsplit(")", 1)[1].split()[19])
    return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")


class PeriodScheduler:
    """Runs each site-wide job once per period while this process holds the jobs lock."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        embedder: Embedder | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        jobs: Sequence[Job] = JOBS,
        catalog_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.embedder = embedder
        self.catalog_changed = catalog_changed
        self.jobs = [job for job in jobs if not job.per_process and job.off_reason(config) is None]
        self.lock_path = Path(config.data_dir).expanduser() / LOCK_NAME
        self.holding = False
        self._stop = threading.Event()
        self._locks = ExitStack()
        self._thread = threading.Thread(target=self._run, name="job-scheduler", daemon=True)

    def start(self) -> None:
        if self.jobs:
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop looking at the schedule; a job in progress is left to finish in its daemon
        thread or die with the process (its period then runs again at the next start)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._locks.close()

    def take_lock(self) -> bool:
        """Hold `<data_dir>/jobs.lock` from now on if no other process does."""
        if not self.holding:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            stack = ExitStack()
            if stack.enter_context(file_lock(self.lock_path, wait=False)):
                self._locks.callback(stack.close)
                self.holding = True
                log.info("jobs: this process (%d) runs the scheduled jobs", os.getpid())
            else:
                stack.close()
        return self.holding

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.take_lock():
                self._stop.wait(LOCK_RETRY_SECONDS)
                continue
            try:
                wait = self.run_due()
            except Exception:  # the database was away, say: look again shortly
                log.exception("jobs: the scheduler could not read or record runs")
                wait = LOCK_RETRY_SECONDS
            self._stop.wait(wait)

    def run_due(self) -> float:
        """Run every job whose period wants a try now; seconds until the next may."""
        soonest = LONGEST_SLEEP
        for job in self.jobs:
            if self._stop.is_set():
                break
            until = self._run_if_due(job)
            soonest = min(soonest, until)
        return max(0.05, soonest)

    def _run_if_due(self, job: Job) -> float:
        schedule = job.schedule(self.config)
        assert schedule is not None  # off jobs were left out
        now = self.clock()
        period = schedule.period_start(now)
        next_period = (schedule.next_start(now) - now).total_seconds()
        attempt = self._attempt_due(job, period, now)
        if isinstance(attempt, float):
            return min(attempt, next_period)
        context = JobContext(period, self.clock, self.embedder, self.catalog_changed)
        with suppress(RunFailed):  # recorded; the next look schedules the retry
            run_job(self.store, self.config, job, context, attempt=attempt)
        return 0.0

    def _attempt_due(self, job: Job, period: datetime, now: datetime) -> int | float:
        """The try to run now (int), or seconds until one may be due (float) when none is
        (the period is done, a try runs elsewhere, a retry waits, tries are used up)."""
        with self.store.connect() as conn:
            runs = period_runs(conn, job.name, stored(period))
        if not runs:
            return 1
        last = runs[-1]
        if last.status == OK:
            return LONGEST_SLEEP
        if last.status == RUNNING:
            if _alive(last):  # `dailypapers jobs run` in a shell, say
                return LOCK_RETRY_SECONDS
            log.warning("jobs: %s try %d was interrupted; running it again", job.name, last.attempt)
            return last.attempt + 1
        assert last.status == FAILED
        if last.attempt >= self.config.job_max_attempts:
            return LONGEST_SLEEP
        ended = (last.finished_at or last.started_at).replace(tzinfo=UTC)
        wait = (ended + backoff(self.config, last.attempt) - now).total_seconds()
        return last.attempt + 1 if wait <= 0 else wait


class ProcessJobs:
    """A daemon thread running the per-process jobs every `schedule` seconds from its start
    and soon after `wake`; a round another process of this machine is running is skipped."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        jobs: Sequence[Job] = JOBS,
    ) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.jobs = [job for job in jobs if job.per_process and job.off_reason(config) is None]
        self.rounds = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-jobs", daemon=True)

    def start(self) -> None:
        if self.jobs:
            self._thread.start()

    def wake(self) -> None:
        """Run the jobs soon (a paper was submitted)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        interval = min(self._intervals())
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            for job in self.jobs:
                context = JobContext(self.clock(), self.clock)
                try:
                    run_job(self.store, self.config, job, context, attempt=1)
                except RunFailed:
                    pass  # recorded; the next round tries again
                except Exception:  # the record itself failed (database away): next round
                    log.exception("jobs: %s could not be recorded", job.name)
            self.rounds += 1

    def _intervals(self) -> Iterator[float]:
        for job in self.jobs:
            schedule = job.schedule(self.config)
            assert schedule is not None
            yield float(schedule.seconds)
