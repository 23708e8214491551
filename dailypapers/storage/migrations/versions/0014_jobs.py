"""Scheduled jobs: `job_runs`, one row per try of a job in a period (both databases), and on
PostgreSQL Procrastinate's queue tables (storage/job_queue.py says why here).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("period_start", sa.DateTime, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("error", sa.Text),
        sa.Column("counts", sa.Text),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.UniqueConstraint(
            "job", "period_start", "attempt", name="uq_job_runs_job_period_attempt"
        ),
    )
    op.create_index("ix_job_runs_job_started_at", "job_runs", ["job", "started_at"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from dailypapers.storage.job_queue import apply_queue_schema

        apply_queue_schema(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from dailypapers.storage.job_queue import drop_queue_schema

        drop_queue_schema(bind)
    op.drop_index("ix_job_runs_job_started_at", "job_runs")
    op.drop_table("job_runs")
