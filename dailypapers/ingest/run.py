"""Source -> records -> store, with counts. Every route shares IngestReport (what happened,
what was skipped and why) and `write_batches` (one transaction per batch, nothing half-written).

The OAI-PMH and query-API loops, which also talk HTTP, are in ingest/harvest.py.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, TypeVar

from ..domain.records import PaperRecord, ParseProblem
from ..storage import Store
from ..storage.bulk import PreparedPaper, bulk_load
from ..storage.papers import BatchCounts, count_papers, write_papers
from .arxiv_bulk import iter_line_chunks, open_snapshot, parse_snapshot_lines
from .hf_daily import NotDailyPapersJSON, iter_daily_papers
from .snapshot_rows import prepare_snapshot_lines

log = logging.getLogger(__name__)

# (done, total or None, detail) -> None; the CLI draws a progress bar from it.
ProgressFn = Callable[[int, int | None, str], None]

_KEEP_PROBLEMS = 200
# A snapshot goes in bulk (unless told) into a catalog with fewer papers than this: building
# the secondary indexes again costs time in proportion to what the catalog already holds.
BULK_BELOW = 10_000

T = TypeVar("T")


def _no_progress(_done: int, _total: int | None, _detail: str) -> None:
    return None


@dataclass
class IngestReport:
    """The outcome of one ingest run. `clean` is False when anything was skipped or it failed."""

    route: str
    counts: BatchCounts = field(default_factory=BatchCounts)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[ParseProblem] = field(default_factory=list)
    error: str | None = None
    seen: int = 0

    @property
    def clean(self) -> bool:
        return self.error is None and not self.skipped

    def skip(self, problem: ParseProblem) -> None:
        self.seen += 1
        self.skipped[reason_kind(problem.reason)] += 1
        if len(self.problems) < _KEEP_PROBLEMS:
            self.problems.append(problem)
        log.info("skipped %s", problem)

    def summary(self) -> str:
        c = self.counts
        skipped = sum(self.skipped.values())
        text = (
            f"{self.route}: {self.seen:,} records: {c.new:,} new, {c.updated:,} updated, "
            f"{c.unchanged:,} unchanged, {skipped:,} skipped"
        )
        if self.skipped:
            text += " (" + ", ".join(f"{k}: {n:,}" for k, n in self.skipped.most_common()) + ")"
        if c.daily_new or c.daily_updated:
            text += f"; daily list: {c.daily_new:,} new, {c.daily_updated:,} updated"
        if self.error:
            text += f"; FAILED: {self.error}"
        return text


def reason_kind(reason: str) -> str:
    """Group skip reasons: quoted values and details after a colon dropped.

    >>> reason_kind("invalid JSON: Expecting value: line 1 column 1 (char 0)")
    'invalid JSON'
    >>> reason_kind("month out of range in '1234.1234'")
    'month out of range'
    """
    text = re.sub(r"\s*(?:in|for)?\s*(?:'[^']*'|\"[^\"]*\")", "", reason)
    return text.split(":")[0].strip() or reason


def write_batches(
    store: Store,
    items: Iterable[PaperRecord | ParseProblem],
    report: IngestReport,
    batch_size: int,
    after_batch: Callable[[], None] | None = None,
) -> None:
    """Write records in transactions of `batch_size`; problems are counted as skipped."""

    def write(batch: list[PaperRecord]) -> BatchCounts:
        with store.begin() as conn:
            return write_papers(conn, batch)

    _write_in_batches(items, write, report, batch_size, after_batch)


def _write_in_batches(
    items: Iterable[T | ParseProblem],
    write: Callable[[list[T]], BatchCounts],
    report: IngestReport,
    batch_size: int,
    after_batch: Callable[[], None] | None,
) -> None:
    batch: list[T] = []

    def flush() -> None:
        if batch:
            report.counts.add(write(batch))
            batch.clear()
        if after_batch:
            after_batch()

    for item in items:
        if isinstance(item, ParseProblem):
            report.skip(item)
            continue
        report.seen += 1
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    flush()


def ingest_snapshot(
    store: Store,
    path: Path,
    *,
    batch_size: int = 2000,
    workers: int | None = None,
    bulk: bool | None = None,
    progress: ProgressFn = _no_progress,
) -> IngestReport:
    """Stream a bulk snapshot (`.json` / `.json.gz` JSON lines) into the catalog.

    Lines are parsed in `workers` processes (default: one per CPU beyond the first, one per CPU
    in bulk mode) while this process writes, with at most a few chunks in flight, so memory
    stays flat. `workers=0` parses in this process.

    `bulk`: True loads in bulk mode (storage/bulk.py: the workers also shape the rows, and the
    papers' secondary indexes are built once at the end), False never, None (the default)
    when the catalog holds fewer than BULK_BELOW papers. Both modes leave the same catalog
    and the same report.
    """
    report = IngestReport("snapshot")
    try:
        raw, lines = open_snapshot(path)
    except OSError as error:
        report.error = f"cannot read {path}: {error.strerror or error}"
        return report
    total = path.stat().st_size
    if bulk is None:
        with store.connect() as conn:
            bulk = count_papers(conn) < BULK_BELOW
    if workers is None:
        # In bulk mode the workers do most of the work and this process little: one per CPU.
        workers = max(1, (os.cpu_count() or 1) - (0 if bulk else 1))
    with raw, lines:

        def tick() -> None:
            progress(raw.tell(), total, f"{report.seen:,} records")

        chunk = max(1, batch_size // 2)
        if not bulk:
            parse: ChunkParser[PaperRecord] = parse_snapshot_lines
            items = iter_chunks(lines, path.name, parse, workers, chunk)
            write_batches(store, items, report, batch_size, tick)
            return report
        prepare: ChunkParser[PreparedPaper] = partial(prepare_snapshot_lines, store.dialect)
        prepared = iter_chunks(lines, path.name, prepare, workers, chunk)
        log.info("bulk load of %s: secondary indexes are built at the end", path.name)
        with bulk_load(store) as write:
            _write_in_batches(prepared, write, report, batch_size, tick)
    return report


# (file name, number of the first line, the lines) -> what they hold, in order.
ChunkParser = Callable[[str, int, list[bytes] | ParseProblem], list[T | ParseProblem]]


def iter_chunks(
    lines: IO[bytes], name: str, parse: ChunkParser[T], workers: int, chunk: int
) -> Iterator[T | ParseProblem]:
    """Run `parse` over chunks of `chunk` lines, in order: in this process when `workers` is 0,
    else in a process pool keeping at most 2 chunks per worker in flight (the bound that keeps
    memory flat however large the file)."""
    if workers == 0:
        for first_line, raw_lines in iter_line_chunks(lines, name, chunk):
            yield from parse(name, first_line, raw_lines)
        return
    context = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[list[T | ParseProblem]]] = deque()
        for first_line, raw_lines in iter_line_chunks(lines, name, chunk):
            pending.append(pool.submit(parse, name, first_line, raw_lines))
            while len(pending) > 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def ingest_daily_json(
    store: Store,
    data: bytes,
    where: str,
    *,
    batch_size: int = 2000,
    progress: ProgressFn = _no_progress,
) -> IngestReport:
    """Store a Hugging Face `/api/daily_papers` array: papers plus their daily-list entries."""
    report = IngestReport("hf-daily")
    try:
        items: Iterator[PaperRecord | ParseProblem] = iter_daily_papers(data, where)
        write_batches(
            store,
            items,
            report,
            batch_size,
            lambda: progress(report.seen, None, f"{report.seen:,} items"),
        )
    except NotDailyPapersJSON as error:
        report.error = str(error)
    return report
