"""Catalog statistics for `dailypapers stats`: counts an operator or a monitor can read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import daily_submissions, harvest_checkpoints, paper_versions, papers


def catalog_stats(conn: Connection, top_categories: int = 20) -> dict[str, Any]:
    """Counts of papers, versions and daily submissions, the primary-category breakdown
    (largest first, ties by name) and the date ranges. Dates are ISO strings or None."""
    count = sa.func.count()
    paper_count = conn.execute(sa.select(count).select_from(papers)).scalar_one()
    by_category = conn.execute(
        sa.select(papers.c.primary_category, count.label("n"))
        .group_by(papers.c.primary_category)
        .order_by(sa.desc("n"), papers.c.primary_category)
    ).all()
    first, last = conn.execute(
        sa.select(sa.func.min(papers.c.published_at), sa.func.max(papers.c.published_at))
    ).one()
    day_first, day_last = conn.execute(
        sa.select(sa.func.min(daily_submissions.c.day), sa.func.max(daily_submissions.c.day))
    ).one()
    flags = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((papers.c.withdrawn, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((papers.c.has_code, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((papers.c.hidden, 1), else_=0)), 0),
        )
    ).one()
    harvests = conn.execute(
        sa.select(count)
        .select_from(harvest_checkpoints)
        .where(harvest_checkpoints.c.completed_at.is_(None))
    ).scalar_one()
    return {
        "papers": int(paper_count),
        "versions": int(conn.execute(sa.select(count).select_from(paper_versions)).scalar_one()),
        "daily_submissions": int(
            conn.execute(sa.select(count).select_from(daily_submissions)).scalar_one()
        ),
        "withdrawn": int(flags[0]),
        "with_code": int(flags[1]),
        "hidden": int(flags[2]),
        "harvests_in_progress": int(harvests),
        "published_first": _day(first),
        "published_last": _day(last),
        "daily_first": _day(day_first),
        "daily_last": _day(day_last),
        "primary_categories": {
            (name or "(none)"): int(n) for name, n in by_category[:top_categories]
        },
        "primary_categories_total": len(by_category),
    }


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return value.date().isoformat() if hasattr(value, "date") else str(value)[:10]
