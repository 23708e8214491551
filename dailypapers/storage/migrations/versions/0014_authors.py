"""Authors as rows (`paper_authors`): one per paper and place in its author list, with the
surname domain/authors.py folds the name to, indexed, so an author's page is a look-up. The
rows of a catalog that exists are filled here from each paper's JSON list of authors.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import json

import sqlalchemy as sa
from alembic import op

from dailypapers.domain.authors import indexed_names

revision = "0014"
down_revision = "0013"
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
        sqlite_with_rowid=False,
    )
    _fill(op.get_bind())
    # After the fill: one sort builds the index, cheaper than keeping it up row by row.
    op.create_index("ix_paper_authors_surname", "paper_authors", ["surname"])


def _fill(conn: sa.Connection) -> None:
    papers = sa.table("papers", sa.column("arxiv_id"), sa.column("authors"))
    rows_table = sa.table(
        "paper_authors",
        sa.column("arxiv_id"),
        sa.column("position"),
        sa.column("name"),
        sa.column("surname"),
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
            {"arxiv_id": arxiv_id, "position": position, "name": name, "surname": surname}
            for arxiv_id, authors in batch
            for position, name, surname in indexed_names(json.loads(authors))
        ]
        if rows:
            conn.execute(sa.insert(rows_table), rows)
        last = batch[-1].arxiv_id


def downgrade() -> None:
    op.drop_index("ix_paper_authors_surname", "paper_authors")
    op.drop_table("paper_authors")
