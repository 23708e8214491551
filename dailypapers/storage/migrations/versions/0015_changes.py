"""The change counter (`changes`, one row made by the first counted write): page caches of other
processes read it to learn that something anonymous pages show has changed (storage/changes.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("counter", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("changes")
