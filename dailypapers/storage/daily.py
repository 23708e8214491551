"""Reading the daily list: submissions joined with their papers, filtered and paged, plus the
neighbouring days that have submissions. The web pages, the JSON API and the feeds all call
these functions, so every view of a list agrees."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import comments, daily_submissions, paper_categories, papers

# Upvotes shown: those an import recorded plus the votes cast on this site.
TOTAL_UPVOTES = (daily_submissions.c.upvotes + daily_submissions.c.vote_count).label("upvotes")
COMMENT_COUNT = (
    sa.select(sa.func.count())
    .where(
        comments.c.arxiv_id == papers.c.arxiv_id,
        comments.c.deleted.is_(False),
        comments.c.hidden.is_(False),
    )
    .scalar_subquery()
    .label("comments")
)

# Columns a list needs; the full paper (versions and all) is get_paper's job.
_LIST_COLUMNS = [
    papers.c.arxiv_id,
    papers.c.title,
    papers.c.abstract,
    papers.c.authors,
    papers.c.primary_category,
    papers.c.categories,
    papers.c.github_repos,
    papers.c.project_pages,
    papers.c.published_at,
    papers.c.updated_at,
    papers.c.latest_version,
    papers.c.withdrawn,
    papers.c.organization.label("paper_organization"),
    daily_submissions.c.day,
    daily_submissions.c.submitter_name,
    daily_submissions.c.submitter_username,
    TOTAL_UPVOTES,
    daily_submissions.c.organization,
    daily_submissions.c.created_at.label("listed_at"),
    daily_submissions.c.featured,
    COMMENT_COUNT,
]


@dataclass(frozen=True)
class ListFilter:
    """Which submissions a list shows. Days are inclusive; empty categories means all."""

    first_day: date | None = None
    last_day: date | None = None
    categories: tuple[str, ...] = ()
    has_code: bool = False
    submitter: str | None = None


@dataclass
class DailyItem:
    """A paper as it appears on a daily list."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    primary_category: str | None
    categories: list[str]
    github_repos: list[str]
    project_pages: list[str]
    published_at: datetime | None
    updated_at: datetime | None
    latest_version: int | None
    withdrawn: bool
    day: date
    submitter_name: str | None
    submitter_username: str | None
    upvotes: int
    organization: str | None
    listed_at: datetime
    featured: bool = False
    comments: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _conditions(where: ListFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [
        papers.c.hidden.is_(False),
        daily_submissions.c.removed.is_(False),
    ]
    if where.first_day:
        conditions.append(daily_submissions.c.day >= where.first_day)
    if where.last_day:
        conditions.append(daily_submissions.c.day <= where.last_day)
    if where.has_code:
        conditions.append(papers.c.has_code.is_(True))
    if where.submitter:
        conditions.append(daily_submissions.c.submitter_username == where.submitter)
    if where.categories:
        conditions.append(
            sa.exists().where(
                paper_categories.c.arxiv_id == papers.c.arxiv_id,
                paper_categories.c.category.in_(where.categories),
            )
        )
    return conditions


def _item(row: sa.Row[Any]) -> DailyItem:
    data = dict(row._mapping)
    for name in ("authors", "categories", "github_repos", "project_pages"):
        data[name] = json.loads(data[name])
    data["withdrawn"] = bool(data["withdrawn"])
    data["featured"] = bool(data["featured"])
    data["organization"] = data["organization"] or data.pop("paper_organization")
    data.pop("paper_organization", None)
    return DailyItem(**data)


def list_daily(
    conn: Connection,
    where: ListFilter,
    *,
    order: str = "upvotes",
    offset: int = 0,
    limit: int | None = 50,
) -> list[DailyItem]:
    """Submissions matching `where`.

    `order`: "upvotes" (featured first, then most upvotes, then newest listing), "newest"
    (newest day first, then upvotes) or "published" (arXiv date, newest first). Hidden papers
    and removed entries never appear.
    """
    total = daily_submissions.c.upvotes + daily_submissions.c.vote_count
    orders = {
        "upvotes": [
            daily_submissions.c.featured.desc(),
            total.desc(),
            daily_submissions.c.day.desc(),
        ],
        "newest": [daily_submissions.c.day.desc(), total.desc()],
        "published": [papers.c.published_at.desc()],
    }
    query = (
        sa.select(*_LIST_COLUMNS)
        .select_from(daily_submissions.join(papers))
        .where(*_conditions(where))
        .order_by(*orders[order], daily_submissions.c.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_item(row) for row in conn.execute(query)]


def count_daily(conn: Connection, where: ListFilter) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(daily_submissions.join(papers))
        .where(*_conditions(where))
    )
    return int(conn.execute(query).scalar_one())


def latest_day(conn: Connection) -> date | None:
    """The most recent day that has a submission (of a visible paper)."""
    query = (
        sa.select(sa.func.max(daily_submissions.c.day))
        .select_from(daily_submissions.join(papers))
        .where(papers.c.hidden.is_(False), daily_submissions.c.removed.is_(False))
    )
    return _as_date(conn.execute(query).scalar())


def neighbour_days(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """(the previous day with submissions, the next one); None where there is none."""
    visible = daily_submissions.join(papers)
    shown = (papers.c.hidden.is_(False), daily_submissions.c.removed.is_(False))
    before = conn.execute(
        sa.select(sa.func.max(daily_submissions.c.day))
        .select_from(visible)
        .where(daily_submissions.c.day < day, *shown)
    ).scalar()
    after = conn.execute(
        sa.select(sa.func.min(daily_submissions.c.day))
        .select_from(visible)
        .where(daily_submissions.c.day > day, *shown)
    ).scalar()
    return _as_date(before), _as_date(after)


def category_counts(conn: Connection, where: ListFilter) -> list[tuple[str, int]]:
    """Primary categories on a list with their counts (for the filter bar), largest first."""
    query = (
        sa.select(papers.c.primary_category, sa.func.count())
        .select_from(daily_submissions.join(papers))
        .where(*_conditions(ListFilter(where.first_day, where.last_day)))
        .where(papers.c.primary_category.is_not(None))
        .group_by(papers.c.primary_category)
        .order_by(sa.func.count().desc(), papers.c.primary_category)
    )
    return [(name, int(n)) for name, n in conn.execute(query)]


def daily_entry(conn: Connection, arxiv_id: str) -> DailyItem | None:
    query = (
        sa.select(*_LIST_COLUMNS)
        .select_from(daily_submissions.join(papers))
        .where(daily_submissions.c.arxiv_id == arxiv_id, daily_submissions.c.removed.is_(False))
    )
    row = conn.execute(query).first()
    return _item(row) if row else None


def search_papers(conn: Connection, terms: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """Papers whose title, abstract or authors contain every term (case-insensitive), titles
    matching first, then papers on the daily list, then newest. A plain substring search that
    stands in until the search index exists; it reads at most `limit` rows."""
    if not terms:
        return []
    conditions = []
    title_hits = []
    for term in terms:
        pattern = (
            "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        fields = [
            sa.func.lower(c).like(pattern, escape="\\")
            for c in (papers.c.title, papers.c.abstract, papers.c.authors)
        ]
        conditions.append(sa.or_(*fields))
        title_hits.append(sa.case((fields[0], 1), else_=0))
    query = (
        sa.select(papers.c.arxiv_id)
        .select_from(papers.outerjoin(daily_submissions))
        .where(papers.c.hidden.is_(False), *conditions)
        .order_by(
            sum(title_hits[1:], title_hits[0]).desc(),
            (daily_submissions.c.upvotes + daily_submissions.c.vote_count).desc().nulls_last(),
            papers.c.published_at.desc().nulls_last(),
            papers.c.arxiv_id,
        )
        .limit(limit)
    )
    return [{"arxiv_id": row.arxiv_id} for row in conn.execute(query)]


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
