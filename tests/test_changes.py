"""The change counter (storage/changes.py): moved by counted writes in their own transaction,
left alone by uncounted and failed ones, on both databases."""

import pytest

from dailypapers.ingest.demo import load_demo
from dailypapers.storage import open_store
from dailypapers.storage.backups import tables_with_rows
from dailypapers.storage.users import create_user
from dailypapers.web.cache import ChangeWatch


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


def test_a_watch_moves_for_other_processes_writes_and_not_for_its_own(store, database_url):
    """A process's own write already moved its store's generation; only a write through
    another store (another worker or machine) moves the watch's epoch."""
    watch = ChangeWatch(store, check_seconds=0)
    watch.poll(0.0)
    assert watch.epoch == 0
    with store.begin():
        pass  # a counted write of this process
    watch.poll(1.0)
    assert watch.epoch == 0 and watch.count == store.own_change_count
    other = open_store(database_url)
    try:
        with other.begin():
            pass
    finally:
        other.close()
    watch.poll(2.0)
    assert watch.epoch == 1
    with store.begin(counted=False):
        pass
    watch.poll(3.0)
    assert watch.epoch == 1  # uncounted writes move nothing
