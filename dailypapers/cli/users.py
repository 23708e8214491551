"""`user create`: make an account (or an admin) from the command line."""

from __future__ import annotations

import sys

import click

from ..config import Config
from .common import EXIT_FAILED, err, open_store_or_exit


@click.group()
def user() -> None:
    """Accounts."""


@user.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The account's email address.")
@click.option("--admin", is_flag=True, help="Make the account an admin.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting.",
)
@click.pass_obj
def user_create(cfg: Config, username: str, email: str, admin: bool, password_stdin: bool) -> None:
    """Create an account (an admin with --admin); asks for the password."""
    from ..domain.accounts import InvalidAccount
    from ..domain.errors import Conflict
    from ..services.accounts import register

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = open_store_or_exit(cfg)
    try:
        account = register(store, username, email, password, is_admin=admin)
    except InvalidAccount as error:
        raise click.UsageError(str(error)) from None
    except Conflict as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILED)
    click.echo(f"created {'admin' if admin else 'user'} {account.username} <{account.email}>")
