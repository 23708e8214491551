"""The daily list: submissions joined with their papers, filtered and paged, the neighbouring
days that have submissions, and what changes a list (a submission, a vote, an admin's flags).
The web pages, the JSON API and the feeds all read through these functions, so every view of a
list agrees.

Vote counts: `daily_submissions.vote_count` moves by exactly one in the same transaction that
inserts or deletes a vote row, and only when that insert or delete changed a row, so the count
equals the number of vote rows even with many voters at once (PostgreSQL serialises the
UPDATEs on the row lock; SQLite has one writer).
"""

from __future__ import annotations

import functools
import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.errors import Conflict
from ..domain.papers import DailyItem, ListFilter, Thumbnail
from ..domain.people import User
from .filters import paper_conditions
from .schema import comments, daily_submissions, follows, library_items, now, papers, votes
from .thumbnails import THUMBNAIL_COLUMNS, thumbnail_joined

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
    daily_submissions.c.author_count,
    daily_submissions.c.created_at.label("listed_at"),
    daily_submissions.c.featured,
    COMMENT_COUNT,
    *THUMBNAIL_COLUMNS,
]


def _conditions(where: ListFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = [
        papers.c.hidden.is_(False),
        daily_submissions.c.removed.is_(False),
        *paper_conditions(where.papers),
    ]
    if where.first_day:
        conditions.append(daily_submissions.c.day >= where.first_day)
    if where.last_day:
        conditions.append(daily_submissions.c.day <= where.last_day)
    if where.submitter:
        conditions.append(daily_submissions.c.submitter_username == where.submitter)
    return conditions


def _item(row: sa.Row[Any]) -> DailyItem:
    data = dict(row._mapping)
    for name in ("authors", "categories", "github_repos", "project_pages"):
        data[name] = json.loads(data[name])
    data["withdrawn"] = bool(data["withdrawn"])
    data["featured"] = bool(data["featured"])
    data["organization"] = data["organization"] or data.pop("paper_organization")
    data.pop("paper_organization", None)
    file, width, height = (data.pop(f"thumbnail_{k}") for k in ("file", "width", "height"))
    data["thumbnail"] = Thumbnail(file, width, height) if file else None
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
        .select_from(thumbnail_joined(daily_submissions.join(papers)))
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
    return _first_day(conn, daily_submissions.c.day.desc())


def neighbour_days(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """(the previous day with submissions, the next one); None where there is none."""
    before = _first_day(conn, daily_submissions.c.day.desc(), daily_submissions.c.day < day)
    after = _first_day(conn, daily_submissions.c.day.asc(), daily_submissions.c.day > day)
    return before, after


def _first_day(
    conn: Connection, order: sa.UnaryExpression[Any], *conditions: sa.ColumnElement[bool]
) -> date | None:
    # ORDER BY day LIMIT 1, not max(day)/min(day): both databases walk the day index from
    # its end and stop at the first visible submission. PostgreSQL planned the aggregate as
    # a join of every submission (25 ms a daily page at 20k submissions; this: ~0.1 ms).
    query = (
        sa.select(daily_submissions.c.day)
        .select_from(daily_submissions.join(papers))
        .where(papers.c.hidden.is_(False), daily_submissions.c.removed.is_(False), *conditions)
        .order_by(order)
        .limit(1)
    )
    return _as_date(conn.execute(query).scalar())


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
        .select_from(thumbnail_joined(daily_submissions.join(papers)))
        .where(daily_submissions.c.arxiv_id == arxiv_id, daily_submissions.c.removed.is_(False))
    )
    row = conn.execute(query).first()
    return _item(row) if row else None


def daily_entries(conn: Connection, arxiv_ids: list[str]) -> dict[str, DailyItem]:
    """The daily entries (not removed) of these papers, by id; papers not listed are absent."""
    if not arxiv_ids:
        return {}
    query = (
        sa.select(*_LIST_COLUMNS)
        .select_from(thumbnail_joined(daily_submissions.join(papers)))
        .where(daily_submissions.c.arxiv_id.in_(arxiv_ids), daily_submissions.c.removed.is_(False))
    )
    return {item.arxiv_id: item for item in map(_item, conn.execute(query))}


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- votes -------------------------------------------------------------------------------


def upvotes_of(conn: Connection, arxiv_id: str) -> int | None:
    """Upvotes shown for a listed paper (imported + cast here), None when it is not listed."""
    row = conn.execute(
        sa.select(daily_submissions.c.upvotes + daily_submissions.c.vote_count).where(
            daily_submissions.c.arxiv_id == arxiv_id, daily_submissions.c.removed.is_(False)
        )
    ).first()
    return None if row is None else int(row[0])


def set_vote(
    conn: Connection, user_id: int, arxiv_id: str, voted: bool, at: datetime | None = None
) -> bool:
    """Make the user's vote on a listed paper be `voted`; idempotent. Returns whether the
    stored state changed. The caller checks the paper is listed. `at` dates a new vote (a
    restored export keeps its times); default now."""
    statement: sa.Executable
    if voted:
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        statement = (
            insert(votes)
            .values(user_id=user_id, arxiv_id=arxiv_id, created_at=at or now())
            .on_conflict_do_nothing()
            .returning(votes.c.user_id)
        )
    else:
        statement = (
            sa.delete(votes)
            .where(votes.c.user_id == user_id, votes.c.arxiv_id == arxiv_id)
            .returning(votes.c.user_id)
        )
    # RETURNING says for certain whether a row changed (driver rowcounts differ here).
    if conn.execute(statement).first() is None:
        return False
    step = 1 if voted else -1
    conn.execute(
        sa.update(daily_submissions)
        .where(daily_submissions.c.arxiv_id == arxiv_id)
        .values(vote_count=daily_submissions.c.vote_count + step)
    )
    return True


def voted_papers(conn: Connection, user_id: int, arxiv_ids: list[str]) -> set[str]:
    if not arxiv_ids:
        return set()
    query = sa.select(votes.c.arxiv_id).where(
        votes.c.user_id == user_id, votes.c.arxiv_id.in_(arxiv_ids)
    )
    return set(conn.execute(query).scalars())


def reader_state(
    conn: Connection, user_id: int, arxiv_ids: list[str]
) -> tuple[set[str], set[str], dict[tuple[str, str], int]]:
    """The reader's marks on a page of papers, in one statement (a signed-in list page asks on
    every request): which of `arxiv_ids` they upvoted, which they keep in their library, and
    all their follows as {(kind, value): follow id}. At most a page of ids."""
    values: dict[str, Any] = {f"id{n}": arxiv_id for n, arxiv_id in enumerate(arxiv_ids)}
    voted: set[str] = set()
    saved: set[str] = set()
    followed: dict[tuple[str, str], int] = {}
    rows = conn.execute(_reader_state(len(arxiv_ids)), {"user": user_id, **values})
    for what, first, second, number in rows:
        if what == "v":
            voted.add(first)
        elif what == "s":
            saved.add(first)
        else:
            followed[(first, second)] = int(number)
    return voted, saved, followed


@functools.lru_cache(maxsize=64)
def _reader_state(count: int) -> sa.TextClause:
    # Plain SQL with one named parameter per id, kept per count: an expanding IN would be
    # rewritten on every call, which cost more than the query itself.
    names = ", ".join(f":id{n}" for n in range(count)) or "NULL"
    return sa.text(
        f"SELECT 'v' AS what, arxiv_id, '' AS value, 0 AS id FROM {votes.name}"
        f" WHERE user_id = :user AND arxiv_id IN ({names})"
        f" UNION ALL SELECT 's', arxiv_id, '', 0 FROM {library_items.name}"
        f" WHERE user_id = :user AND arxiv_id IN ({names})"
        f" UNION ALL SELECT 'f', kind, value, id FROM {follows.name} WHERE user_id = :user"
    )


def vote_rows(conn: Connection, arxiv_id: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(votes).where(votes.c.arxiv_id == arxiv_id)
        ).scalar_one()
    )


# --- daily submissions -------------------------------------------------------------------


def list_submission(conn: Connection, arxiv_id: str, user: User, day: date) -> None:
    """Put a catalogued paper on `day`'s list, submitted by `user`; Conflict if listed."""
    existing = conn.execute(
        sa.select(daily_submissions.c.day, daily_submissions.c.removed).where(
            daily_submissions.c.arxiv_id == arxiv_id
        )
    ).first()
    if existing is not None:
        raise Conflict(f"already on the daily list of {existing.day}")
    conn.execute(
        sa.insert(daily_submissions).values(
            arxiv_id=arxiv_id,
            day=day,
            submitter_name=user.username,
            submitter_username=user.username,
            upvotes=0,
            organization=None,
            source="site",
            created_at=now(),
            submitted_by=user.id,
        )
    )


def submissions_on(conn: Connection, user_id: int, day: date) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(daily_submissions)
            .where(daily_submissions.c.submitted_by == user_id, daily_submissions.c.day == day)
        ).scalar_one()
    )


def set_entry_flags(conn: Connection, arxiv_id: str, **flags: bool) -> bool:
    """Admin: set `featured` and/or `removed` on a daily entry; False when there is none."""
    result = conn.execute(
        sa.update(daily_submissions).where(daily_submissions.c.arxiv_id == arxiv_id).values(**flags)
    )
    return result.rowcount == 1
