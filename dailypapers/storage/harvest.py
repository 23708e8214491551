"""Harvest checkpoints: where an OAI-PMH harvest stands, saved in the same transaction as
the records of each page, so a harvest killed at any moment resumes exactly there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import harvest_checkpoints


@dataclass
class Checkpoint:
    key: str
    endpoint: str
    set_spec: str | None
    from_date: date | None
    until_date: date | None
    resumption_token: str | None
    last_datestamp: date | None
    pages: int
    records: int
    started_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def load_checkpoint(conn: Connection, key: str) -> Checkpoint | None:
    row = (
        conn.execute(sa.select(harvest_checkpoints).where(harvest_checkpoints.c.key == key))
        .mappings()
        .first()
    )
    return Checkpoint(**row) if row else None


def save_checkpoint(conn: Connection, checkpoint: Checkpoint) -> None:
    values: dict[str, Any] = dict(checkpoint.__dict__)
    updated = conn.execute(
        sa.update(harvest_checkpoints)
        .where(harvest_checkpoints.c.key == checkpoint.key)
        .values(**values)
    )
    if updated.rowcount == 0:
        conn.execute(sa.insert(harvest_checkpoints).values(**values))


def latest_completed(conn: Connection, endpoint: str, set_spec: str | None) -> date | None:
    """The newest datestamp a completed harvest of this endpoint and set reached."""
    query = sa.select(sa.func.max(harvest_checkpoints.c.last_datestamp)).where(
        harvest_checkpoints.c.endpoint == endpoint,
        harvest_checkpoints.c.set_spec.is_(None)
        if set_spec is None
        else harvest_checkpoints.c.set_spec == set_spec,
        harvest_checkpoints.c.completed_at.is_not(None),
    )
    return conn.execute(query).scalar()


def newest_datestamp(conn: Connection) -> date | None:
    """The newest OAI-PMH datestamp any harvest (of any endpoint and set, finished or not)
    has written; None before the first harvest. One row per harvest: cheap to ask often."""
    query = sa.select(sa.func.max(harvest_checkpoints.c.last_datestamp))
    value: date | None = conn.execute(query).scalar()
    return value
