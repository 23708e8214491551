import gzip
import json
from datetime import UTC, date, datetime

import pytest

from dailypapers.domain.records import ParseProblem
from dailypapers.ingest.arxiv_api import ArxivApiError, parse_api_feed
from dailypapers.ingest.arxiv_bulk import iter_snapshot, open_snapshot, parse_snapshot_lines
from dailypapers.ingest.hf_daily import NotDailyPapersJSON, iter_daily_papers

from .conftest import DATA, DEMO

SNAPSHOT = DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl"


def feed(name: str):
    return parse_api_feed((DEMO / "api" / name).read_bytes(), name)


def test_api_2026_search_page():
    result = feed("2026_search_all-testing_start0_max10.xml")
    assert result.total_results == 214881 and result.start_index == 0
    assert len(result.records) == 10
    assert any("Ramírez" in a for r in result.records for a in r.authors)


def test_api_versioned_entry_gives_partial_versions():
    record = feed("legacy-2016_id_list_1111.2011v2.xml").records[0]
    assert record.arxiv_id == "1111.2011" and record.latest_version == 2
    assert [v.version for v in record.versions] == [1, 2]
    assert "\n" not in record.title


def test_api_old_style_and_acm_classes_filtered():
    record = feed("2026_id_list_quant-ph-0201082v1_versioned.xml").records[0]
    assert record.arxiv_id == "quant-ph/0201082"
    assert record.categories[0] == "quant-ph"
    assert all("." in c or "-" in c or c.isalpha() for c in record.categories)


def test_api_zero_results_and_dropped_malformed_id():
    assert feed("2026_id_list_0000.0000_zero-results.xml").records == []
    assert [r.arxiv_id for r in feed("2026_id_list_two-ids_one-malformed.xml").records] == [
        "1707.08567"
    ]


def test_api_error_feed_raises_with_message():
    data = (DATA / "api" / "2026_error_id_list_abc_http400.xml").read_bytes()
    with pytest.raises(ArxivApiError, match="incorrect id format for abc"):
        parse_api_feed(data)


def test_snapshot_sample_parses_all_17():
    with open(SNAPSHOT, "rb") as lines:
        items = list(iter_snapshot(lines, SNAPSHOT.name))
    assert len(items) == 17 and not any(isinstance(i, ParseProblem) for i in items)
    first = items[0]
    assert first.arxiv_id == "0704.0001"
    assert first.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert first.datestamp == date(2008, 11, 26)
    by_id = {i.arxiv_id: i for i in items}
    assert by_id["0704.0033"].dois == ["10.1364/JOSAA.23.002578", "10.1364/JOSAA.32.002407"]
    assert by_id["0704.0156"].versions[-1].withdrawn
    assert "Franz Gähler" in by_id["0704.0163"].authors


def test_snapshot_bad_lines_are_named_and_the_rest_kept(tmp_path):
    good = SNAPSHOT.read_bytes().splitlines()
    lines = [
        good[0],
        b'{"id": "0704.0002", "title": "truncated',
        b"[1, 2]",
        json.dumps({"id": "0704.0003", "title": ""}).encode(),
        json.dumps({"title": "no id"}).encode(),
        json.dumps({"id": "9999.bogus", "title": "x"}).encode(),
        json.dumps(
            {"id": "0704.0004", "title": "x", "versions": [{"version": "v1", "created": "?"}]}
        ).encode(),
        b"",
        good[1],
    ]
    path = tmp_path / "dump.json.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"\n".join(lines) + b"\n")
    raw, stream = open_snapshot(path)
    with raw, stream:
        items = list(iter_snapshot(stream, path.name))
    problems = [str(i) for i in items if isinstance(i, ParseProblem)]
    assert [i.arxiv_id for i in items if not isinstance(i, ParseProblem)] == [
        "0704.0001",
        "0704.0002",
    ]
    assert problems[0].startswith("dump.json.gz:2: invalid JSON")
    assert problems[1] == "dump.json.gz:3: expected a JSON object, got list"
    assert problems[2] == "dump.json.gz:4 (0704.0003): record has no title"
    assert problems[3] == "dump.json.gz:5: record has no id"
    assert "not an arXiv identifier" in problems[4]
    assert "unparseable date" in problems[5]


def test_snapshot_lines_orjson_refuses_read_as_the_standard_library_reads_them():
    """orjson decodes the lines; what it refuses goes to the json module, so a byte-order
    mark or a NaN reads as before, and a broken line keeps json's words."""
    good = json.loads(SNAPSHOT.read_bytes().splitlines()[0])
    lines = [
        b"\xef\xbb\xbf" + json.dumps(good).encode(),
        json.dumps({**good, "id": "0704.0002", "size": float("nan")}).encode(),
        json.dumps({**good, "id": "0704.0003", "size": 2**70}).encode(),
        b"{bad",
        json.dumps({**good, "id": "0704.0004", "title": 7}).encode(),
    ]
    items = parse_snapshot_lines("s", 1, lines)
    assert [i.arxiv_id for i in items[:3]] == ["0704.0001", "0704.0002", "0704.0003"]
    assert [str(i) for i in items[3:]] == [
        "s:4: invalid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "s:5 (0704.0004): field 'title' must be a string, got int",
    ]


def test_hf_daily_items_and_bad_items():
    data = (DATA / "hf_daily_papers_CONSTRUCTED.json").read_bytes()
    items = list(iter_daily_papers(data, "day.json"))
    records = [i for i in items if not isinstance(i, ParseProblem)]
    problems = [str(i) for i in items if isinstance(i, ParseProblem)]
    assert [r.arxiv_id for r in records] == ["2407.13168", "2104.12255"]
    scicode = records[0]
    assert scicode.daily.day == date(2024, 7, 22) and scicode.daily.upvotes == 17
    assert scicode.daily.submitter_username == "amber1120"
    assert scicode.daily.organization == "SciCode Team"
    assert scicode.published_at == datetime(2024, 7, 18, 5, 15, 24, tzinfo=UTC)
    assert scicode.authors == ["Minyang Tian", "Xinan Chen"]
    assert scicode.github_repo == "https://github.com/scicode-bench/SciCode"
    assert len(problems) == 3
    assert problems[0].startswith("day.json[2] (not-an-id): not an arXiv identifier")
    assert problems[1] == "day.json[3] (2401.00001): paper has no title"
    assert "unparseable daily-list date" in problems[2]


@pytest.mark.parametrize("payload", [b"{not json", b'{"a": 1}', b"\xff\xfe"])
def test_hf_daily_unusable_payload(payload):
    with pytest.raises(NotDailyPapersJSON):
        list(iter_daily_papers(payload, "x.json"))
