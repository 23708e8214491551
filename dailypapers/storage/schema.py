"""The catalog's tables, as SQLAlchemy Core metadata for queries. Migrations in
storage/migrations/ create them; a test checks the two agree on both databases.

Times are stored as naive UTC on both databases so that values read back compare equal to the
values written (SQLite has no time-zone type). Lists (authors, categories, DOIs, links) are JSON
text: they are read whole and never queried inside; categories also get a link table for filters.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()


def now(*, microseconds: bool = False) -> datetime:
    """The time to store: naive UTC, to the second unless `microseconds`."""
    moment = datetime.now(UTC).replace(tzinfo=None)
    return moment if microseconds else moment.replace(microsecond=0)


papers = sa.Table(
    "papers",
    metadata,
    sa.Column("arxiv_id", sa.String(64), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False),
    sa.Column("authors", sa.Text, nullable=False),
    sa.Column("primary_category", sa.String(40)),
    sa.Column("categories", sa.Text, nullable=False),
    sa.Column("submitter", sa.Text),
    sa.Column("comments", sa.Text),
    sa.Column("journal_ref", sa.Text),
    sa.Column("report_no", sa.Text),
    sa.Column("license", sa.Text),
    sa.Column("dois", sa.Text, nullable=False),
    sa.Column("github_repos", sa.Text, nullable=False),
    sa.Column("project_pages", sa.Text, nullable=False),
    sa.Column("has_code", sa.Boolean, nullable=False),
    sa.Column("organization", sa.Text),
    sa.Column("published_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("datestamp", sa.Date),
    sa.Column("latest_version", sa.Integer),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("source_rank", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("modified_at", sa.DateTime, nullable=False),
)

paper_versions = sa.Table(
    "paper_versions",
    metadata,
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("submitted_at", sa.DateTime),
    sa.Column("size_kb", sa.Integer),
    sa.Column("source_type", sa.String(16)),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sqlite_with_rowid=False,
)

paper_categories = sa.Table(
    "paper_categories",
    metadata,
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("category", sa.String(40), primary_key=True),
    sa.Column("is_primary", sa.Boolean, nullable=False),
    sqlite_with_rowid=False,
)

daily_submissions = sa.Table(
    "daily_submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("submitter_name", sa.Text),
    sa.Column("submitter_username", sa.Text),
    sa.Column("upvotes", sa.Integer, nullable=False),
    sa.Column("organization", sa.Text),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # How many authors the listing's source counted when it named none (migration 0018).
    sa.Column("author_count", sa.Integer),
    # Upvotes: `upvotes` is what an import recorded, `vote_count` the votes cast here (kept
    # equal to the number of rows in `votes`, in the same transaction as each vote).
    sa.Column("vote_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "submitted_by",
        sa.Integer,
        sa.ForeignKey("users.id", name="fk_daily_submitted_by", ondelete="SET NULL"),
    ),
    sa.Column("featured", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
)

harvest_checkpoints = sa.Table(
    "harvest_checkpoints",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("set_spec", sa.String(64)),
    sa.Column("from_date", sa.Date),
    sa.Column("until_date", sa.Date),
    sa.Column("resumption_token", sa.Text),
    sa.Column("last_datestamp", sa.Date),
    sa.Column("pages", sa.Integer, nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("completed_at", sa.DateTime),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(32), nullable=False, unique=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("password_changed_at", sa.DateTime, nullable=False),
)

votes = sa.Table(
    "votes",
    metadata,
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

comments = sa.Table(
    "comments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE")),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("edited_at", sa.DateTime),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False),
)

paper_vectors = sa.Table(
    "paper_vectors",
    metadata,
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model", sa.String(120), nullable=False),
    # float32 bytes on SQLite; pgvector vector(384) on PostgreSQL (storage/vectors.py converts)
    sa.Column("embedding", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# Logged-in sessions (storage/sessions.py): the cookie holds a random id, this table its
# sha256 hex, so a copy of the table gives no cookie that works.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

# Rate-limit counts (storage/limits.py): one row per key and fixed window, `window_start` in
# Unix seconds. UNLOGGED on PostgreSQL (migration 0006): counts lost in a crash do no harm.
rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Local papers merged into their arXiv twins (storage/twins.py, migration 0008): the old id
# and the arXiv id it now answers to.
paper_aliases = sa.Table(
    "paper_aliases",
    metadata,
    sa.Column("alias_id", sa.String(64), primary_key=True),
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# Papers with a local id (the demo's, domain/ids.py). Written as literal SQL: a query uses the
# partial index below only when it repeats this predicate as it stands (a bound parameter in
# place of the pattern would not do on SQLite).
LOCAL_PAPERS = papers.c.arxiv_id.like(sa.literal_column("'local-%'", sa.String))

# Secondary indexes a bulk load has dropped and will create again (storage/bulk.py, migration
# 0009): the statement that created each, as the database reports it.
deferred_indexes = sa.Table(
    "deferred_indexes",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("deferred_at", sa.DateTime, nullable=False),
)

# Email digests (storage/subscriptions.py, storage/digests.py, migration 0010). A subscription
# is one address (and, for an account holder, its account); a digest is one mail of one
# subscription for one period, inserted once (the unique key) and taken by one run at a time
# (its lease); its items are the papers frozen into it, one row per (subscription, paper), so
# the database itself keeps a paper from reaching a reader twice.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("frequency", sa.String(8), nullable=False),
    sa.Column("sections", sa.Text, nullable=False),
    sa.Column("max_papers", sa.Integer, nullable=False),
    sa.Column("negative_keywords", sa.Text, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("pause_reason", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("confirmed_at", sa.DateTime),
    sa.Column("confirm_sent_at", sa.DateTime),
    sa.Column("unsubscribed_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

digests = sa.Table(
    "digests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("message_id", sa.String(255)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("composed_at", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("subscription_id", "period", name="uq_digests_subscription_period"),
)

digest_items = sa.Table(
    "digest_items",
    metadata,
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "digest_id", sa.Integer, sa.ForeignKey("digests.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("section", sa.String(32), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("why", sa.Text, nullable=False),
)

# What readers follow (storage/follows.py, migration 0011): one row per reader and thing
# followed, `value` normalised by domain/follows.py, `label` as the reader gave it.
follows = sa.Table(
    "follows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", sa.String(512), nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("user_id", "kind", "value", name="uq_follows_user_kind_value"),
)

# Private feed URLs (storage/feed_tokens.py, migration 0011): the sha256 of each reader's
# token, so a copy of the table gives no URL that works. One per reader and feed.
feed_tokens = sa.Table(
    "feed_tokens",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("feed", sa.String(16), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# A reader's library (storage/library.py, migration 0012): the papers each account keeps,
# saved from a page or imported from a reference manager's file, and the imports with their
# reports (the outcome of every entry, JSON text) so the page can show them later.
library_imports = sa.Table(
    "library_imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    # "fetching" while papers missing from the catalog are asked of arXiv, then "done"
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    # Who fetches for a "fetching" import, until when: a process that dies leaves the lease to
    # expire, and the next one takes the import over.
    sa.Column("lease_until", sa.DateTime),
)

library_items = sa.Table(
    "library_items",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("added_at", sa.DateTime, nullable=False),
    sa.Column("how", sa.String(16), nullable=False),  # "saved" or "imported"
    sa.Column(
        "import_id",
        sa.Integer,
        sa.ForeignKey("library_imports.id", name="fk_library_items_import", ondelete="SET NULL"),
    ),
)

# For you (storage/foryou.py, migration 0013): papers a reader marked "not interested", and
# per reader a pasted abstract (float32 vector bytes on both databases) and the moment the
# reader started over.
dismissals = sa.Table(
    "dismissals",
    metadata,
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

foryou_profiles = sa.Table(
    "foryou_profiles",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("abstract", sa.Text),
    sa.Column("abstract_model", sa.String(120)),
    sa.Column("abstract_vector", sa.LargeBinary),
    sa.Column("started_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# Scheduled jobs (storage/jobs.py, migration 0014): one row per try of a job in a period, on
# both databases. On SQLite inserting attempt 1 of (job, period) is how the one scheduler
# claims the period; on PostgreSQL Procrastinate decides who runs what, and these rows are
# the record `dailypapers jobs`, the admin page and the metrics read. `counts` is the JSON
# object of numbers the job returned.
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("period_start", sa.DateTime, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running, ok or failed
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("duration_seconds", sa.Float),
    sa.Column("error", sa.Text),
    sa.Column("counts", sa.Text),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.UniqueConstraint("job", "period_start", "attempt", name="uq_job_runs_job_period_attempt"),
)

# One row (id 1): how many counted writes the database has seen (storage/changes.py).
changes = sa.Table(
    "changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("counter", sa.BigInteger, nullable=False),
)

# Thumbnails (storage/thumbnails.py, migration 0016): one row per paper whose first page the
# backfill tried: "ok" with the image's file and size, or "failed" with the reason, the error,
# how many attempts and when the next may run. A paper without a row has never been tried.
thumbnails = sa.Table(
    "thumbnails",
    metadata,
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("state", sa.String(8), nullable=False),  # "ok" or "failed"
    sa.Column("file", sa.String(64)),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("bytes", sa.Integer),
    # The image itself (10-40 kB): each machine's data folder keeps a copy of what it serves,
    # written from here the first time it is asked for (services/thumbnails.py).
    sa.Column("image", sa.LargeBinary),
    sa.Column("reason", sa.String(24)),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_try_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

sa.Index("ix_thumbnails_state", thumbnails.c.state, thumbnails.c.next_try_at)
sa.Index("ix_thumbnails_file", thumbnails.c.file)

# Authors one row per paper and place in its list (storage/authors.py, migration 0017): the
# name as the paper writes it, its surname as domain/authors.py folds it and the first letter
# of its first given name, so an author's page finds its spellings and papers by an indexed
# look-up instead of reading every paper's JSON list. (The name itself is not indexed: a
# PostgreSQL index entry has a size limit that a hostile name could pass.)
paper_authors = sa.Table(
    "paper_authors",
    metadata,
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

# Public profiles (storage/profiles.py, migration 0017): what each account shows on `/u/{name}`
# beyond what is public anyway. No row is the default: upvotes not shown.
profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("show_upvotes", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

# Claimed authorship (storage/claims.py, migration 0017): an account says "this is me" of one
# author entry of a paper (its place in the author list, and the name as written then). An
# admin approves or rejects the first claim of a name; the claimant then confirms the other
# papers of that person, approved at once (`confirmed_from` names the claim that allowed it).
author_claims = sa.Table(
    "author_claims",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | approved | rejected
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


# AI summaries (storage/summaries.py, migration 0019): one row per listed paper a summary was
# asked for: "ok" with the text, its keywords (a JSON list), the model and the digest of the
# abstract it was written from, or "failed" with the reason, the error, the attempts and when
# the next may run. Only written when `summary_llm_url` is set.
summaries = sa.Table(
    "summaries",
    metadata,
    sa.Column(
        "arxiv_id",
        sa.String(64),
        sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("state", sa.String(8), nullable=False),  # "ok" or "failed"
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
sa.Index("ix_summaries_state", summaries.c.state, summaries.c.next_try_at)

sa.Index("ix_follows_kind_value", follows.c.kind, follows.c.value)
sa.Index("ix_votes_arxiv_id", votes.c.arxiv_id)
sa.Index("ix_dismissals_arxiv_id", dismissals.c.arxiv_id)
sa.Index("ix_sessions_user_id", sessions.c.user_id)
sa.Index("ix_sessions_expires_at", sessions.c.expires_at)
sa.Index("ix_comments_arxiv_id", comments.c.arxiv_id, comments.c.created_at)
sa.Index("ix_comments_user_id", comments.c.user_id, comments.c.created_at)
sa.Index("ix_author_claims_arxiv_id", author_claims.c.arxiv_id, author_claims.c.status)
sa.Index("ix_author_claims_status", author_claims.c.status, author_claims.c.created_at)
sa.Index("ix_author_claims_user_id", author_claims.c.user_id, author_claims.c.status)
sa.Index("ix_daily_submissions_submitter_username", daily_submissions.c.submitter_username)
sa.Index(
    "ix_daily_submissions_submitted_by", daily_submissions.c.submitted_by, daily_submissions.c.day
)
sa.Index("ix_papers_primary_category", papers.c.primary_category)
sa.Index("ix_papers_published_at", papers.c.published_at)
sa.Index("ix_papers_modified_at", papers.c.modified_at, papers.c.arxiv_id)
sa.Index(
    "ix_paper_vectors_created_at",
    paper_vectors.c.model,
    paper_vectors.c.created_at,
    paper_vectors.c.arxiv_id,
)
sa.Index("ix_paper_categories_category", paper_categories.c.category)
sa.Index("ix_papers_organization", papers.c.organization)
sa.Index("ix_daily_submissions_organization", daily_submissions.c.organization)
sa.Index("ix_paper_authors_surname", paper_authors.c.surname, paper_authors.c.initial)
sa.Index("ix_daily_submissions_day", daily_submissions.c.day, daily_submissions.c.upvotes)
sa.Index("ix_paper_aliases_created_at", paper_aliases.c.created_at)
sa.Index(
    "ix_papers_local_published_at",
    papers.c.published_at,
    sqlite_where=sa.text("arxiv_id LIKE 'local-%'"),
    postgresql_where=sa.text("arxiv_id LIKE 'local-%'"),
)
sa.Index("ix_digests_status", digests.c.status, digests.c.next_attempt_at)
sa.Index("ix_digest_items_digest_id", digest_items.c.digest_id, digest_items.c.position)
sa.Index("ix_library_items_added", library_items.c.user_id, library_items.c.added_at)
sa.Index("ix_library_items_arxiv_id", library_items.c.arxiv_id)
sa.Index("ix_library_imports_user", library_imports.c.user_id, library_imports.c.created_at)
sa.Index("ix_job_runs_job_started_at", job_runs.c.job, job_runs.c.started_at)
