"""The merge rule (domain/merge.py) without a database: ranks, gap filling, version unions,
order independence within a batch, and the content fields matching the schema."""

from datetime import UTC, date, datetime

from dailypapers.domain.merge import (
    CONTENT_FIELDS,
    fold_batch,
    merge_rows,
    record_row,
    version_rows,
)
from dailypapers.domain.records import DailyEntry, PaperRecord, VersionRecord
from dailypapers.storage.schema import papers


def record(source="oai", version=1, **fields):
    defaults = {
        "abstract": "An abstract.",
        "authors": ["Ada Lovelace"],
        "categories": ["cs.CL"],
        "versions": [
            VersionRecord(n, datetime(2024, 1, n, tzinfo=UTC), 10 * n)
            for n in range(1, version + 1)
        ],
        "latest_version": version,
        "datestamp": date(2024, 1, version),
    }
    defaults.update(fields)
    title = defaults.pop("title", "A title")
    return PaperRecord("2401.00001", title, source=source, **defaults)


def row_of(item):
    return record_row(item), version_rows(item)


def test_content_fields_are_the_papers_columns_but_id_and_our_stamps():
    columns = {c.name for c in papers.columns} - {"arxiv_id", "created_at", "modified_at"}
    assert set(CONTENT_FIELDS) == columns


def test_the_higher_rank_wins_and_the_other_fills_gaps():
    rich = row_of(record(version=2, comments=None, journal_ref="J. Tests 1"))
    poor = row_of(
        record(
            source="hf-daily", version=1, title="HF title", comments="Code: https://github.com/a/b"
        )
    )
    merged, versions = merge_rows(*poor, *rich)
    assert merged["title"] == "A title"  # v2 from OAI outranks v1 from HF
    assert merged["journal_ref"] == "J. Tests 1"
    assert merged["comments"] == "Code: https://github.com/a/b"  # a gap filled by the poorer
    # the winner names no code, so the poorer side's link fills that gap too
    assert merged["github_repos"] == ["https://github.com/a/b"] and merged["has_code"] is True
    assert sorted(versions) == [1, 2] and merged["latest_version"] == 2
    assert merged["published_at"] == datetime(2024, 1, 1)


def test_merging_is_the_same_either_way_round():
    first, second = row_of(record(version=1)), row_of(record(source="snapshot", version=3))
    assert merge_rows(*first, *second) == merge_rows(*second, *first)


def test_the_datestamp_and_version_never_move_back():
    newer = row_of(record(version=3))
    older = row_of(record(version=1, title="Old title"))
    merged, _ = merge_rows(*newer, *older)
    assert merged["latest_version"] == 3 and merged["datestamp"] == date(2024, 1, 3)
    assert merged["title"] == "A title"


def test_withdrawal_comes_from_the_newest_version():
    withdrawn = record(version=2)
    withdrawn.versions[-1] = VersionRecord(2, datetime(2024, 1, 2, tzinfo=UTC), 1, withdrawn=True)
    merged, _ = merge_rows(*row_of(record(version=1)), *row_of(withdrawn))
    assert merged["withdrawn"] is True


def test_a_batch_folds_repeats_and_keeps_the_daily_entry():
    daily = DailyEntry(date(2024, 1, 5), "AK", "akhaliq", 12)
    folded = fold_batch(
        [record(version=1), record(source="hf-daily", daily=daily), record(version=2)]
    )
    assert list(folded) == ["2401.00001"]
    item = folded["2401.00001"]
    assert item.daily == daily and item.row["latest_version"] == 2 and not item.deleted


def test_a_deletion_in_the_batch_hides_the_paper():
    folded = fold_batch([record(), record(deleted=True)])
    assert folded["2401.00001"].deleted and folded["2401.00001"].row["hidden"] is True
    assert fold_batch([record(deleted=True)])["2401.00001"].row == {}
