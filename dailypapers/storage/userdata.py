"""What one account has written, read whole for "export all my data" (services/userdata.py):
its votes and its comments, oldest first. Writing them back is the modules' own (votes:
storage/daily.py's set_vote)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import comments, papers, votes


def votes_of(conn: Connection, user_id: int) -> list[tuple[str, str, datetime]]:
    """(arxiv_id, title, created_at) of every vote the account cast, oldest first."""
    query = (
        sa.select(votes.c.arxiv_id, papers.c.title, votes.c.created_at)
        .select_from(votes.join(papers))
        .where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at, votes.c.arxiv_id)
    )
    return [(row.arxiv_id, row.title, row.created_at) for row in conn.execute(query)]


def comments_of(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """Every comment the account wrote (deleted and hidden ones too, as they stand), oldest
    first: id, arxiv_id, parent_id, body, created_at, edited_at, deleted, hidden."""
    query = (
        sa.select(
            comments.c.id,
            comments.c.arxiv_id,
            comments.c.parent_id,
            comments.c.body,
            comments.c.created_at,
            comments.c.edited_at,
            comments.c.deleted,
            comments.c.hidden,
        )
        .where(comments.c.user_id == user_id)
        .order_by(comments.c.created_at, comments.c.id)
    )
    found = []
    for row in conn.execute(query).mappings():
        item = dict(row)
        item["deleted"], item["hidden"] = bool(item["deleted"]), bool(item["hidden"])
        found.append(item)
    return found
