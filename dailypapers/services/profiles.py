"""A person's public profile, the one way `/u/{username}` (and anything else that shows one)
builds it: the papers they put on the daily list, their upvotes when they allow it (a setting
of their account, off by default), their comments and the papers they are an approved author
of (services/claims.py), newest first. A username of Hugging Face
that imported entries carry and no account here has a profile of those entries alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.errors import NotFound
from ..domain.people import User
from ..storage import Store
from ..storage.claims import Claim, claims_of_user
from ..storage.profiles import (
    ProfileComment,
    ProfilePaper,
    comments_by,
    imported_submissions,
    set_shows_upvotes,
    shows_upvotes,
    submitted_by,
    upvoted_by,
    user_by_username,
)

SHOWN = 50  # items per section: the newest; older ones are on the papers' own pages
MAX_USERNAME = 100


@dataclass(frozen=True)
class Profile:
    """`account` is None for a Hugging Face submitter with no account here; `upvoted` is None
    when the person does not show their upvotes."""

    username: str
    account: User | None
    submitted: list[ProfilePaper]
    upvoted: list[ProfilePaper] | None
    comments: list[ProfileComment]
    claimed: list[Claim] = field(default_factory=list)


def profile(store: Store, username: str) -> Profile:
    """The profile of `username`; NotFound when there is no such account (or it is disabled)
    and no imported entry names it."""
    if not username or len(username) > MAX_USERNAME:
        raise NotFound(f"No one here is called {username[:40]!r}.")
    with store.connect() as conn:
        account = user_by_username(conn, username)
        if account is None or account.disabled:
            imported = imported_submissions(conn, username, SHOWN)
            if not imported:
                raise NotFound(f"No one here is called {username[:40]!r}.")
            return Profile(username, None, imported, None, [])
        shown = shows_upvotes(conn, account.id)
        return Profile(
            username=account.username,
            account=account,
            submitted=submitted_by(conn, account.id, SHOWN),
            upvoted=upvoted_by(conn, account.id, SHOWN) if shown else None,
            comments=comments_by(conn, account.id, SHOWN),
            claimed=claims_of_user(conn, account.id, "approved")[:SHOWN],
        )


def profile_settings(store: Store, user: User) -> bool:
    """Whether `user` shows their upvotes on their profile."""
    with store.connect() as conn:
        return shows_upvotes(conn, user.id)


def set_profile_settings(store: Store, user: User, *, show_upvotes: bool) -> None:
    with store.begin() as conn:
        set_shows_upvotes(conn, user.id, show_upvotes)
