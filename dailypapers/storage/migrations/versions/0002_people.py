"""People: accounts, votes, comments; who submitted a daily entry, featured and removed entries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(32), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("password_changed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "votes",
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
    op.create_index("ix_votes_arxiv_id", "votes", ["arxiv_id"])
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE")),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("edited_at", sa.DateTime),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False),
    )
    op.create_index("ix_comments_arxiv_id", "comments", ["arxiv_id", "created_at"])
    with op.batch_alter_table("daily_submissions") as batch:
        batch.add_column(sa.Column("vote_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(
            sa.Column(
                "submitted_by",
                sa.Integer,
                sa.ForeignKey("users.id", name="fk_daily_submitted_by", ondelete="SET NULL"),
            )
        )
        batch.add_column(
            sa.Column("featured", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_daily_submissions_submitted_by", "daily_submissions", ["submitted_by", "day"]
    )


def downgrade() -> None:
    op.drop_index("ix_daily_submissions_submitted_by", "daily_submissions")
    with op.batch_alter_table("daily_submissions") as batch:
        batch.drop_column("removed")
        batch.drop_column("featured")
        batch.drop_column("submitted_by")
        batch.drop_column("vote_count")
    op.drop_table("comments")
    op.drop_table("votes")
    op.drop_table("users")
