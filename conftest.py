"""Collection settings for the whole repository (tests/conftest.py holds the fixtures)."""

# Alembic's env.py and the revision scripts only import inside a running migration (they read
# alembic.context); the revisions are covered by tests/test_storage.py.
collect_ignore = ["dailypapers/storage/migrations"]
