"""`follows list|add|remove --user NAME`: a reader's follows from the command line (the
same rules as the site's follow buttons: services/follows.py)."""

from __future__ import annotations

import json
import sys

import click

from ..config import Config
from ..domain.follows import KINDS
from ..domain.people import User
from ..storage import Store
from .common import EXIT_FAILED, err, open_store_or_exit


@click.group()
def follows() -> None:
    """What a reader follows: categories, authors, searches, organisations (docs/personal.md)."""


def _user(store: Store, username: str) -> User:
    from ..storage.users import find_user

    with store.connect() as conn:
        user = find_user(conn, username)
    if user is None:
        raise click.UsageError(f"no account {username}")
    return user


USER = click.option("--user", "username", required=True, help="The account's username or email.")


@follows.command("list")
@USER
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tab-separated lines.")
@click.pass_obj
def follows_list(cfg: Config, username: str, as_json: bool) -> None:
    """List the account's follows, oldest first: id, kind, label, normalised value."""
    from ..services.follows import list_follows

    store = open_store_or_exit(cfg)
    items = list_follows(store, _user(store, username).id)
    if as_json:
        rows = [
            {"id": f.id, "kind": f.kind, "value": f.value, "label": f.label, "why": f.why}
            for f in items
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for item in items:
        click.echo(f"{item.id}\t{item.kind}\t{item.label}\t{item.value}")


@follows.command("add")
@USER
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("value")
@click.pass_obj
def follows_add(cfg: Config, username: str, kind: str, value: str) -> None:
    """Follow VALUE: a category (cs.CL), an author's name as arXiv writes it, a search in the
    search language, or an organisation."""
    from ..domain.errors import BadParameter, TooMany
    from ..services.follows import follow

    store = open_store_or_exit(cfg)
    user = _user(store, username)
    try:
        item, created = follow(store, cfg, user, kind, value)
    except BadParameter as error:
        raise click.UsageError(str(error)) from None
    except TooMany as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILED)
    click.echo(f"{'following' if created else 'already following'} {item.why} (id {item.id})")


@follows.command("remove")
@USER
@click.argument("follow_id", type=click.IntRange(1, 2**31 - 1))
@click.pass_obj
def follows_remove(cfg: Config, username: str, follow_id: int) -> None:
    """Stop following: FOLLOW_ID is the id `follows list` shows."""
    from ..domain.errors import NotFound
    from ..services.follows import unfollow

    store = open_store_or_exit(cfg)
    try:
        removed = unfollow(store, _user(store, username), follow_id)
    except NotFound as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILED)
    click.echo(f"stopped following {removed.why}")
