"""`recommend`: a reader's For you list from the command line, the same ranking the page and
`GET /api/me/for-you` show (services/foryou.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import click
from rich.console import Console
from rich.table import Table

from ..config import Config
from .common import open_store_or_exit


def _day(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param=param) from None


@click.command()
@click.option("--user", "username", required=True, help="The account whose list to show.")
@click.option(
    "--since", callback=_day, metavar="YYYY-MM-DD", help="First day of the window (published)."
)
@click.option(
    "--until",
    callback=_day,
    metavar="YYYY-MM-DD",
    help="Last day of the window; default: the newest paper's day, for_you_days long.",
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 200), help="How many papers."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (what GET /api/me/for-you answers)."
)
@click.pass_obj
def recommend(
    cfg: Config,
    username: str,
    since: date | None,
    until: date | None,
    limit: int,
    as_json: bool,
) -> None:
    """A reader's For you list: recent papers ranked by what they upvoted, saved, imported
    and followed, each with why it is there."""
    from ..domain.errors import BadParameter
    from ..services import foryou
    from ..storage.users import find_user

    store = open_store_or_exit(cfg)
    with store.connect() as conn:
        user = find_user(conn, username)
    if user is None:
        raise click.BadParameter(f"no account {username!r}", param_hint="--user")
    try:
        result = foryou.for_you(
            store, cfg, user, datetime.now(UTC), since=since, until=until, limit=limit
        )
    except BadParameter as error:
        raise click.UsageError(str(error)) from None
    data = foryou.as_json(result)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    heading = f"For you, {data['since']} to {data['until']} ({data['candidates']:,} papers)"
    click.echo(
        heading + (": nothing in the profile yet, trending papers" if data["coldStart"] else "")
    )
    table = Table("#", "id", "title", "why", box=None, highlight=False)
    for rank, item in enumerate(data["papers"], 1):
        table.add_row(str(rank), item["id"], item["title"], _why(item["why"]))
    Console(width=160).print(table)


def _why(why: dict[str, object]) -> str:
    if why["kind"] == "paper":
        return f"like {why['paper'] or 'your abstract'}"
    if why["kind"] == "follow":
        return "follows " + ", ".join(str(f) for f in why.get("follows", []))  # type: ignore[attr-defined]
    return "trending"
