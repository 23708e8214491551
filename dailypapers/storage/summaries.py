"""AI summaries (domain/summaries.py): one row per listed paper a summary was asked for, "ok"
with the text, keywords, model and the digest of the abstract it was written from, or
"failed" with the reason, the error, the attempts and when the next may run. Pages and the API
read `summaries_of`; the job (services/summaries.py) reads `papers_due` and writes outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.summaries import Summary
from .outcomes import record_attempt_failed, record_success
from .schema import daily_submissions, papers, summaries

OK = "ok"
FAILED = "failed"


@dataclass(frozen=True)
class Due:
    """A listed paper whose summary is due: never asked, failed with its wait over, or
    written before its row changed (`digest` is then the abstract's it was written from)."""

    arxiv_id: str
    abstract: str
    digest: str | None


def papers_due(conn: Connection, now: datetime, limit: int) -> list[Due]:
    """Up to `limit` papers on the daily list (newest day first) whose summary is due at
    `now`. Hidden papers, removed entries and papers without an abstract never are."""
    if limit <= 0:
        return []
    due = sa.or_(
        summaries.c.arxiv_id.is_(None),
        sa.and_(summaries.c.state == FAILED, summaries.c.next_try_at <= now),
        # >=: times are whole seconds, and a change in the second of the summary counts
        sa.and_(summaries.c.state == OK, papers.c.modified_at >= summaries.c.updated_at),
        sa.and_(summaries.c.state == OK, summaries.c.next_try_at <= now),  # a failed rewrite
    )
    query = (
        sa.select(papers.c.arxiv_id, papers.c.abstract, summaries.c.abstract_digest)
        .select_from(
            daily_submissions.join(
                papers, papers.c.arxiv_id == daily_submissions.c.arxiv_id
            ).outerjoin(summaries, summaries.c.arxiv_id == papers.c.arxiv_id)
        )
        .where(
            due,
            daily_submissions.c.removed.is_(False),
            papers.c.hidden.is_(False),
            papers.c.abstract != "",
        )
        .order_by(daily_submissions.c.day.desc(), daily_submissions.c.id)
        .limit(limit)
    )
    return [Due(row.arxiv_id, row.abstract, row.abstract_digest) for row in conn.execute(query)]


def record_summary(
    conn: Connection, arxiv_id: str, summary: Summary, digest: str, now: datetime
) -> None:
    record_success(
        conn,
        summaries,
        arxiv_id,
        now,
        {
            "state": OK,
            "summary": summary.text,
            "keywords": json.dumps(summary.keywords, ensure_ascii=False),
            "model": summary.model,
            "abstract_digest": digest,
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
    """A failed attempt; a summary written before stays shown (a failed rewrite of a changed
    abstract keeps the old text until one succeeds). Returns the attempts so far."""
    kept = conn.execute(sa.select(summaries.c.state).where(summaries.c.arxiv_id == arxiv_id))
    values: dict[str, object] = {} if kept.scalar() == OK else {"state": FAILED}
    return record_attempt_failed(conn, summaries, arxiv_id, (reason, error), now, wait, values)


def mark_current(conn: Connection, arxiv_id: str, now: datetime) -> None:
    """The paper's row changed but not its abstract: its summary stands."""
    conn.execute(
        sa.update(summaries).where(summaries.c.arxiv_id == arxiv_id).values(updated_at=now)
    )


def summaries_of(conn: Connection, arxiv_ids: Iterable[str]) -> dict[str, Summary]:
    """The written summaries of these papers, by id; papers without one are absent."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return {}
    query = sa.select(
        summaries.c.arxiv_id, summaries.c.summary, summaries.c.keywords, summaries.c.model
    ).where(summaries.c.arxiv_id.in_(ids), summaries.c.summary.is_not(None))
    return {
        row.arxiv_id: Summary(row.summary, json.loads(row.keywords or "[]"), row.model or "")
        for row in conn.execute(query)
    }


def summary_counts(conn: Connection) -> dict[str, int]:
    """Rows by state (what `dailypapers summaries` reports)."""
    query = sa.select(summaries.c.state, sa.func.count()).group_by(summaries.c.state)
    return {str(state): int(count) for state, count in conn.execute(query)}
