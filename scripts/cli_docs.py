"""Write docs/cli.md from the CLI's own --help (tests/test_docs.py checks it is current).

    python scripts/cli_docs.py          # rewrite docs/cli.md
    python scripts/cli_docs.py --check  # exit 1 when docs/cli.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from dailypapers.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    found = [prefix]
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            found += commands(command, [*prefix, name])
        else:
            found.append([*prefix, name])
    return found


def render() -> str:
    runner = CliRunner()
    parts = [
        "# Command line reference\n",
        "Generated from `--help` by `python scripts/cli_docs.py`; do not edit by hand.\n",
        "Exit codes: 0 clean; 1 the run failed; 2 bad usage or configuration; "
        "3 finished but skipped bad records.\n",
    ]
    for path in commands(cli, []):
        result = runner.invoke(cli, [*path, "--help"], prog_name="dailypapers",
                               terminal_width=100, env={"COLUMNS": "100"})
        title = " ".join(["dailypapers", *path])
        parts.append(f"## `{title}`\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if DOC.read_text() == text else 1)
    DOC.write_text(text)
