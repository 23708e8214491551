"""Paper embeddings: one vector per paper (its latest version), with the model that made it.

SQLite stores float32 bytes (the ANN index lives beside the database file); PostgreSQL stores a
pgvector `vector(384)` with an HNSW index for cosine distance.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "paper_vectors",
        sa.Column(
            "arxiv_id",
            sa.String(64),
            sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    if postgres:
        op.execute("ALTER TABLE paper_vectors ALTER COLUMN embedding TYPE vector(384) USING NULL")
        op.execute(
            "CREATE INDEX ix_paper_vectors_hnsw ON paper_vectors "
            "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128)"
        )


def downgrade() -> None:
    op.drop_table("paper_vectors")
