"""The catalog as a whole: `db migrate`, `demo` (load the bundled catalog) and `stats`.
Filling it from arXiv and Hugging Face is in ingest.py."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..config import Config
from .common import finish_ingest, open_store_or_exit, progress_bar


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("migrate")
@click.pass_obj
def db_migrate(cfg: Config) -> None:
    """Apply pending schema migrations (opening the database does this too)."""
    from ..storage import schema_revision

    store = open_store_or_exit(cfg)
    click.echo(f"database at revision {schema_revision(store)}")


@click.command()
@click.option("--if-empty", is_flag=True, help="Only load when the catalog has no papers.")
@click.pass_obj
def demo(cfg: Config, if_empty: bool) -> None:
    """Load the bundled demo catalog (seed Daily Papers page plus real arXiv records)."""
    from ..ingest.demo import load_demo
    from ..storage.stats import catalog_stats

    store = open_store_or_exit(cfg)
    if if_empty:
        with store.connect() as conn:
            if catalog_stats(conn)["papers"]:
                click.echo("demo: catalog already has papers; nothing loaded")
                return
    with progress_bar("demo") as progress:
        report = load_demo(store, progress=progress)
    finish_ingest(report, cfg, store)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def stats(cfg: Config, as_json: bool) -> None:
    """What the catalog holds: papers, versions, daily submissions, categories, dates."""
    from ..storage.stats import catalog_stats

    store = open_store_or_exit(cfg)
    with store.connect() as conn:
        numbers = catalog_stats(conn)
    if as_json:
        click.echo(json.dumps(numbers, indent=2))
        return
    out = Console(highlight=False)
    out.print(f"papers             {numbers['papers']:,}")
    out.print(f"versions           {numbers['versions']:,}")
    out.print(f"daily submissions  {numbers['daily_submissions']:,}")
    out.print(f"with code          {numbers['with_code']:,}")
    out.print(f"withdrawn          {numbers['withdrawn']:,}")
    out.print(f"published          {numbers['published_first']} .. {numbers['published_last']}")
    out.print(f"daily lists        {numbers['daily_first']} .. {numbers['daily_last']}")
    if numbers["harvests_in_progress"]:
        out.print(f"harvests to resume {numbers['harvests_in_progress']}")
    table = Table("primary category", "papers", box=None)
    for name, n in numbers["primary_categories"].items():
        table.add_row(name, f"{n:,}")
    out.print(table)
