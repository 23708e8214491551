"""`config show`: the settings in effect and where each came from."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..config import Config


@click.group()
def config() -> None:
    """Inspect the settings in effect."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def config_show(cfg: Config, as_json: bool) -> None:
    """List every setting with its value and where it came from (secrets masked)."""
    rows = cfg.rows()
    if as_json:
        click.echo(json.dumps({n: {"value": v, "source": s} for n, v, s, _ in rows}, indent=2))
        return
    table = Table("setting", "value", "source", "help", box=None, highlight=False)
    for name, value, source, help_text in rows:
        table.add_row(name, value, source, help_text)
    Console(width=160).print(table)
