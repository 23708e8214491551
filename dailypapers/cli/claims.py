"""`claims list|approve|reject`: claimed authorship from the command line, the same rules as
the admin page (services/claims.py)."""

from __future__ import annotations

import json
import sys

import click

from ..config import Config
from .common import EXIT_FAILED, err, open_store_or_exit


@click.group()
def claims() -> None:
    """Claimed authorship: accounts saying "this is me" of a paper's author (docs/people.md)."""


@claims.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "approved", "rejected", "all"]),
    default="pending",
    show_default=True,
    help="Which claims to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tab-separated lines.")
@click.pass_obj
def claims_list(cfg: Config, status: str, as_json: bool) -> None:
    """List claims, oldest first: id, status, username, paper, author number, name as written."""
    from ..services.claims import all_claims

    store = open_store_or_exit(cfg)
    found = all_claims(store, None if status == "all" else status)
    if as_json:
        rows = [
            {
                "id": c.id,
                "status": c.status,
                "username": c.username,
                "arxiv_id": c.arxiv_id,
                "position": c.position + 1,
                "name": c.name,
                "confirmed_from": c.confirmed_from,
            }
            for c in found
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for c in found:
        click.echo(f"{c.id}\t{c.status}\t{c.username}\t{c.arxiv_id}\t{c.position + 1}\t{c.name}")


def _decide(cfg: Config, claim_id: int, approve: bool) -> None:
    from ..domain.errors import Conflict, NotFound
    from ..services.claims import decide

    store = open_store_or_exit(cfg)
    try:
        decided = decide(store, claim_id, approve, None)
    except (NotFound, Conflict) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILED)
    click.echo(f"claim {decided.id} {decided.status}: {decided.username} as {decided.name}")


@claims.command("approve")
@click.argument("claim_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_obj
def claims_approve(cfg: Config, claim_id: int) -> None:
    """Approve the pending claim CLAIM_ID (its author name then links to the profile)."""
    _decide(cfg, claim_id, True)


@claims.command("reject")
@click.argument("claim_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_obj
def claims_reject(cfg: Config, claim_id: int) -> None:
    """Reject the pending claim CLAIM_ID."""
    _decide(cfg, claim_id, False)
