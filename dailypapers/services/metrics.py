"""The site's Prometheus metrics (prometheus-client), opt-in with `metrics_enabled`.

Two kinds. Request metrics are counted by each process as it answers (web/observe.py calls
`observe`): requests by route template, method and status, and their latency as a histogram by
route and method. Routes are the table's templates (`/papers/{arxiv_id:path}`), never raw
paths, so a crawler walking a million URLs adds no series. Catalog metrics are read from the
database when Prometheus scrapes, by `CatalogCollector`, at most once per CACHE_SECONDS per
process: the harvest lag, papers waiting for embeddings, digests by state. They describe the
shared database, so reading them at scrape time keeps them right whichever worker or machine
answers.

Several worker processes (`serve --workers N`) each count their own requests; prometheus-
client's multiprocess mode has them write their counters to files in one folder
(PROMETHEUS_MULTIPROC_DIR, which `serve` points at `<data_dir>/metrics` and empties at start)
and sums the files at scrape time, so a scrape that lands on any worker sees the whole
process group. prometheus-client reads that variable when it is first imported, which is why
`serve` sets it before any worker starts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .. import __version__
from ..config import Config
from ..domain.jobs import FAILED, RUNNING, JobRun
from ..search.vector import model_name
from ..storage import Store
from ..storage.digests import digest_counts
from ..storage.harvest import newest_datestamp
from ..storage.health import ping
from ..storage.jobs import last_successes, latest_runs, run_totals
from ..storage.vectors import count_pending

log = logging.getLogger(__name__)
# No `_created` series beside every counter and histogram: they double the series and no
# alert reads them (prometheus-client's switch is process-wide; nothing else here uses it).
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Catalog metrics are counted in the database; counting papers without vectors scans the
# catalog (about a second at a million papers on PostgreSQL), so each process reuses the
# numbers for this long. Prometheus scrapes every 15-60 s: an alert waits no longer for it.
CACHE_SECONDS = 30.0
# Latency buckets in seconds: a page from the anonymous cache answers in well under a
# millisecond, a rendered page in a few, a search in tens; over 10 s is a stall.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess_dir() -> str | None:
    """The folder the worker processes share their counts in, when `serve` runs several."""
    return os.environ.get(MULTIPROCESS_ENV) or None


def prepare_multiprocess_dir(data_dir: str) -> Path:
    """`<data_dir>/metrics`, made (0700) or emptied of an earlier run's files: counts of
    processes that are gone would otherwise be summed with the new ones forever."""
    folder = Path(data_dir).expanduser().resolve() / "metrics"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    for stale in folder.glob("*.db"):
        stale.unlink()
    return folder


class Metrics:
    """The request counters of this process and the scrape that reports them with the
    catalog's numbers."""

    def __init__(self, store: Store, config: Config, *, cache_seconds: float = CACHE_SECONDS):
        self.folder = multiprocess_dir()
        # A registry of our own, not prometheus-client's global one: tests build many apps
        # in one process, and each must start from zero.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "dailypapers_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dailypapers_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.catalog = CatalogCollector(store, config, cache_seconds=cache_seconds)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        # The method is the client's word: unknown ones share one label, as paths do.
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        """The exposition text of every process's requests (summed over the worker processes
        in multiprocess mode) and the catalog's numbers."""
        if self.folder is None:
            registry = CollectorRegistry()
            registry.register(_Forward(self.registry))
        else:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.folder)  # type: ignore[no-untyped-call]
        registry.register(self.catalog)
        return generate_latest(registry)


class _Forward(Collector):
    """This process's registry inside the scrape's (one process: nothing to sum)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


class CatalogCollector(Collector):
    """Gauges read from the database at scrape time (cached CACHE_SECONDS):

    - dailypapers_up (1), dailypapers_info{version}
    - dailypapers_database_up: 1 when the database answered, else 0 and nothing below
    - dailypapers_harvest_lag_seconds: now minus the newest OAI-PMH datestamp a harvest wrote
      (the start of that UTC day); absent before the first harvest
    - dailypapers_papers_waiting_for_embeddings: visible papers without a current vector
    - dailypapers_digests{status}: digests in each state (sent, failed, retry, ...)

    - dailypapers_job_runs{job, outcome}: tries of each job in the record (job_runs keeps
      `job_runs_keep_days` days), by outcome (ok, failed, running)
    - dailypapers_job_run_seconds{job, outcome}: their summed duration
    - dailypapers_job_last_success_timestamp_seconds{job}, dailypapers_job_last_duration_seconds
      {job}, dailypapers_job_last_failed{job} (1 when the latest finished try failed)

    Jobs run in whichever process or machine took them, so they are read from job_runs like
    the rest: every process reports the same numbers.
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.model = model_name(config.embedding_max_tokens)
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # read at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("dailypapers_up", "1 while this process answers")
        up.add_metric([], 1)
        yield up
        info = GaugeMetricFamily("dailypapers_info", "The running release", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.cache_seconds:
                self._cached = (now, self._read())
            yield from self._cached[1]

    def _read(self) -> list[Metric]:
        database = GaugeMetricFamily(
            "dailypapers_database_up", "1 when the database answered the scrape's queries"
        )
        try:
            with self.store.connect() as conn:
                ping(conn)
                datestamp = newest_datestamp(conn)
                waiting = count_pending(conn, self.model)
                digests = digest_counts(conn)
                totals = run_totals(conn)
                latest = latest_runs(conn)
                succeeded = last_successes(conn)
        except Exception as error:  # the scrape still answers, saying the database did not
            log.warning("metrics: the database did not answer: %s", error)
            database.add_metric([], 0)
            return [database]
        database.add_metric([], 1)
        found: list[Metric] = [database]
        if datestamp is not None:
            lag = GaugeMetricFamily(
                "dailypapers_harvest_lag_seconds",
                "Now minus the newest OAI-PMH datestamp a harvest wrote (start of that UTC day)",
            )
            newest = datetime(datestamp.year, datestamp.month, datestamp.day, tzinfo=UTC)
            lag.add_metric([], max(0.0, (self.clock() - newest).total_seconds()))
            found.append(lag)
        pending = GaugeMetricFamily(
            "dailypapers_papers_waiting_for_embeddings",
            "Visible papers without a vector from the current model",
        )
        pending.add_metric([], waiting)
        found.append(pending)
        states = GaugeMetricFamily(
            "dailypapers_digests", "Digests in each state", labels=["status"]
        )
        for status in ("sent", "failed", *sorted(set(digests) - {"sent", "failed"})):
            states.add_metric([status], digests.get(status, 0))
        found.append(states)
        found.extend(_job_metrics(totals, latest, succeeded))
        return found


def _job_metrics(
    totals: list[tuple[str, str, int, float]],
    latest: dict[str, JobRun],
    succeeded: dict[str, datetime],
) -> list[Metric]:
    runs = GaugeMetricFamily(
        "dailypapers_job_runs",
        "Tries of each job in the record (job_runs_keep_days), by outcome",
        labels=["job", "outcome"],
    )
    seconds = GaugeMetricFamily(
        "dailypapers_job_run_seconds",
        "Summed duration of those tries, by outcome",
        labels=["job", "outcome"],
    )
    for job, outcome, count, total in totals:
        runs.add_metric([job, outcome], count)
        seconds.add_metric([job, outcome], total)
    success = GaugeMetricFamily(
        "dailypapers_job_last_success_timestamp_seconds",
        "When each job's latest successful try ended (Unix time)",
        labels=["job"],
    )
    for job, moment in sorted(succeeded.items()):
        success.add_metric([job], moment.replace(tzinfo=UTC).timestamp())
    duration = GaugeMetricFamily(
        "dailypapers_job_last_duration_seconds",
        "How long each job's latest finished try took",
        labels=["job"],
    )
    failed = GaugeMetricFamily(
        "dailypapers_job_last_failed",
        "1 when each job's latest finished try failed, else 0",
        labels=["job"],
    )
    for job, run in sorted(latest.items()):
        if run.status == RUNNING or run.duration_seconds is None:
            continue
        duration.add_metric([job], run.duration_seconds)
        failed.add_metric([job], 1 if run.status == FAILED else 0)
    return [runs, seconds, success, duration, failed]
