"""`digest send` and `digest status`: the email digests from cron, and how deliveries went.
The work is services/digests.py's; this module parses options, shows progress and picks the
exit code."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

import click

from ..config import Config
from .common import EXIT_FAILED, EXIT_SKIPPED, err, open_store_or_exit, progress_bar


@click.group()
def digest() -> None:
    """Email digests: send the ones due (from cron), see how deliveries went."""


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@digest.command("send")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Compose each subscriber's next digest and print how many papers it would hold; "
    "write nothing, send nothing.",
)
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Queue the digests of this day (daily) and its ISO week (weekly) instead of today's. "
    "Without it, today's are queued from digest_hour_utc on.",
)
@click.option("--to", "email", metavar="EMAIL", help="Only this subscriber's digest.")
@click.pass_obj
def digest_send(cfg: Config, dry_run: bool, day: datetime | None, email: str | None) -> None:
    """Send the digests that are due, and finish what earlier runs left (retries, a run that
    was killed).

    Safe from cron at any frequency: a digest is queued once per subscriber and period, and
    sent once; two runs at once share the work. A mail that was being received by the server
    when a run died is recorded as possibly sent and not sent again (`digest status` lists
    them). Needs smtp_host, smtp_from and base_url.

    Exit codes: 0 every digest handled was sent or had nothing new; 1 the run stopped (the
    mail server took no mail: unreachable, login or sender refused); 2 bad usage or mail
    settings missing; 3 finished, but some digests failed, wait for a retry, were possibly
    sent or are held by another run (listed on stderr).
    """
    from ..domain.errors import BadParameter, NotFound
    from ..services.digests import run_digests

    store = open_store_or_exit(cfg)
    try:
        with progress_bar("digests") as progress:
            report = run_digests(
                store,
                cfg,
                lambda: datetime.now(UTC),
                day=_day(day),
                only_email=email,
                dry_run=dry_run,
                progress=progress,
            )
    except (BadParameter, NotFound) as error:
        raise click.UsageError(str(error)) from None
    if dry_run:
        for address, count in report.previews:
            click.echo(f"{address}: {count} papers" if count else f"{address}: nothing new")
        click.echo(report.summary())
        return
    for problem in report.problems[:20]:
        err.print(problem, highlight=False, markup=False)
    if len(report.problems) > 20:
        err.print(f"... and {len(report.problems) - 20:,} more (dailypapers digest status)")
    click.echo(report.summary())
    if report.error:
        err.print(f"[red]stopped:[/red] {report.error}", highlight=False)
        sys.exit(EXIT_FAILED)
    if not report.clean:
        sys.exit(EXIT_SKIPPED)


@digest.command("status")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Count the digests of this day and its ISO week only (default: all).",
)
@click.pass_obj
def digest_status(cfg: Config, day: datetime | None) -> None:
    """Subscriptions and digests by state, and the recipients that need a look: possibly
    sent (a run died while the server was receiving their mail), failed, waiting to retry."""
    from ..domain.digests import status_line
    from ..services.digests import digest_status as read_status
    from ..services.digests import due_periods

    store = open_store_or_exit(cfg)
    periods = list(due_periods(day.date())) if day is not None else None
    status = read_status(store, periods)

    def counts(numbers: dict[str, int]) -> str:
        shown = [f"{n:,} {state.replace('_', ' ')}" for state, n in sorted(numbers.items())]
        return ", ".join(shown) or "none"

    click.echo(f"subscriptions: {counts(status.subscriptions)}")
    click.echo(
        f"digests{' of ' + ' / '.join(periods) if periods else ''}: {counts(status.digests)}"
    )
    for found, address in status.troubled:
        click.echo(f"{found.period}  {address}  {status_line(found)}")
