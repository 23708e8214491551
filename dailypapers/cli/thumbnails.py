"""`thumbnails`: render the first page of papers' PDFs (services/thumbnails.py) with a
progress bar, then a summary: rendered, failed by reason, still due."""

from __future__ import annotations

import sys

import click

from ..config import Config
from .common import EXIT_SKIPPED, open_store_or_exit, progress_bar


@click.command()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Most papers to try in this run (each is one PDF fetched from arXiv).",
)
@click.option(
    "--check-files",
    is_flag=True,
    help="First write the images this data folder lacks from the database (after a "
    "restore, or on another machine); those the database lacks too become due again.",
)
@click.pass_obj
def thumbnails(cfg: Config, limit: int, check_files: bool) -> None:
    """Fetch and render thumbnails of papers that have none yet, the daily list's first.

    Failures are recorded and retried later with a growing wait; exits 3 (nothing done) when
    another backfill is running."""
    from ..services.thumbnails import backfill_thumbnails, restore_missing_files

    store = open_store_or_exit(cfg)
    if check_files:
        written, due = restore_missing_files(store, cfg)
        click.echo(f"thumbnails: {written} images written from the database, {due} due again")
    with progress_bar("thumbnails") as progress:
        report = backfill_thumbnails(store, cfg, limit, progress=progress)
    if report.busy:
        click.echo("thumbnails: another backfill is running; nothing done", err=True)
        sys.exit(EXIT_SKIPPED)
    failed = sum(report.failed.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(report.failed.items()))
    click.echo(
        f"thumbnails: {report.rendered} rendered, {failed} failed"
        + (f" ({reasons})" if reasons else "")
        + f", {report.skipped} skipped (still due, over --limit)"
    )
