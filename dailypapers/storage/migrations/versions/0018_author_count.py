"""How many authors a daily listing's source counted where it named none
(`daily_submissions.author_count`: the seed page's "16 authors"), so a card can say so.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("daily_submissions", sa.Column("author_count", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("daily_submissions") as batch:
        batch.drop_column("author_count")
