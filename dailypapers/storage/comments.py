"""Comments on papers: threads (one level of replies), writing, editing, deleting, hiding, and
the visible count per paper."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.people import Comment
from .schema import comments, now, users

_COMMENT_COLUMNS = [*comments.c, users.c.username]


def _comment(row: Any) -> Comment:
    data = dict(row._mapping)
    data["deleted"], data["hidden"] = bool(data["deleted"]), bool(data["hidden"])
    return Comment(**data, replies=[])


def get_comment(conn: Connection, comment_id: int) -> Comment | None:
    row = conn.execute(
        sa.select(*_COMMENT_COLUMNS)
        .select_from(comments.join(users))
        .where(comments.c.id == comment_id)
    ).first()
    return _comment(row) if row else None


def thread(conn: Connection, arxiv_id: str, *, include_hidden: bool = False) -> list[Comment]:
    """Top-level comments, oldest first, each with its replies (oldest first). Hidden ones
    are left out unless `include_hidden` (for admins); deleted ones stay as placeholders when
    they have replies."""
    query = (
        sa.select(*_COMMENT_COLUMNS)
        .select_from(comments.join(users))
        .where(comments.c.arxiv_id == arxiv_id)
        .order_by(comments.c.created_at, comments.c.id)
    )
    found = [_comment(row) for row in conn.execute(query)]
    if not include_hidden:
        found = [c for c in found if not c.hidden]
    top = {c.id: c for c in found if c.parent_id is None}
    for item in found:
        if item.parent_id is not None and item.parent_id in top and not item.deleted:
            top[item.parent_id].replies.append(item)
    return [c for c in top.values() if not c.deleted or c.replies]


def add_comment(
    conn: Connection, arxiv_id: str, user_id: int, body: str, body_html: str, parent_id: int | None
) -> int:
    return int(
        conn.execute(
            sa.insert(comments)
            .values(
                arxiv_id=arxiv_id,
                user_id=user_id,
                parent_id=parent_id,
                body=body,
                body_html=body_html,
                created_at=now(),
                edited_at=None,
                deleted=False,
                hidden=False,
            )
            .returning(comments.c.id)
        ).scalar_one()
    )


def edit_comment(conn: Connection, comment_id: int, body: str, body_html: str) -> None:
    conn.execute(
        sa.update(comments)
        .where(comments.c.id == comment_id)
        .values(body=body, body_html=body_html, edited_at=now())
    )


def delete_comment(conn: Connection, comment_id: int) -> None:
    conn.execute(
        sa.update(comments)
        .where(comments.c.id == comment_id)
        .values(deleted=True, body="", body_html="")
    )


def hide_comment(conn: Connection, comment_id: int, hidden: bool) -> None:
    conn.execute(sa.update(comments).where(comments.c.id == comment_id).values(hidden=hidden))


def comment_counts(conn: Connection, arxiv_ids: list[str]) -> dict[str, int]:
    """Visible comments per paper (deleted and hidden ones not counted)."""
    if not arxiv_ids:
        return {}
    query = (
        sa.select(comments.c.arxiv_id, sa.func.count())
        .where(
            comments.c.arxiv_id.in_(arxiv_ids),
            comments.c.deleted.is_(False),
            comments.c.hidden.is_(False),
        )
        .group_by(comments.c.arxiv_id)
    )
    return {arxiv_id: int(n) for arxiv_id, n in conn.execute(query)}
