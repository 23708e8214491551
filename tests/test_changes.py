"""The change counter (storage/changes.py): moved by counted writes in their own transaction,
left alone by uncounted and failed ones, on both databases."""

import pytest

from dailypapers.ingest.demo import load_demo
from dailypapers.storage.backups import tables_with_rows
from dailypapers.storage.users import create_user


def test_counted_writes_move_the_counter_and_others_do_not(store):
    assert store.counts_changes and store.change_count() == 0
    with store.begin():
        pass
    assert store.change_count() == 1
    with store.begin(counted=False):
        pass
    assert store.change_count() == 1
    with pytest.raises(RuntimeError), store.begin() as conn:
        create_user(conn, "ada", "ada@example.org", "x" * 60)
        raise RuntimeError("rolled back")
    assert store.change_count() == 1  # it moves with the write it belongs to, or not at all
    load_demo(store)  # an ingest: each batch is a counted transaction
    assert store.change_count() > 1


def test_the_counter_is_no_content_a_restore_would_refuse(store):
    with store.begin():
        pass
    with store.connect() as conn:
        assert tables_with_rows(conn) == []
