"""The bulk load's shortcuts (ingest/snapshot_rows.py, the plain-ASCII paths of ingest/text.py)
give exactly what the general route gives: on real snapshot lines, on the lines the shortcut
hands back, and on made-up text with every kind of whitespace and control character."""

import gzip
import json
import random
from itertools import islice

import orjson
import pytest

from dailypapers.domain.records import ParseProblem
from dailypapers.ingest import snapshot_rows, text
from dailypapers.ingest.arxiv_bulk import parse_snapshot_item, parse_snapshot_lines
from dailypapers.ingest.snapshot_rows import prepare_snapshot_item, prepare_snapshot_lines
from dailypapers.storage.bulk import prepare_paper
from dailypapers.storage.papers import dump_list

from .conftest import DEMO, SHARED
from .test_bulk import generated_lines, snapshot_line

FIXTURE = SHARED / "fixtures" / "arxiv" / "snapshot" / "arxiv-metadata-oai-snapshot.sample.jsonl"
REAL = SHARED / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
DIALECTS = ("sqlite", "postgresql")


def real_lines() -> list[bytes]:
    """The demo sample, the shared fixture and the first 3,000 lines of the shared sample."""
    lines = (DEMO / "arxiv-metadata-oai-snapshot.sample.jsonl").read_bytes().splitlines()
    if FIXTURE.exists():
        lines += FIXTURE.read_bytes().splitlines()
    if REAL.exists():
        with gzip.open(REAL, "rb") as real:
            lines += list(islice(real, 3000))
    return lines


def general_route(lines: list[bytes], dialect: str) -> list:
    """What a bulk load's worker gave for lines 7... before the shortcut."""
    return [
        item if isinstance(item, ParseProblem) else prepare_paper(item, dialect)
        for item in parse_snapshot_lines("s.json", 7, lines)
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_shortcut_gives_the_rows_of_the_general_route_on_real_lines(dialect):
    lines = real_lines()
    taken = 0
    for line in lines:
        item = orjson.loads(line)
        prepared = prepare_snapshot_item(item, dialect)
        if prepared is not None:
            taken += 1
            assert prepared == prepare_paper(parse_snapshot_item(item), dialect), item["id"]
    # Old-style ids and unusual author lists take the general route; nearly all else not.
    assert taken >= 0.95 * len(lines)
    assert prepare_snapshot_lines(dialect, "s.json", 7, lines) == general_route(lines, dialect)


def with_fields(arxiv_id: str, **fields: object) -> bytes:
    """A snapshot line with one version and `fields` replaced (the versions too)."""
    item = json.loads(snapshot_line(arxiv_id, ["Mon, 2 Jan 2023 10:00:00 GMT"]))
    item.update(fields)
    return json.dumps(item, ensure_ascii=False).encode()


def unusual_lines() -> list[bytes]:
    day = ["Mon, 2 Jan 2023 10:00:00 GMT"]
    return [
        *generated_lines(),
        b"",
        b"   ",
        b"[1, 2]",
        b'{"id": "2301.00007"}',
        snapshot_line("2301.00008", ["Tue, 31 Feb 2023 10:00:00 GMT"]),
        snapshot_line("2301.00009", ["Mon, 2 Jan 2023 24:00:00 GMT"]),
        snapshot_line("2301.00010", ["Mon, 2 Jan 2023 10:00:60 GMT"]),
        snapshot_line("2301.00011", ["Mon, 2 Jan 2023 10:00:00 +0100"]),
        snapshot_line("2301.00012", ["Mon, 2 Jan 2023 10:00:00 GMT\n"]),
        snapshot_line("2301.00013", day, update_date="2023-02-30"),
        snapshot_line("2301.00014", day, update_date="2023-02-03T10"),
        snapshot_line("2301.00015", day, update_date=20230203),
        with_fields("2301.00016", versions=[{"version": "v1"}, {"version": "v1"}]),
        with_fields("2301.00017", versions=[{"version": "V2"}, {"version": "v01"}]),
        with_fields("2301.00018", versions=[{"version": "v2", "size": "0kb"}]),
        with_fields("2301.00019", versions=[{"version": "v1", "size": " 12 KB"}]),
        with_fields("2301.00020", versions={"v1": {}}),
        snapshot_line("2301.00021", day, authors_parsed=[["Bal\\'azs", "C.", ""], ["Ng"]]),
        snapshot_line("2301.00022", day, authors_parsed=[["Evans", " Neal  J.", "II", "X"]]),
        snapshot_line("2301.00023", day, authors_parsed=[["", "", ""], ["Li", "Wei"]]),
        snapshot_line("2301.00024", day, authors_parsed=[['O"Neil', "Tab\tA.", ""]]),
        snapshot_line("2301.00025", day, authors_parsed=[["Ada", 1, ""]]),
        snapshot_line("2301.00026", day, authors_parsed=[]),
        snapshot_line("2301.00036", day, authors_parsed=[], authors=""),
        snapshot_line(
            "2301.00037", day, authors_parsed=None, authors="A. Bal\\'azs and B. Li (MIT)"
        ),
        snapshot_line("2301.00038", day, authors_parsed=None, authors=None),
        snapshot_line("2301.00039", day, authors_parsed="A. B", authors=["x"]),
        snapshot_line("2301.00027", day, title=" Ti\x0btle\u2009with\xa0spaces "),
        snapshot_line("2301.00028", day, abstract="  One\r\n  two\tthree\n\n  four\x1f"),
        snapshot_line("2301.00029", day, abstract="Kept\n  apart \nlines  "),
        snapshot_line("2301.00030", day, comments=["not", "text"]),
        snapshot_line("2301.00031", day, categories="cs.CL  cs.CL\tcs.LG", doi=" 10.1/x "),
        snapshot_line("2301.00032", day, comments="See HTTPS://GitHub.com/a/b and http://x.org"),
        snapshot_line("1412.12345", day),
        snapshot_line("1501.1234", day),
        snapshot_line("0703.1234", day),
        snapshot_line("2313.00001", day),
        snapshot_line(" 2301.00033", day),
        snapshot_line("2301.00034v2", day),
        snapshot_line("hep-th/9901001", day),
        with_fields("2301.00035", versions=None, update_date=None),
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unusual_lines_give_what_the_general_route_gives(dialect):
    lines = unusual_lines()
    assert prepare_snapshot_lines(dialect, "s.json", 7, lines) == general_route(lines, dialect)
    # Each line numbered as in the file, blank ones skipped.
    problems = [
        p
        for p in prepare_snapshot_lines(dialect, "s.json", 7, lines)
        if isinstance(p, ParseProblem)
    ]
    assert problems[0].location == "s.json:12"


def test_the_shortcut_hands_back_what_it_does_not_know():
    day = ["Mon, 2 Jan 2023 10:00:00 GMT"]
    for line in (
        snapshot_line("hep-th/9901001", day),
        snapshot_line("2301.00001", ["Tue, 31 Feb 2023 10:00:00 GMT"]),
        snapshot_line("2301.00001", day, authors_parsed=[["Li"]]),
        snapshot_line("2301.00001", day, update_date="2023-02-30"),
    ):
        assert prepare_snapshot_item(json.loads(line), "sqlite") is None
    assert prepare_snapshot_item(json.loads(snapshot_line("2301.00001", day)), "sqlite")


TEXT_PIECES = [
    "a",
    "bc",
    " ",
    "  ",
    "\n",
    "\n  ",
    "\n\n",
    "\t",
    "\r",
    "\r\n",
    "\x0b",
    "\x1c",
    "\x00",
    "\x7f",
    "é",
    "\xa0",
    "\u2009",
    "\ufffe",
    '"',
    "\\",
]


def made_up_texts(count: int) -> list[str]:
    rng = random.Random(10)
    return ["".join(rng.choices(TEXT_PIECES, k=rng.randint(0, 12))) for _ in range(count)]


def test_plain_ascii_text_shortcuts_match_the_general_route():
    texts = made_up_texts(20_000)
    for line in real_lines():
        item = orjson.loads(line)
        texts += [item["abstract"], item["title"], item.get("comments") or ""]
    for value in texts:
        assert text.squeeze(value) == text._squeeze_general(value), repr(value)
        if value:
            assert text.normalize_abstract(value) == text._normalize_abstract_general(value), repr(
                value
            )


def test_lists_dump_as_json_does():
    rng = random.Random(11)
    lists = [rng.choices(made_up_texts(50), k=rng.randint(1, 4)) for _ in range(5000)]
    lists += [['a", "b'], ["é", "ü\u2028"], ["", ""], ['"'], ["\\"], ["x\n"]]
    for values in lists:
        assert (
            snapshot_rows._dump(values)
            == dump_list(values)
            == json.dumps(values, ensure_ascii=False)
        )
