"""PostgreSQL full text: a weighted tsvector kept by the database itself, with a GIN index.

SQLite needs nothing here: its keyword leg is the tantivy index beside the database file.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Title weighs most (A), then authors (B, no stemming), then the abstract (D).
    op.execute(
        "ALTER TABLE papers ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
        "setweight(to_tsvector('simple', coalesce(authors, '')), 'B') || "
        "setweight(to_tsvector('english', coalesce(abstract, '')), 'D')) STORED"
    )
    op.execute("CREATE INDEX ix_papers_search_vector ON papers USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_papers_search_vector")
    op.execute("ALTER TABLE papers DROP COLUMN search_vector")
