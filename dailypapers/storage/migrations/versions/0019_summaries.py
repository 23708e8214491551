"""AI summaries (`summaries`, storage/summaries.py): per listed paper, the two-sentence summary
and keywords an OpenAI-compatible endpoint wrote from its abstract, or why it failed and when
to ask again. Empty unless `summary_llm_url` is set.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "summaries",
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("keywords", sa.Text),
        sa.Column("model", sa.String(200)),
        sa.Column("abstract_digest", sa.String(16)),
        sa.Column("reason", sa.String(24)),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_summaries_state", "summaries", ["state", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_summaries_state", "summaries")
    op.drop_table("summaries")
