"""Secondary indexes a bulk load dropped, with the statements that create them again
(storage/bulk.py). A row is written in the transaction that drops its index and deleted in the
one that creates it again, so a load killed in between leaves the rows, and the next opening of
the catalog rebuilds those indexes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deferred_indexes",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("deferred_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deferred_indexes")
