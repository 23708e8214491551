"""What the commands share: exit codes, the stderr console and progress bar, opening the store,
and finishing an ingest (refresh the keyword index, print the report, exit with its code).

Exit codes, for cron and CI: 0 clean; 1 the run failed (nothing after the failure was written);
2 bad usage or configuration; 3 the run finished but skipped bad records (they are listed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..config import Config
from ..ingest.run import IngestReport, ProgressFn
from ..storage import Store, StoreError, open_store

if TYPE_CHECKING:  # the search stack loads only for the commands that use it
    from ..search.vector import Embedder
    from ..services.indexing import IndexRound

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3

err = Console(stderr=True)


def open_store_or_exit(config: Config, *, migrate: bool = True) -> Store:
    """The configured store, closed when the command ends; exit 1 when it cannot be opened.
    `migrate=False` leaves the schema as it is (a backup copies what is there)."""
    try:
        store = open_store(config.database_url, migrate=migrate)
    except StoreError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILED)
    click.get_current_context().call_on_close(store.close)
    return store


def _bars() -> Progress:
    """Rich progress bars on stderr when it is a terminal; silence otherwise (logs and the
    summary remain)."""
    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    return Progress(*columns, console=err, disable=not err.is_terminal, transient=False)


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressFn]:
    """A rich progress bar on a terminal; silence otherwise (logs and the summary remain)."""
    with _bars() as bar:
        task = bar.add_task(label, total=None, detail="")

        def update(done: int, total: int | None, detail: str) -> None:
            bar.update(task, completed=done, total=total, detail=detail)

        yield update


@contextmanager
def stage_bars() -> Iterator[Callable[[str, int, int], None]]:
    """Progress for a run in stages (an index round): one rich bar per stage, added as the
    stage starts; silence off a terminal."""
    with _bars() as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=None, detail="")
            bar.update(tasks[stage], completed=done, total=total, detail=f"{done:,}")

        yield update


def update_indexes_or_wait(
    cfg: Config, store: Store, embedder: Embedder | None, **options: Any
) -> IndexRound:
    """One index round (services/indexing.py) with progress bars, waiting (and saying so)
    while a `serve` worker or another `dailypapers index` runs one."""

    from ..services.indexing import update_indexes

    def waiting() -> None:
        err.print("another process is updating the search indexes; waiting for it...")

    with stage_bars() as progress:
        done = update_indexes(store, cfg, embedder, progress=progress, on_wait=waiting, **options)
    assert done is not None  # with on_wait, the round waits for the lock
    return done


def finish_ingest(
    report: IngestReport, cfg: Config | None = None, store: Store | None = None
) -> None:
    """Refresh the keyword index when papers changed (given cfg and store), list the first
    skipped records, print the summary, and exit 1 on failure or 3 when records were skipped."""
    if cfg is not None and store is not None and (report.counts.new or report.counts.updated):
        done = update_indexes_or_wait(cfg, store, None)
        err.print(
            f"keyword index: {done.keyword:,} papers indexed, {done.searchable:,} searchable",
            highlight=False,
        )
    for problem in report.problems[:20]:
        err.print(f"[yellow]skipped[/yellow] {problem}", highlight=False, markup=False)
    hidden = sum(report.skipped.values()) - min(20, len(report.problems))
    if hidden > 0:
        err.print(f"... and {hidden:,} more skipped records", highlight=False)
    click.echo(report.summary())
    if report.error:
        sys.exit(EXIT_FAILED)
    if not report.clean:
        sys.exit(EXIT_SKIPPED)
