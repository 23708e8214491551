"""People: authors as rows (`paper_authors`): one per paper and place in its author list,
with the surname domain/authors.py folds the name to and its first initial, indexed, so an author's page is a
look-up (the rows of a catalog that exists are filled here from each paper's JSON list of
authors). Public profiles: `profiles` (what an account shows), and the indexes that read a
person's comments and a Hugging Face submitter's entries. Claimed authorship: `author_claims`.
Organisations: the indexes that list the names papers carry.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import json

import sqlalchemy as sa
from alembic import op

from dailypapers.domain.authors import indexed_names

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_BATCH = 5000  # papers read per round: memory stays flat on a catalog of millions


def upgrade() -> None:
    op.create_table(
        "paper_authors",
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("surname", sa.String(200), nullable=False),
        sa.Column("initial", sa.String(8), nullable=False),
        sqlite_with_rowid=False,
    )
    _fill(op.get_bind())
    # After the fill: one sort builds the index, cheaper than keeping it up row by row.
    op.create_index("ix_paper_authors_surname", "paper_authors", ["surname", "initial"])
    op.create_table(
        "profiles",
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("show_upvotes", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_comments_user_id", "comments", ["user_id", "created_at"])
    op.create_table(
        "author_claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "confirmed_from",
            sa.Integer,
            sa.ForeignKey(
                "author_claims.id", name="fk_author_claims_confirmed_from", ondelete="CASCADE"
            ),
        ),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.Column(
            "decided_by",
            sa.Integer,
            sa.ForeignKey("users.id", name="fk_author_claims_decided_by", ondelete="SET NULL"),
        ),
        sa.UniqueConstraint("user_id", "arxiv_id", "position", name="uq_author_claims_entry"),
    )
    op.create_index("ix_author_claims_arxiv_id", "author_claims", ["arxiv_id", "status"])
    op.create_index("ix_author_claims_status", "author_claims", ["status", "created_at"])
    op.create_index("ix_author_claims_user_id", "author_claims", ["user_id", "status"])
    op.create_index("ix_papers_organization", "papers", ["organization"])
    op.create_index("ix_daily_submissions_organization", "daily_submissions", ["organization"])
    op.create_index(
        "ix_daily_submissions_submitter_username", "daily_submissions", ["submitter_username"]
    )


def _fill(conn: sa.Connection) -> None:
    papers = sa.table("papers", sa.column("arxiv_id"), sa.column("authors"))
    rows_table = sa.table(
        "paper_authors",
        sa.column("arxiv_id"),
        sa.column("position"),
        sa.column("name"),
        sa.column("surname"),
        sa.column("initial"),
    )
    last = ""
    while True:
        batch = conn.execute(
            sa.select(papers.c.arxiv_id, papers.c.authors)
            .where(papers.c.arxiv_id > last)
            .order_by(papers.c.arxiv_id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        rows = [
            {"arxiv_id": arxiv_id, **indexed._asdict()}
            for arxiv_id, authors in batch
            for indexed in indexed_names(json.loads(authors))
        ]
        if rows:
            conn.execute(sa.insert(rows_table), rows)
        last = batch[-1].arxiv_id


def downgrade() -> None:
    op.drop_index("ix_daily_submissions_organization", "daily_submissions")
    op.drop_index("ix_papers_organization", "papers")
    op.drop_index("ix_daily_submissions_submitter_username", "daily_submissions")
    op.drop_index("ix_author_claims_user_id", "author_claims")
    op.drop_index("ix_author_claims_status", "author_claims")
    op.drop_index("ix_author_claims_arxiv_id", "author_claims")
    op.drop_table("author_claims")
    op.drop_index("ix_comments_user_id", "comments")
    op.drop_table("profiles")
    op.drop_index("ix_paper_authors_surname", "paper_authors")
    op.drop_table("paper_authors")
