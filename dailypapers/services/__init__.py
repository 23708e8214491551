"""One module per use case: searching, keeping the indexes current, the community's actions,
accounts, the daily views, fetching from arXiv. Each takes plain arguments (a store, the
settings, a user, a clock), never a request, and raises domain/errors.py's exceptions; the CLI,
the pages, the JSON API and background jobs are thin callers of these."""
