"""`library import` and `library export`: a reader's library from and to files, for scripts and
for readers moving in from a reference manager. The same services the /library page uses;
here the papers the catalog lacks are fetched from arXiv at once, with a progress bar."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.markup import escape

from ..config import Config
from ..domain.people import User
from ..storage import Store
from .common import EXIT_FAILED, EXIT_SKIPPED, err, open_store_or_exit, progress_bar

FORMATS = ("bibtex", "ris", "csl-json", "arxiv-ids", "dailypapers")


@click.group()
def library() -> None:
    """Readers' libraries: import and export."""


def _reader(store: Store, username: str) -> User:
    from ..storage.users import find_user

    with store.connect() as conn:
        user = find_user(conn, username)
    if user is None:
        raise click.BadParameter(f"no account {username!r}", param_hint="--user")
    return user


@library.command("import")
@click.option("--user", "username", required=True, help="The account whose library it is.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="The file's format; default: told from its content.",
)
@click.pass_obj
def library_import(cfg: Config, username: str, file: Path, fmt: str | None) -> None:
    """Import a BibTeX, RIS or CSL-JSON export, a list of arXiv ids or URLs, or this site's
    own JSON export into a reader's library. Papers are matched by arXiv id, then DOI, then
    title; those with an arXiv id the catalog lacks are fetched from arXiv now. Prints what
    became of each entry that was not added; exits 3 when some were not."""
    from ..domain.errors import Refused
    from ..domain.library import FETCHED, FETCHING, MATCHED, UNMATCHED
    from ..services.arxiv import polite_client
    from ..services.library import fetch_import, import_file

    store = open_store_or_exit(cfg)
    user = _reader(store, username)
    with file.open("rb") as handle:  # past the limit, one byte more says enough
        data = handle.read(cfg.library_import_max_bytes + 1)
    try:
        record = import_file(store, cfg, user, data, file.name, fmt, datetime.now(UTC))
    except Refused as error:
        message = escape(f"{file}: {error}")  # the file's text may hold [brackets]
        err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_FAILED)
    if record.status == FETCHING:
        with polite_client(cfg) as client, progress_bar("arXiv") as progress:
            done = fetch_import(store, cfg, record.id, client, progress=progress)
        if done is None:
            err.print("another process is fetching this import; see its report on the site")
        else:
            record = done
    for outcome in record.outcomes:
        if outcome.status == UNMATCHED:
            title = outcome.title or outcome.key or ""
            click.echo(f"not added: {outcome.position} {title[:70]!r}: {outcome.reason}")
    for note in record.notes:
        click.echo(note)
    click.echo(
        f"{file.name} ({record.format}): {record.entries:,} entries: "
        f"{record.count(MATCHED):,} matched, {record.count(FETCHED):,} fetched from arXiv, "
        f"{record.count(UNMATCHED):,} not found; import {record.id}"
    )
    if record.count(UNMATCHED):
        sys.exit(EXIT_SKIPPED)


@library.command("export")
@click.option("--user", "username", required=True, help="The account whose library it is.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["bibtex", "csl-json", "all"]),
    default="bibtex",
    show_default=True,
    help="The library as BibTeX or CSL-JSON, or all the account's data as JSON.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of standard output.",
)
@click.pass_obj
def library_export(cfg: Config, username: str, fmt: str, output: Path | None) -> None:
    """Export a reader's library (newest first), or everything the account holds."""
    from ..services.library import export_bibtex, export_csl_json
    from ..services.userdata import export_all

    store = open_store_or_exit(cfg)
    user = _reader(store, username)
    base = (cfg.base_url or "http://localhost:8000").rstrip("/")

    def page_url(arxiv_id: str) -> str:
        return f"{base}/papers/{arxiv_id}"

    if fmt == "bibtex":
        text = export_bibtex(store, user, page_url)
    elif fmt == "csl-json":
        text = json.dumps(export_csl_json(store, user, page_url), ensure_ascii=False, indent=2)
    else:
        document = export_all(store, user, cfg.site_name, datetime.now(UTC))
        text = json.dumps(document, ensure_ascii=False, indent=2)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", highlight=False)
