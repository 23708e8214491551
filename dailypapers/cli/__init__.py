"""The `dailypapers` command line: one click group, one module per noun.

catalog.py (db migrate, demo, stats), ingest.py, search.py (search, similar, index), users.py,
follows.py, claims.py (claims list, approve, reject), library.py (library import, library
export), foryou.py (recommend), serve.py, settings.py (config show), thumbnails.py, digest.py
(digest send, status), backups.py (backup, restore) and jobs.py (jobs, jobs run, worker);
common.py holds what they share, exit codes included.
Any setting in config.SETTINGS can be given before the command with `--set KEY=VALUE`.
"""

from __future__ import annotations

import logging

import click

from .. import __version__
from ..config import ConfigError, load_config
from . import (
    backups,
    catalog,
    claims,
    digest,
    follows,
    foryou,
    ingest,
    jobs,
    library,
    search,
    serve,
    settings,
    thumbnails,
    users,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dailypapers")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    callback=settings.parse_setting_pairs,
    help="Any setting from `dailypapers config show`, e.g. --set log_level=info; repeat for "
    "several. DAILYPAPERS_* environment variables and .env still work.",
)
@click.pass_context
def cli(ctx: click.Context, overrides: dict[str, str]) -> None:
    """dailypapers: an open, self-hostable Daily Papers.

    Fill the catalog from arXiv (OAI-PMH, the query API, the bulk snapshot) and Hugging Face
    daily-papers JSON, and inspect it. Settings come from --set KEY=VALUE, DAILYPAPERS_* env
    vars, a .env file, or defaults (`dailypapers config show`).
    """
    try:
        config = load_config(overrides)  # recorded with the source "flag", which serve exports
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    logging.basicConfig(level=config.log_level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = config


cli.add_command(settings.config)
cli.add_command(catalog.db)
cli.add_command(catalog.demo)
cli.add_command(catalog.stats)
cli.add_command(ingest.ingest)
cli.add_command(search.index)
cli.add_command(search.search)
cli.add_command(search.similar)
cli.add_command(foryou.recommend)
cli.add_command(users.user)
cli.add_command(follows.follows)
cli.add_command(claims.claims)
cli.add_command(library.library)
cli.add_command(serve.serve)
cli.add_command(digest.digest)
cli.add_command(backups.backup)
cli.add_command(backups.restore)
cli.add_command(jobs.jobs)
cli.add_command(jobs.worker)
cli.add_command(thumbnails.thumbnails)


def main() -> None:
    cli(prog_name="dailypapers")
