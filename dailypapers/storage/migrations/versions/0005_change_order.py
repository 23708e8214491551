"""Indexes for reading changes in order: the keyword index reads papers by
(modified_at, arxiv_id) and the vector index reads vectors by (model, created_at, arxiv_id)
after a watermark. Without them each batch of a big build scanned and sorted the whole table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_papers_modified_at", "papers", ["modified_at", "arxiv_id"])
    op.create_index(
        "ix_paper_vectors_created_at", "paper_vectors", ["model", "created_at", "arxiv_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_paper_vectors_created_at", "paper_vectors")
    op.drop_index("ix_papers_modified_at", "papers")
