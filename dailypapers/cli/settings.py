"""Settings on the command line: the group's repeatable `--set KEY=VALUE`, and `config show`
(the settings in effect and where each came from). Parsing values is config.py's job."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..config import BY_NAME, Config


def parse_setting_pairs(
    _ctx: click.Context, _param: click.Parameter, pairs: tuple[str, ...]
) -> dict[str, str]:
    """The `--set` pairs as {setting name: raw value}, in order; a repeated key keeps its last
    value. Values stay text: load_config parses them and names the key when one is bad.
    A pair without `=` or a key that is not a setting is a usage error (exit 2).

    ("data_dir=/srv/papers", "log_level=info") -> {"data_dir": "/srv/papers", "log_level": "info"}
    """
    values: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        key = key.strip()
        if not equals:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE")
        if key not in BY_NAME:
            raise click.BadParameter(f"unknown setting {key!r} (see `dailypapers config show`)")
        values[key] = value
    return values


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
