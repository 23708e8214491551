"""`jobs` (the scheduled jobs, their last and next runs), `jobs run NAME` (one try now, for
cron or a person) and `worker` (PostgreSQL: a Procrastinate worker that runs the site-wide
jobs with every other worker and serve process). The jobs themselves are dailypapers/jobs/."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.table import Table

from ..config import Config
from .common import EXIT_FAILED, EXIT_USAGE, err, open_store_or_exit


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def jobs(ctx: click.Context, as_json: bool) -> None:
    """The scheduled jobs: schedule, on or off, last run, outcome, duration, next run."""
    if ctx.invoked_subcommand is not None:
        return
    from ..jobs.overview import job_states

    cfg: Config = ctx.obj
    store = open_store_or_exit(cfg)
    states = job_states(store, cfg, datetime.now(UTC))
    if as_json:
        click.echo(json.dumps([state.as_json() for state in states], indent=2))
        return
    table = Table("job", "schedule", "last run", "outcome", "duration", "next run")
    for state in states:
        last = state.last
        outcome = "-" if last is None else last.status
        if last is not None and last.attempt > 1:
            outcome += f" (try {last.attempt})"
        if last is not None and last.error:
            outcome += f": {last.error.splitlines()[-1][:80]}"
        table.add_row(
            state.job.name,
            state.schedule if state.off is None else f"off: {state.off}",
            "-" if last is None else f"{last.started_at:%Y-%m-%d %H:%M:%S}",
            outcome,
            "-"
            if last is None or last.duration_seconds is None
            else f"{last.duration_seconds:.1f} s",
            "-" if state.next_run is None else f"{state.next_run:%Y-%m-%d %H:%M:%S}",
        )
    Console(width=140).print(table)


@jobs.command("run")
@click.argument("name")
@click.pass_obj
def jobs_run(cfg: Config, name: str) -> None:
    """Run job NAME once now, whatever its schedule, and record it (cron works too). Its
    period is the current one of its schedule: a run that ends ok counts for the period, so
    the scheduler does not run it again before the next. Exit 1 when it fails."""
    from ..jobs.registry import BY_NAME, JobContext
    from ..jobs.runner import RunFailed, run_job

    job = BY_NAME.get(name)
    if job is None:
        raise click.BadParameter(
            f"no job {name!r}; the jobs are {', '.join(BY_NAME)}", param_hint="NAME"
        )
    store = open_store_or_exit(cfg)
    now = datetime.now(UTC)
    schedule = job.schedule(cfg)
    period = now if schedule is None or job.per_process else schedule.period_start(now)
    try:
        counts = run_job(store, cfg, job, JobContext(period))
    except RunFailed as error:
        err.print(f"[red]failed:[/red] {error}", highlight=False, markup=False)
        sys.exit(EXIT_FAILED)
    if counts is None:
        err.print(f"{name}: another process started this try first", highlight=False)
        sys.exit(EXIT_FAILED)
    shown = ", ".join(f"{count:,} {key.replace('_', ' ')}" for key, count in counts.items())
    click.echo(f"{name}: {shown or 'done'}")


@click.command()
@click.pass_obj
def worker(cfg: Config) -> None:
    """Run the site-wide jobs with every other worker on the same PostgreSQL (Procrastinate):
    each periodic job once per period across all of them, retried with backoff when it fails
    and run again by another worker when its worker dies. Stop with SIGTERM or Ctrl-C; the job
    in progress gets 30 s to finish. PostgreSQL only: on SQLite, `serve` runs the jobs."""
    import asyncio

    from ..services.logs import configure_logging
    from ..storage import engine_url

    if engine_url(cfg.database_url).get_backend_name() != "postgresql":
        err.print(
            "[red]error:[/red] `dailypapers worker` needs PostgreSQL (database_url is "
            "SQLite): one machine needs no job queue, `serve` runs the jobs itself. Point "
            "database_url at PostgreSQL to share the jobs between machines.",
            highlight=False,
        )
        sys.exit(EXIT_USAGE)
    from ..jobs.queue import build_app, run_worker
    from ..search.vector import embedder_for

    configure_logging(cfg)
    store = open_store_or_exit(cfg)  # migrations first: the queue's tables come with them
    # One embedder for the process: the model loads at the first embeddings run, once.
    app = build_app(store, cfg, embedder=embedder_for(cfg))
    click.echo(f"worker {os.getpid()} running the scheduled jobs", err=True)
    asyncio.run(run_worker(app, cfg))
