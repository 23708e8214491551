"""Rate-limit windows in the database, so every worker process counts against one budget.

On PostgreSQL the table is UNLOGGED: every login, vote and search writes a count, and the counts
are worth neither a WAL record each nor surviving a crash (PostgreSQL empties an unlogged table
after one; the limits just start over). SQLite has no such thing and needs none: WAL mode with
synchronous=NORMAL does not fsync each commit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "rate_windows",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
        prefixes=["UNLOGGED"] if postgres else [],
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
