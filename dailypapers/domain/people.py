"""Accounts and comments as the site stores them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class User:
    id: int
    username: str
    email: str
    password_hash: str
    is_admin: bool
    disabled: bool
    created_at: datetime
    password_changed_at: datetime


@dataclass
class Comment:
    """A comment with its replies (one level deep; empty for a reply)."""

    id: int
    arxiv_id: str
    user_id: int
    username: str
    parent_id: int | None
    body: str
    body_html: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool
    replies: list[Comment] = field(default_factory=list)
