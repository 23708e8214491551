"""What the community does: upvote, submit a paper to today's list, comment; and what admins
do: feature or remove a daily entry, hide a comment, disable an account. Rate limits are the
entry point's (they count per address); the rules of each action are here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from ..config import Config
from ..domain.comments import check_comment, render_comment
from ..domain.errors import BadParameter, Conflict, Forbidden, NotFound, TooMany, Unavailable
from ..domain.ids import InvalidArxivId, parse_arxiv_id
from ..domain.people import Comment, User
from ..storage import Store
from ..storage.comments import (
    add_comment,
    delete_comment,
    get_comment,
    hide_comment,
)
from ..storage.comments import (
    edit_comment as store_edit,
)
from ..storage.daily import list_submission, set_entry_flags, set_vote, submissions_on, upvotes_of
from ..storage.papers import get_paper, paper_exists
from ..storage.users import find_user, set_disabled
from .arxiv import fetch_papers
from .limits import Budget, charge
from .sessions import end_all_sessions

# The id columns are INTEGER (32 bits on PostgreSQL): a larger id names no row, and would make
# the driver or the database fail instead of finding nothing.
MAX_ROW_ID = 2**31 - 1

ENTRY_ACTIONS = {
    "feature": {"featured": True},
    "unfeature": {"featured": False},
    "remove": {"removed": True},
    "restore": {"removed": False},
}


def vote(store: Store, user: User, arxiv_id: str, voted: bool, budget: Budget | None = None) -> int:
    """Make `user`'s upvote on a listed paper be `voted` (idempotent); the new count.
    `budget` is counted in the same transaction (TooMany over it)."""
    with store.begin() as conn:
        charge(conn, budget)
        if upvotes_of(conn, arxiv_id) is None:
            raise NotFound(f"{arxiv_id} is not on the daily list, so it cannot be upvoted")
        set_vote(conn, user.id, arxiv_id, voted)
        count = upvotes_of(conn, arxiv_id)
    assert count is not None
    return count


def submit(
    store: Store,
    config: Config,
    user: User,
    raw: str,
    today: date,
    on_listed: Callable[[], None] | None = None,
) -> tuple[str, bool]:
    """Put a paper (an id or arXiv URL) on `today`'s list. Returns (arxiv id, whether it was
    newly listed): a paper already listed is not listed twice. Fetches it from arXiv when the
    catalog lacks it; `on_listed` runs after a new listing (to index it soon)."""
    try:
        arxiv_id = parse_arxiv_id(raw).id
    except InvalidArxivId as error:
        raise BadParameter(f"Not an arXiv id or URL: {error}") from None
    with store.connect() as conn:
        paper = get_paper(conn, arxiv_id)
    if paper is not None and paper.daily is not None and not paper.daily["removed"]:
        return arxiv_id, False
    if paper is None:
        # Over the quota, arXiv is not asked and nothing is imported. (The quota is checked
        # again when listing, in the same transaction as the insert.)
        with store.connect() as conn:
            if submissions_on(conn, user.id, today) >= config.submissions_per_day:
                raise TooMany(f"You can submit {config.submissions_per_day} papers a day.")
        report = fetch_papers(store, config, [arxiv_id], interactive=True)
        if report.error:
            raise Unavailable(f"Could not reach arXiv to fetch {arxiv_id}; try again later.")
        with store.connect() as conn:
            paper = get_paper(conn, arxiv_id)
        if paper is None:
            raise NotFound(f"arXiv has no paper {arxiv_id}.")
    published = paper.published_at
    oldest = today - timedelta(days=config.submission_max_age_days)
    if published is None or published.date() < oldest:
        raise BadParameter(
            f"Only papers from the last {config.submission_max_age_days} days "
            f"can be submitted; {arxiv_id} is from "
            f"{published.date() if published else 'an unknown date'}."
        )
    with store.begin() as conn:
        if submissions_on(conn, user.id, today) >= config.submissions_per_day:
            raise TooMany(f"You can submit {config.submissions_per_day} papers a day.")
        try:
            list_submission(conn, arxiv_id, user, today)
        except Conflict:
            return arxiv_id, False
    if on_listed is not None:
        on_listed()
    return arxiv_id, True


def post_comment(
    store: Store,
    user: User,
    arxiv_id: str,
    text: str,
    parent_id: int | None = None,
    budget: Budget | None = None,
) -> Comment:
    """A new comment (Markdown) on a paper, or a reply: replies to a reply go to its parent,
    so threads stay one level deep. `budget` is counted in the same transaction."""
    body = check_comment(text)
    if parent_id is not None:
        _known_id(parent_id, "The comment you reply to is gone.")
    with store.begin() as conn:
        charge(conn, budget)
        if not paper_exists(conn, arxiv_id):
            raise NotFound(f"No paper {arxiv_id} in this catalog.")
        if parent_id is not None:
            parent = get_comment(conn, parent_id)
            if parent is None or parent.arxiv_id != arxiv_id or parent.deleted or parent.hidden:
                raise NotFound("The comment you reply to is gone.")
            if parent.parent_id is not None:  # replies are one level deep
                parent_id = parent.parent_id
        new_id = add_comment(conn, arxiv_id, user.id, body, render_comment(body), parent_id)
        comment = get_comment(conn, new_id)
    assert comment is not None
    return comment


def _known_id(comment_id: int, gone: str) -> None:
    """An id past the column names no comment: NotFound(`gone`), before any query."""
    if not 0 < comment_id <= MAX_ROW_ID:
        raise NotFound(gone)


def own_comment(store: Store, user: User, comment_id: int) -> Comment:
    """The user's own comment, not deleted."""
    _known_id(comment_id, "That comment is gone.")
    with store.connect() as conn:
        comment = get_comment(conn, comment_id)
    if comment is None or comment.deleted:
        raise NotFound("That comment is gone.")
    if comment.user_id != user.id:
        raise Forbidden("You can only change your own comments.")
    return comment


def edit_comment(store: Store, user: User, comment_id: int, text: str) -> Comment:
    comment = own_comment(store, user, comment_id)
    body = check_comment(text)
    with store.begin() as conn:
        store_edit(conn, comment_id, body, render_comment(body))
    return comment


def remove_comment(store: Store, user: User, comment_id: int) -> Comment:
    """Delete one's own comment (a placeholder stays while it has replies)."""
    comment = own_comment(store, user, comment_id)
    with store.begin() as conn:
        delete_comment(conn, comment_id)
    return comment


# --- moderation (the caller checks the user is an admin) ----------------------------------


def set_comment_hidden(store: Store, comment_id: int, hidden: bool) -> Comment:
    _known_id(comment_id, "That comment is gone.")
    with store.begin() as conn:
        comment = get_comment(conn, comment_id)
        if comment is None:
            raise NotFound("That comment is gone.")
        hide_comment(conn, comment_id, hidden)
    return comment


def flag_entry(store: Store, arxiv_id: str, action: str) -> None:
    """Feature, unfeature, remove or restore a paper's daily entry."""
    flags = ENTRY_ACTIONS.get(action)
    if flags is None:
        raise BadParameter("action must be feature, unfeature, remove or restore")
    with store.begin() as conn:
        if not set_entry_flags(conn, arxiv_id, **flags):
            raise NotFound(f"{arxiv_id} is not on the daily list.")


def set_account_disabled(store: Store, admin: User, username: str, disabled: bool) -> User:
    """Disable (or enable again) another account; returns it."""
    with store.begin() as conn:
        target = find_user(conn, username)
        if target is None:
            raise NotFound(f"No account {username!r}.")
        if target.id == admin.id:
            raise BadParameter("You cannot disable your own account.")
        set_disabled(conn, target.id, disabled)
    if disabled:  # its sessions end now, not only while it stays disabled
        end_all_sessions(store, target.id)
    return target
