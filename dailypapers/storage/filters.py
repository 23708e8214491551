"""A PaperFilter as SQL conditions on `papers`: the one place each filter becomes a WHERE clause,
for daily lists, the semantic leg's candidates and PostgreSQL's full text alike."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..domain.papers import PaperFilter
from .schema import paper_categories, papers


def paper_conditions(where: PaperFilter) -> list[sa.ColumnElement[bool]]:
    """Conditions a visible paper must meet to pass `where` ([] for an empty filter)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if where.categories:
        conditions.append(
            sa.exists().where(
                paper_categories.c.arxiv_id == papers.c.arxiv_id,
                paper_categories.c.category.in_(where.categories),
            )
        )
    if where.years:
        first, last = where.years
        conditions.append(papers.c.published_at >= datetime(first, 1, 1))
        conditions.append(papers.c.published_at < datetime(last + 1, 1, 1))
    if where.has_code:
        conditions.append(papers.c.has_code.is_(True))
    if where.published:
        start, end = where.published
        conditions.append(papers.c.published_at >= start)
        conditions.append(papers.c.published_at < end)
    return conditions
