"""The library (storage/library.py): the papers each reader keeps, saved from a page or
imported from a reference manager's export, and the imports with their reports. Items are
keyed on (user, paper): a paper is in a library once, however often it is saved or imported.
`ix_library_items_arxiv_id` serves the twin merge (storage/twins.py moves items from a local id
to its arXiv id) and the cascade when a paper row goes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("lease_until", sa.DateTime),
    )
    op.create_index("ix_library_imports_user", "library_imports", ["user_id", "created_at"])
    op.create_table(
        "library_items",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column(
            "import_id",
            sa.Integer,
            sa.ForeignKey(
                "library_imports.id", name="fk_library_items_import", ondelete="SET NULL"
            ),
        ),
    )
    op.create_index("ix_library_items_added", "library_items", ["user_id", "added_at"])
    op.create_index("ix_library_items_arxiv_id", "library_items", ["arxiv_id"])


def downgrade() -> None:
    op.drop_index("ix_library_items_arxiv_id", "library_items")
    op.drop_index("ix_library_items_added", "library_items")
    op.drop_table("library_items")
    op.drop_index("ix_library_imports_user", "library_imports")
    op.drop_table("library_imports")
