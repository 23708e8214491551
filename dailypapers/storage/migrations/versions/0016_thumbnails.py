"""Thumbnails (storage/thumbnails.py): per paper, the outcome of rendering its PDF's first
page. "ok" rows name the image file; "failed" rows keep the reason, the error, the attempts and
when the next attempt may run, so a PDF that failed is fetched again only after its backoff.
`ix_thumbnails_state` serves the backfill's question "which failures are due?"; `image` keeps
the image's bytes, so every machine of a site can serve it (`ix_thumbnails_file` finds it).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thumbnails",
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("file", sa.String(64)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("bytes", sa.Integer),
        sa.Column("image", sa.LargeBinary),
        sa.Column("reason", sa.String(24)),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_try_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_thumbnails_state", "thumbnails", ["state", "next_try_at"])
    op.create_index("ix_thumbnails_file", "thumbnails", ["file"])


def downgrade() -> None:
    op.drop_index("ix_thumbnails_file", "thumbnails")
    op.drop_index("ix_thumbnails_state", "thumbnails")
    op.drop_table("thumbnails")
