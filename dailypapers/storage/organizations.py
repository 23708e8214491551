"""Organisations: the names papers carry (the paper's own `organization`, or its daily-list
entry's), the papers carrying some of them, newest first, and an admin's change of a paper's
organisation. Which spellings are one organisation is the caller's rule (services/
organizations.py: domain/follows.py's normalisation)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import daily_submissions, now, papers


def organization_names(conn: Connection) -> list[str]:
    """Every organisation name some paper or daily entry carries (each once), read from the
    indexes on the two columns."""
    found: set[str] = set()
    for column in (papers.c.organization, daily_submissions.c.organization):
        query = sa.select(column).where(column.is_not(None)).distinct()
        found.update(conn.execute(query).scalars())
    return sorted(found)


def papers_of_organizations(
    conn: Connection, names: Sequence[str], offset: int, limit: int
) -> tuple[list[str], int]:
    """A page of the visible papers whose organisation (their own, or else their daily
    entry's) is one of `names`, newest published first, and how many there are. No names give
    ([], 0)."""
    if not names:
        return [], 0
    listed = daily_submissions.c.organization
    shown = (
        papers.c.hidden.is_(False),
        sa.or_(
            papers.c.organization.in_(list(names)),
            sa.and_(listed.in_(list(names)), daily_submissions.c.removed.is_(False)),
        ),
    )
    joined = papers.outerjoin(daily_submissions)
    total = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*shown)).scalar_one()
    query = (
        sa.select(papers.c.arxiv_id)
        .select_from(joined)
        .where(*shown)
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.arxiv_id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(query).scalars()), int(total)


def set_organization(
    conn: Connection, arxiv_id: str, name: str | None, at: datetime | None = None
) -> bool:
    """Set (or, with None, clear) the organisation of a paper and of its daily entry, if it
    has one; False when there is no such paper. The paper counts as modified (the search
    index reads it again)."""
    changed = conn.execute(
        sa.update(papers)
        .where(papers.c.arxiv_id == arxiv_id)
        .values(organization=name, modified_at=at or now())
    ).rowcount
    if not changed:
        return False
    conn.execute(
        sa.update(daily_submissions)
        .where(daily_submissions.c.arxiv_id == arxiv_id)
        .values(organization=name)
    )
    return True
