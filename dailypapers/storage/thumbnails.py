"""Thumbnails: which papers still need their first page rendered, and the outcome of each
attempt (an image's file and size, or a failure with its reason and the time of the next try).
The image's bytes are kept here too, so any machine of a site can serve it; each data folder
holds a copy of what it served (services/thumbnails.py). List pages read only the small columns.

One row per paper, updated in place: a failure is recorded once however often it recurs, with
`attempts` counting the tries, and a paper with an "ok" row is never handed out again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.papers import LOCAL_PREFIX, Thumbnail
from .outcomes import record_attempt_failed, record_success
from .schema import daily_submissions, papers, thumbnails

OK = "ok"
FAILED = "failed"


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Never tried, or failed with its wait over."""
    return sa.or_(
        thumbnails.c.arxiv_id.is_(None),
        sa.and_(thumbnails.c.state == FAILED, thumbnails.c.next_try_at <= now),
    )


def _due_papers(now: datetime) -> sa.Select[tuple[str]]:
    return (
        sa.select(papers.c.arxiv_id)
        .select_from(papers.outerjoin(thumbnails, thumbnails.c.arxiv_id == papers.c.arxiv_id))
        .where(
            _due(now),
            papers.c.hidden.is_(False),
            sa.not_(papers.c.arxiv_id.startswith(LOCAL_PREFIX, autoescape=True)),
        )
    )


def _listed_ids() -> sa.Select[tuple[str]]:
    return sa.select(daily_submissions.c.arxiv_id).where(daily_submissions.c.removed.is_(False))


def count_due(conn: Connection, now: datetime, *, listed_only: bool = False) -> int:
    """How many papers' thumbnails are due at `now` (what papers_due would hand out)."""
    due = _due_papers(now)
    if listed_only:
        due = due.where(papers.c.arxiv_id.in_(_listed_ids()))
    query = sa.select(sa.func.count()).select_from(due.subquery())
    return int(conn.execute(query).scalar() or 0)


def papers_due(
    conn: Connection, now: datetime, limit: int, *, listed_only: bool = False
) -> list[str]:
    """Up to `limit` arXiv ids whose thumbnail is due at `now`: papers on the daily list first
    (newest day first), then, unless `listed_only`, the rest of the catalog (newest published
    first). Local papers (no PDF on arXiv) and hidden ones never appear; `limit` 0 gives []."""
    if limit <= 0:
        return []
    base = _due_papers(now)
    listed = (
        base.join(daily_submissions, daily_submissions.c.arxiv_id == papers.c.arxiv_id)
        .where(daily_submissions.c.removed.is_(False))
        .order_by(daily_submissions.c.day.desc(), daily_submissions.c.id)
        .limit(limit)
    )
    found = [str(row.arxiv_id) for row in conn.execute(listed)]
    if len(found) < limit and not listed_only:
        rest = (
            base.where(papers.c.arxiv_id.not_in(_listed_ids()))
            .order_by(papers.c.published_at.desc(), papers.c.arxiv_id)
            .limit(limit - len(found))
        )
        found += [str(row.arxiv_id) for row in conn.execute(rest)]
    return found


def record_thumbnail(
    conn: Connection,
    arxiv_id: str,
    image: Thumbnail,
    data: bytes,
    now: datetime,
) -> None:
    """The paper's first page is rendered: `image` names the file, `data` is its content."""
    record_success(
        conn,
        thumbnails,
        arxiv_id,
        now,
        {
            "state": OK,
            "file": image.file,
            "width": image.width,
            "height": image.height,
            "bytes": len(data),
            "image": data,
        },
    )


def record_failure(
    conn: Connection,
    arxiv_id: str,
    reason: str,
    error: str,
    now: datetime,
    wait: Callable[[int], timedelta],
) -> int:
    """The attempt failed for `reason` (a short word: "missing", "encrypted", ...); the next
    may run `wait(attempts)` after `now`, where `attempts` counts this one. Returns it."""
    cleared = dict.fromkeys(("file", "width", "height", "bytes", "image"))
    values = {"state": FAILED, **cleared}
    return record_attempt_failed(conn, thumbnails, arxiv_id, (reason, error), now, wait, values)


def rendered_files(conn: Connection) -> list[tuple[str, str]]:
    """(arXiv id, file name) of every rendered thumbnail, in id order."""
    query = (
        sa.select(thumbnails.c.arxiv_id, thumbnails.c.file)
        .where(thumbnails.c.state == OK)
        .order_by(thumbnails.c.arxiv_id)
    )
    return [(str(row.arxiv_id), str(row.file)) for row in conn.execute(query)]


def image_named(conn: Connection, file: str) -> bytes | None:
    """The stored content of the rendered image named `file`, or None."""
    query = (
        sa.select(thumbnails.c.image)
        .where(thumbnails.c.file == file, thumbnails.c.state == OK)
        .limit(1)
    )
    data = conn.execute(query).scalar()
    return bytes(data) if data is not None else None


def forget_thumbnails(conn: Connection, arxiv_ids: list[str]) -> int:
    """Drop these papers' rows, so they are due again as if never tried; returns how many."""
    if not arxiv_ids:
        return 0
    return int(
        conn.execute(sa.delete(thumbnails).where(thumbnails.c.arxiv_id.in_(arxiv_ids))).rowcount
    )


def thumbnails_of(conn: Connection, arxiv_ids: Iterable[str]) -> dict[str, Thumbnail]:
    """The rendered thumbnails of these papers, by id; papers without one are absent."""
    ids = list(arxiv_ids)
    if not ids:
        return {}
    query = sa.select(
        thumbnails.c.arxiv_id, thumbnails.c.file, thumbnails.c.width, thumbnails.c.height
    ).where(thumbnails.c.arxiv_id.in_(ids), thumbnails.c.state == OK)
    return {row.arxiv_id: Thumbnail(row.file, row.width, row.height) for row in conn.execute(query)}


def thumbnail_joined(
    joined: sa.FromClause,
) -> sa.Join:
    """`joined` (a FROM with `papers` in it) with the paper's rendered thumbnail, if any, so a
    list query reads it in the same statement."""
    return sa.outerjoin(
        joined,
        thumbnails,
        sa.and_(thumbnails.c.arxiv_id == papers.c.arxiv_id, thumbnails.c.state == OK),
    )


THUMBNAIL_COLUMNS = [
    thumbnails.c.file.label("thumbnail_file"),
    thumbnails.c.width.label("thumbnail_width"),
    thumbnails.c.height.label("thumbnail_height"),
]
