"""Twins (storage/twins.py): a local paper that merged into its arXiv record leaves an alias
from its old id to the arXiv id, so old links redirect and the search indexes drop it; and a
partial index on the local papers' dates, so an arriving arXiv record finds a local twin
without scanning the catalog (local ids are few: the demo's seed page).

Nothing is merged here: twins already in a catalog join when either is ingested again
(`dailypapers demo` does it for the demo's).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The same text as storage/schema.py's LOCAL_PAPERS: queries must repeat the predicate as
# written for either database to use a partial index.
LOCAL = "arxiv_id LIKE 'local-%'"


def upgrade() -> None:
    op.create_table(
        "paper_aliases",
        sa.Column("alias_id", sa.String(64), primary_key=True),
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_paper_aliases_created_at", "paper_aliases", ["created_at"])
    op.create_index(
        "ix_papers_local_published_at",
        "papers",
        ["published_at"],
        sqlite_where=sa.text(LOCAL),
        postgresql_where=sa.text(LOCAL),
    )


def downgrade() -> None:
    op.drop_index("ix_papers_local_published_at", "papers")
    op.drop_index("ix_paper_aliases_created_at", "paper_aliases")
    op.drop_table("paper_aliases")
