"""Claimed authorship: writing claims (an account's "this is me" on one author entry of a
paper), deciding them, and the reads that show them: an admin's queue, an account's claims,
the approved claims of some papers (who each claimed entry links to) and which papers have a
comment by one of their claimed authors. services/claims.py says who may do what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.errors import Conflict
from .papers import id_chunks
from .schema import author_claims, comments, now, papers, users

STATUSES = ("pending", "approved", "rejected")


@dataclass(frozen=True)
class Claim:
    id: int
    user_id: int
    username: str
    arxiv_id: str
    title: str
    position: int
    name: str
    status: str
    confirmed_from: int | None
    created_at: datetime
    decided_at: datetime | None


_COLUMNS = [
    author_claims.c.id,
    author_claims.c.user_id,
    users.c.username,
    author_claims.c.arxiv_id,
    papers.c.title,
    author_claims.c.position,
    author_claims.c.name,
    author_claims.c.status,
    author_claims.c.confirmed_from,
    author_claims.c.created_at,
    author_claims.c.decided_at,
]


def _select() -> sa.Select[Any]:
    joined = author_claims.join(users, users.c.id == author_claims.c.user_id).join(papers)
    return sa.select(*_COLUMNS).select_from(joined)


def _claims(conn: Connection, query: sa.Select[Any]) -> list[Claim]:
    return [Claim(*row) for row in conn.execute(query)]


def add_claim(
    conn: Connection,
    user_id: int,
    arxiv_id: str,
    position: int,
    name: str,
    *,
    status: str = "pending",
    confirmed_from: int | None = None,
) -> int:
    """Insert a claim; Conflict when the account already claimed this entry (the unique key
    decides, so two requests at once leave one row). Returns its id."""
    stamp = now()
    try:
        with conn.begin_nested():
            return int(
                conn.execute(
                    sa.insert(author_claims)
                    .values(
                        user_id=user_id,
                        arxiv_id=arxiv_id,
                        position=position,
                        name=name,
                        status=status,
                        confirmed_from=confirmed_from,
                        created_at=stamp,
                        decided_at=stamp if status != "pending" else None,
                    )
                    .returning(author_claims.c.id)
                ).scalar_one()
            )
    except sa.exc.IntegrityError:
        raise Conflict(f"you already claimed {name} on {arxiv_id}") from None


def get_claim(conn: Connection, claim_id: int) -> Claim | None:
    found = _claims(conn, _select().where(author_claims.c.id == claim_id))
    return found[0] if found else None


def list_claims(conn: Connection, status: str | None = None, limit: int = 200) -> list[Claim]:
    """Claims (of `status`, when given), oldest first: the order an admin works through them."""
    query = _select().order_by(author_claims.c.created_at, author_claims.c.id).limit(limit)
    if status is not None:
        query = query.where(author_claims.c.status == status)
    return _claims(conn, query)


def claims_of_user(conn: Connection, user_id: int, status: str | None = None) -> list[Claim]:
    """The account's claims (of `status`, when given), newest first."""
    query = (
        _select()
        .where(author_claims.c.user_id == user_id)
        .order_by(author_claims.c.created_at.desc(), author_claims.c.id.desc())
    )
    if status is not None:
        query = query.where(author_claims.c.status == status)
    return _claims(conn, query)


def approved_entry(conn: Connection, arxiv_id: str, position: int) -> Claim | None:
    """The approved claim of one author entry, if any (at most one is approved)."""
    query = _select().where(
        author_claims.c.arxiv_id == arxiv_id,
        author_claims.c.position == position,
        author_claims.c.status == "approved",
    )
    found = _claims(conn, query.limit(1))
    return found[0] if found else None


def decide_claim(conn: Connection, claim_id: int, status: str, admin_id: int | None) -> None:
    conn.execute(
        sa.update(author_claims)
        .where(author_claims.c.id == claim_id)
        .values(status=status, decided_at=now(), decided_by=admin_id)
    )


def claimed_entries(conn: Connection, arxiv_ids: Sequence[str]) -> dict[str, dict[int, str]]:
    """The approved claims of these papers: {arxiv_id: {position: username}}; papers without
    one are absent."""
    found: dict[str, dict[int, str]] = {}
    for chunk in id_chunks(list(dict.fromkeys(arxiv_ids))):
        query = (
            sa.select(author_claims.c.arxiv_id, author_claims.c.position, users.c.username)
            .select_from(author_claims.join(users, users.c.id == author_claims.c.user_id))
            .where(author_claims.c.arxiv_id.in_(chunk), author_claims.c.status == "approved")
        )
        for row in conn.execute(query):
            found.setdefault(row.arxiv_id, {})[row.position] = row.username
    return found


def participating(conn: Connection, arxiv_ids: Sequence[str]) -> set[str]:
    """The papers among `arxiv_ids` with a visible comment by an account holding an approved
    claim on that paper (HF's `isAuthorParticipating`)."""
    found: set[str] = set()
    for chunk in id_chunks(list(dict.fromkeys(arxiv_ids))):
        claimed = sa.select(author_claims.c.id).where(
            author_claims.c.arxiv_id == comments.c.arxiv_id,
            author_claims.c.user_id == comments.c.user_id,
            author_claims.c.status == "approved",
        )
        query = (
            sa.select(comments.c.arxiv_id)
            .where(
                comments.c.arxiv_id.in_(chunk),
                comments.c.deleted.is_(False),
                comments.c.hidden.is_(False),
                claimed.exists(),
            )
            .distinct()
        )
        found.update(conn.execute(query).scalars())
    return found
