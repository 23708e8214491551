"""Every scheduled job, in one list: what it does (a plain function of the store, the settings
and a JobContext that returns counts), which setting holds its schedule, and what else must be
set for it to run. The CLI (`dailypapers jobs run NAME`), the scheduler inside `serve` and the
PostgreSQL workers all run these same functions.

A job raises JobFailed when its work failed (the harvest got an error from arXiv); the runner
records the error and the counts the exception carries, and the try is retried with backoff.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from ..domain.schedules import Schedule, parse_schedule
from ..storage import Store

if TYPE_CHECKING:
    from ..search.vector import Embedder

log = logging.getLogger(__name__)

Counts = dict[str, int]
# The folders the backup job writes in backup_dir: one per night, named by its date.
BACKUP_NAME = "%Y-%m-%d"


class JobFailed(Exception):
    """The job's work failed; `counts` says what it did before."""

    def __init__(self, message: str, counts: Counts | None = None) -> None:
        super().__init__(message)
        self.counts = counts or {}


@dataclass
class JobContext:
    """What a run knows besides the store and the settings: the start of its period (aware
    UTC), the clock, and the process's shared embedder (None: make one when needed)."""

    period_start: datetime
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    embedder: Embedder | None = None
    # Called after a job changed the catalog (the scheduler wakes the keyword index).
    catalog_changed: Callable[[], None] = field(default=lambda: None)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Store, Config, JobContext], Counts]
    schedule_setting: str
    help: str
    # Runs in every `serve` process on its own data folder rather than once per period for
    # the whole site (the keyword index), every `schedule` seconds from the process's start.
    per_process: bool = False
    # Why the job cannot run with these settings besides its schedule ("set backup_dir").
    missing: Callable[[Config], str | None] = lambda _config: None

    def schedule(self, config: Config) -> Schedule | None:
        value = getattr(config, self.schedule_setting)
        if isinstance(value, float):  # index_interval_seconds: any positive number
            return Schedule(max(1, round(value))) if value > 0 else None
        return parse_schedule(str(value))

    def off_reason(self, config: Config) -> str | None:
        """None when the job is on; else why it is off, in a few words."""
        if self.schedule(config) is None:
            return f"{self.schedule_setting} is empty or 0"
        return self.missing(config)


# --- the jobs ---------------------------------------------------------------------------------


def harvest(store: Store, config: Config, context: JobContext) -> Counts:
    """OAI-PMH for each set in `harvest_sets`, from where its last completed harvest ended
    (the first time: `harvest_days` before the period). A try that was killed resumes from
    its checkpoint: the window (endpoint, set, from) is the same within a period."""
    from ..ingest.harvest import harvest_oai
    from ..services.arxiv import polite_client
    from ..storage.harvest import latest_completed

    totals: Counter[str] = Counter()
    errors = []
    with polite_client(config) as client:
        for set_spec in config.harvest_sets.split(","):
            with store.connect() as conn:
                since = latest_completed(conn, config.oai_endpoint, set_spec)
            since = since or context.period_start.date() - timedelta(days=config.harvest_days)
            report = harvest_oai(store, client, config.oai_endpoint, since, None, set_spec)
            totals.update(
                records=report.seen,
                new=report.counts.new,
                updated=report.counts.updated,
                skipped=sum(report.skipped.values()),
            )
            if report.error:
                errors.append(f"{set_spec}: {report.error}")
    counts = dict(totals)
    if counts.get("new") or counts.get("updated"):
        context.catalog_changed()
    if errors:
        raise JobFailed("; ".join(errors), counts)
    return counts


def announcements(store: Store, config: Config, context: JobContext) -> Counts:
    """Today's papers from arXiv's announcement feeds for `announcement_categories` (the fast
    path; the harvest stays the complete one): new papers, cross-lists and replacements. An
    empty feed (weekends) is a clean run; arXiv's error feed fails the try."""
    from ..services.arxiv import harvest_announcements

    report = harvest_announcements(store, config, config.announcement_categories)
    counts = report.as_counts()
    if counts.get("new") or counts.get("replaced") or counts.get("cross_listed"):
        context.catalog_changed()
    if report.error:
        raise JobFailed(report.error, counts)
    return counts


def thumbnails(store: Store, config: Config, context: JobContext) -> Counts:
    """Render the first page of up to `thumbnails_per_run` papers on the daily list whose
    thumbnail is due (never tried, or failed with its backoff over); other catalog papers
    only by `dailypapers thumbnails`. Failures are recorded per paper, not as a failed try:
    each paper waits out its own backoff."""
    from ..services.thumbnails import backfill_thumbnails

    report = backfill_thumbnails(store, config, config.thumbnails_per_run, listed_only=True)
    return {**report.counts(), "busy": int(report.busy)}


def summaries(store: Store, config: Config, context: JobContext) -> Counts:
    """Ask `summary_llm_url` for the AI summaries of up to `summaries_per_run` listed papers
    that have none (or whose abstract changed). Each paper's failure waits out its own
    backoff; an endpoint that cannot be reached fails the try, so it is retried."""
    from ..services.summaries import summarize_listed

    report = summarize_listed(store, config, config.summaries_per_run)
    counts = report.counts()
    if report.failed.get("unreachable"):
        raise JobFailed(f"{config.summary_llm_url} cannot be reached", counts)
    return counts


def embeddings(store: Store, config: Config, context: JobContext) -> Counts:
    """Embed papers that have no vector from the current model (at most EMBED_PER_ROUND a
    run) and bring the vector index up to date: pgvector's on PostgreSQL, the usearch file
    beside the database on SQLite. Not the keyword index: that is per machine."""
    from ..search.vector import embedder_for
    from ..services.indexing import EMBED_PER_ROUND, update_indexes

    embedder = context.embedder or embedder_for(config)
    done = update_indexes(
        store,
        config,
        embedder,
        keyword=False,
        embed_limit=EMBED_PER_ROUND,
        background=True,
        on_wait=lambda: log.info("embeddings: waiting for another index round"),
    )
    assert done is not None  # with on_wait, the round waits for the lock
    return {"embedded": done.embedded, "vectors_added": done.vectors}


def keyword_index(store: Store, config: Config, context: JobContext) -> Counts:
    """Bring this data folder's keyword index up to date with the catalog, after the round
    another process of this machine runs (the embeddings job, `dailypapers index`), if any."""
    from ..services.indexing import update_indexes

    done = update_indexes(store, config, None, background=True, on_wait=lambda: None)
    assert done is not None  # with on_wait, the round waits for the lock
    return {"indexed": done.keyword, "searchable": done.searchable}


def digests(store: Store, config: Config, context: JobContext) -> Counts:
    """What `dailypapers digest send` does: queue the digests due (from digest_hour_utc),
    send them, and finish what earlier runs left."""
    from ..services.digests import run_digests

    report = run_digests(store, config, context.clock)
    counts = {"queued": report.queued, "held": report.held, "waiting": report.waiting}
    counts.update(report.outcomes)
    if report.error:
        raise JobFailed(report.error, counts)
    return counts


def cleanup(store: Store, config: Config, context: JobContext) -> Counts:
    """Delete what has expired: sessions, visitors' subscriptions whose confirmation link
    expired unused, rate-limit windows over a day old, and job records older than
    `job_runs_keep_days` (on PostgreSQL, Procrastinate's finished jobs too)."""
    from ..services.limits import DAY
    from ..storage.jobs import delete_runs_before
    from ..storage.limits import delete_windows_before
    from ..storage.sessions import delete_expired_sessions
    from ..storage.subscriptions import delete_unconfirmed

    now = context.clock()
    stored = now.astimezone(UTC).replace(tzinfo=None)
    counts = {"sessions": delete_expired_sessions(store, now)}
    with store.begin(counted=False) as conn:
        expired = stored - timedelta(hours=config.digest_confirm_hours)
        counts["unconfirmed_subscriptions"] = delete_unconfirmed(conn, expired)
    counts["rate_windows"] = delete_windows_before(store, int(now.timestamp()) - DAY)
    with store.begin(counted=False) as conn:
        kept = stored - timedelta(days=config.job_runs_keep_days)
        counts["job_runs"] = delete_runs_before(conn, kept)
        if store.dialect == "postgresql":
            from ..storage.job_queue import delete_finished_queue_jobs

            counts["queue_jobs"] = delete_finished_queue_jobs(conn, config.job_runs_keep_days * 24)
    return counts


def backup(store: Store, config: Config, context: JobContext) -> Counts:
    """`dailypapers backup <backup_dir>/<date of the period>`, then drop the oldest dated
    folders beyond `backup_keep`. A period whose folder is complete is not backed up again
    (the folder appears only when whole: services/backups.py)."""
    from ..services.backups import BackupError, write_backup

    root = Path(config.backup_dir).expanduser()
    folder = root / context.period_start.strftime(BACKUP_NAME)
    if folder.is_dir() and any(folder.iterdir()):
        return {"written": 0, "removed": _prune_backups(root, config.backup_keep)}
    try:
        manifest = write_backup(config, store, folder, lambda *_: None)
    except BackupError as error:
        raise JobFailed(str(error)) from None
    return {
        "written": 1,
        "rows": sum(manifest.tables.values()),
        "removed": _prune_backups(root, config.backup_keep),
    }


def _prune_backups(root: Path, keep: int) -> int:
    dated = []
    for path in root.iterdir() if root.is_dir() else []:
        try:
            datetime.strptime(path.name, BACKUP_NAME)
        except ValueError:
            continue  # not one of ours
        if path.is_dir():
            dated.append(path)
    old = sorted(dated, key=lambda path: path.name)[:-keep]
    for path in old:
        shutil.rmtree(path)
    return len(old)


def _needs_mail(config: Config) -> str | None:
    from ..services.mail import mail_enabled

    if not mail_enabled(config):
        return "mail is not set up (smtp_host, smtp_from)"
    if not config.base_url:
        return "base_url is not set (digest links need it)"
    return None


def _needs_sets(config: Config) -> str | None:
    return None if config.harvest_sets else "harvest_sets is empty"


def _needs_categories(config: Config) -> str | None:
    return None if config.announcement_categories else "announcement_categories is empty"


def _needs_llm(config: Config) -> str | None:
    return None if config.summary_llm_url else "summary_llm_url is empty"


def _needs_backup_dir(config: Config) -> str | None:
    return None if config.backup_dir else "backup_dir is empty"


def _needs_semantic(config: Config) -> str | None:
    from ..search.vector import embedder_for

    if not embedder_for(config).is_installed():
        return "semantic search is not installed (the semantic extra)"
    return None


JOBS: tuple[Job, ...] = (
    Job(
        "harvest",
        harvest,
        "harvest_schedule",
        "arXiv OAI-PMH for harvest_sets",
        missing=_needs_sets,
    ),
    Job(
        "announcements",
        announcements,
        "announcements_schedule",
        "arXiv's daily announcement feeds for announcement_categories",
        missing=_needs_categories,
    ),
    Job(
        "embeddings",
        embeddings,
        "embeddings_schedule",
        "embed new papers, update the vector index",
        missing=_needs_semantic,
    ),
    Job(
        "keyword-index",
        keyword_index,
        "index_interval_seconds",
        "this machine's keyword index (each serve process)",
        per_process=True,
    ),
    Job(
        "thumbnails",
        thumbnails,
        "thumbnails_schedule",
        "first-page images of listed papers",
    ),
    Job(
        "summaries",
        summaries,
        "summaries_schedule",
        "AI summaries of listed papers",
        missing=_needs_llm,
    ),
    Job("digests", digests, "digests_schedule", "send the digests due", missing=_needs_mail),
    Job("cleanup", cleanup, "cleanup_schedule", "expired sessions, confirmations, old rows"),
    Job(
        "backup",
        backup,
        "backup_schedule",
        "nightly backup to backup_dir",
        missing=_needs_backup_dir,
    ),
)
BY_NAME = {job.name: job for job in JOBS}
