"""For you: the papers a reader marked "not interested" (`dismissals`), and per reader what
else steers the ranking (`foryou_profiles`): a pasted abstract with its vector, and the moment
the reader started over (signals older than that are ignored).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dismissals",
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_dismissals_arxiv_id", "dismissals", ["arxiv_id"])
    op.create_table(
        "foryou_profiles",
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("abstract", sa.Text),
        sa.Column("abstract_model", sa.String(120)),
        sa.Column("abstract_vector", sa.LargeBinary),
        sa.Column("started_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("foryou_profiles")
    op.drop_index("ix_dismissals_arxiv_id", "dismissals")
    op.drop_table("dismissals")
