"""The thumbnail backfill: fetch the PDFs of papers that have no thumbnail yet (the daily
list's first), render each first page in a child process (ingest/pdf_render.py), keep the
image under `<data_dir>/thumbnails/` and record the outcome (storage/thumbnails.py).

`backfill_thumbnails(store, config, limit)` is the job: the CLI runs it, and so can a
scheduler. Pages never wait on it: they read the table and the files. One backfill runs at a
time (a lock file in the thumbnails folder); a second finds it taken and returns at once.

A failure is recorded once per paper and retried after a wait that doubles with each attempt
(`retry_wait`); a PDF arXiv says is gone (404, 410: withdrawn) waits much longer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..config import Config
from ..domain.papers import Thumbnail
from ..ingest.http import FetchError, PoliteClient, TooLarge
from ..ingest.pdf_render import (
    Rendered,
    RenderFailed,
    RenderLimits,
    image_format,
    looks_like_pdf,
    render_files,
)
from ..storage import Store
from ..storage.locks import file_lock
from ..storage.thumbnails import (
    count_due,
    forget_thumbnails,
    image_named,
    papers_due,
    record_failure,
    record_thumbnail,
    rendered_files,
)

log = logging.getLogger(__name__)

FOLDER = "thumbnails"
BATCH = 10  # PDFs per child process: a crash costs one of them, a start costs ~0.1 s
# Retries: a lost connection or a crashed render may work in an hour; a PDF that PDFium
# cannot read will not change soon; a PDF arXiv says is gone (withdrawn) almost never comes
# back. Each wait doubles with every attempt up to MAX_WAIT.
FIRST_WAIT = {"missing": timedelta(days=7)}
CONTENT_REASONS = frozenset({"not-pdf", "corrupt", "encrypted", "too-large"})
MAX_WAIT = timedelta(days=90)


def retry_wait(reason: str, attempts: int) -> timedelta:
    """How long after its `attempts`-th failure (1 for the first) for `reason` a paper's
    thumbnail is tried again.

    >>> retry_wait("timeout", 1), retry_wait("timeout", 3), retry_wait("missing", 2)
    (datetime.timedelta(seconds=3600), datetime.timedelta(seconds=14400), datetime.timedelta(days=14))
    """
    if reason in FIRST_WAIT:
        first = FIRST_WAIT[reason]
    elif reason in CONTENT_REASONS:
        first = timedelta(days=1)
    else:
        first = timedelta(hours=1)
    wait: timedelta = first * 2 ** min(attempts - 1, 20)
    return min(MAX_WAIT, wait)


@dataclass
class ThumbnailReport:
    """What one backfill did: thumbnails rendered, failures by reason, papers still due that
    were left for a later run (`skipped`), and whether another backfill was running (`busy`)."""

    rendered: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    busy: bool = False

    def counts(self) -> dict[str, int]:
        """The report as flat counts (what a scheduler logs)."""
        failed = {f"failed_{reason}": count for reason, count in sorted(self.failed.items())}
        return {"rendered": self.rendered, "skipped": self.skipped, **failed}


ProgressFn = Callable[[int, int | None, str], None]


def _no_progress(_done: int, _total: int | None, _detail: str) -> None:
    return None


def thumbnail_folder(config: Config) -> Path:
    return Path(config.data_dir).expanduser() / FOLDER


def thumbnail_path(config: Config, file: str) -> Path:
    """Where the image named `file` (`<hash>.<format>`) lies: one subfolder per two first
    characters of the hash, so no folder holds more than a few thousand files."""
    return thumbnail_folder(config) / file[:2] / file


def pdf_url(config: Config, arxiv_id: str) -> str:
    return f"{config.thumbnail_pdf_url.rstrip('/')}/{arxiv_id}"


def _client(config: Config) -> PoliteClient:
    # At most two retries: a PDF that keeps failing is tried again in an hour anyway.
    return PoliteClient(
        delay=config.request_delay,
        timeout=config.thumbnail_timeout,
        retries=min(config.http_retries, 2),
        backoff_base=config.backoff_base,
        backoff_max=config.backoff_max,
        user_agent=config.user_agent,
    )


def _fetch_failure(error: FetchError) -> RenderFailed:
    if isinstance(error, TooLarge):
        return RenderFailed("too-large", str(error))
    if error.status in (404, 410):
        return RenderFailed("missing", str(error))
    if error.timed_out:
        return RenderFailed("timeout", str(error))
    return RenderFailed("http", str(error))


def _fetch(client: PoliteClient, config: Config, arxiv_id: str) -> bytes | RenderFailed:
    try:
        body = client.fetch(
            pdf_url(config, arxiv_id),
            {},
            lambda response: response.content,
            max_bytes=config.thumbnail_max_bytes,
        )
    except FetchError as error:
        return _fetch_failure(error)
    if not looks_like_pdf(body):
        return RenderFailed("not-pdf", f"{pdf_url(config, arxiv_id)}: the body is not a PDF")
    return body


def _write(target: Path, data: bytes) -> None:
    """Write `data` at `target` atomically: a reader sees the whole file or none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, target)


def _keep(config: Config, rendered: Rendered) -> tuple[Thumbnail, bytes]:
    """Put the image into the thumbnails folder under its content hash and describe it."""
    data = rendered.path.read_bytes()
    file = f"{hashlib.sha256(data).hexdigest()[:24]}.{rendered.format}"
    _write(thumbnail_path(config, file), data)
    return Thumbnail(file, rendered.width, rendered.height), data


def local_thumbnail(store: Store, config: Config, file: str) -> Path | None:
    """The path of the image named `file` in this data folder, written there from the
    database first when this machine has no copy yet (another machine rendered it, or a
    restore brought the rows back); None when no rendered thumbnail has that name."""
    path = thumbnail_path(config, file)
    if path.is_file():
        return path
    with store.connect() as conn:
        data = image_named(conn, file)
    if data is None:
        return None
    _write(path, data)
    return path


def _record(
    store: Store,
    config: Config,
    arxiv_id: str,
    outcome: Rendered | RenderFailed,
    now: datetime,
    report: ThumbnailReport,
) -> None:
    if isinstance(outcome, Rendered):
        image, data = _keep(config, outcome)
        with store.begin() as conn:
            record_thumbnail(conn, arxiv_id, image, data, now)
        report.rendered += 1
        return
    with store.begin() as conn:
        record_failure(
            conn,
            arxiv_id,
            outcome.reason,
            outcome.error,
            now,
            lambda attempts: retry_wait(outcome.reason, attempts),
        )
    report.failed[outcome.reason] += 1
    log.warning("thumbnail of %s failed (%s): %s", arxiv_id, outcome.reason, outcome.error)


def backfill_thumbnails(
    store: Store,
    config: Config,
    limit: int = 100,
    *,
    listed_only: bool = False,
    now: datetime | None = None,
    progress: ProgressFn = _no_progress,
) -> ThumbnailReport:
    """Try up to `limit` papers whose thumbnail is due (never tried, or failed with its wait
    over), the daily list's first (only those with `listed_only`: the scheduled job); each is
    fetched once and gets an image or a recorded failure. Returns counts; `busy` when another
    backfill holds the lock (nothing done)."""
    report = ThumbnailReport()
    moment = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    folder = thumbnail_folder(config)
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / "backfill.lock", wait=False) as held:
        if not held:
            report.busy = True
            return report
        with store.connect() as conn:
            due = papers_due(conn, moment, limit, listed_only=listed_only)
            report.skipped = count_due(conn, moment, listed_only=listed_only) - len(due)
        limits = RenderLimits(width=config.thumbnail_width, format=image_format())
        done = 0
        progress(done, len(due), "")
        with _client(config) as client:
            for start in range(0, len(due), BATCH):
                batch = due[start : start + BATCH]
                with tempfile.TemporaryDirectory(prefix="thumbs-") as work:
                    names: dict[str, str] = {}
                    for index, arxiv_id in enumerate(batch):
                        fetched = _fetch(client, config, arxiv_id)
                        if isinstance(fetched, RenderFailed):
                            _record(store, config, arxiv_id, fetched, moment, report)
                            done += 1
                            progress(done, len(due), arxiv_id)
                            continue
                        name = f"{index}.pdf"
                        Path(work, name).write_bytes(fetched)
                        names[name] = arxiv_id
                    outcomes = render_files(Path(work), list(names), limits)
                    for name, arxiv_id in names.items():
                        _record(store, config, arxiv_id, outcomes[name], moment, report)
                        done += 1
                        progress(done, len(due), arxiv_id)
    return report


def restore_missing_files(store: Store, config: Config) -> tuple[int, int]:
    """Write the rendered thumbnails this data folder lacks from the database (pages would
    do it one at a time on first request), and make due again those whose image the
    database lacks too. Returns (written, due again). One `stat` per rendered thumbnail."""
    with store.connect() as conn:
        absent = [
            (arxiv_id, file)
            for arxiv_id, file in rendered_files(conn)
            if not thumbnail_path(config, file).is_file()
        ]
    missing = [arxiv_id for arxiv_id, file in absent if not local_thumbnail(store, config, file)]
    forgotten = 0
    for start in range(0, len(missing), 500):
        with store.begin() as conn:
            forgotten += forget_thumbnails(conn, missing[start : start + 500])
    return len(absent) - len(missing), forgotten
