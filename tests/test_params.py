"""The request parameter parsers of web/params.py on any text: each either gives a valid value
or refuses with BadParameter (NotFound for a paper id), which the app answers 400 (404).
Anything else they raise (OverflowError, ValueError, ...) would be a 500."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from urllib.parse import quote

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.requests import Request

from dailypapers.domain.errors import BadParameter, NotFound
from dailypapers.web import params

# What SQL's BIGINT (and SQLite's INTEGER) holds: an integer parameter past it cannot reach a
# query without an OverflowError or "bigint out of range".
BIGINT = 2**63 - 1

# Text in the parameter's own shape, with `\d` as Python's regexes read it (any Unicode digit),
# years and weeks at the ends of the calendar, and plain noise.
digits = st.integers(0, 10**6)
days = st.one_of(
    st.text(),
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}\Z"),
    st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", digits, digits, digits),
)
weeks = st.one_of(
    st.text(),
    st.from_regex(r"\A\d{4}-W\d{2}\Z"),
    st.builds(lambda y, w: f"{y:04d}-W{w:02d}", st.integers(0, 9999), st.integers(0, 99)),
)
months = st.one_of(
    st.text(),
    st.from_regex(r"\A\d{4}-\d{2}\Z"),
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(0, 9999), st.integers(0, 99)),
)
integers = st.one_of(
    st.text(),
    st.integers().map(str),
    st.integers(-(2**80), 2**80).map(str),
    st.from_regex(r"\A\s*[-+]?\d[\d_]*\s*\Z"),
    st.text(alphabet="0123456789²³¹١٢٣_ -+", max_size=30),
)
paper_ids = st.one_of(
    st.text(),
    st.from_regex(r"\A(arXiv:)?\d{4}\.\d{4,5}(v\d+)?\Z"),
    st.from_regex(r"\A[a-z-]+(\.[A-Z]{2})?/\d{7}(v\d+)?\Z"),
    st.integers(1, 6000).map(lambda length: "2301.12345v" + "9" * length),
)


@given(days)
@example("2025-10-29")
@example("9999-12-31")
def test_parse_day_gives_a_day_or_a_bad_parameter(text):
    try:
        day = params.parse_day(text)
    except BadParameter:
        return
    assert isinstance(day, date)


@given(weeks)
@example("2025-W09")
@example("9999-W52")
@example("0001-W01")
def test_parse_week_gives_monday_to_sunday_or_a_bad_parameter(text):
    try:
        monday, sunday = params.parse_week(text)
    except BadParameter:
        return
    year, week = int(text[:4]), int(text[6:8])
    assert monday.isocalendar()[:3] == (year, week, 1)
    # 9999-W52 runs past the calendar: it ends where the calendar does
    assert sunday - monday == timedelta(days=6) or sunday == date.max


@given(months)
@example("2025-10")
@example("9999-12")
@example("0001-01")
def test_parse_month_gives_its_first_and_last_day_or_a_bad_parameter(text):
    try:
        first, last = params.parse_month(text)
    except BadParameter:
        return
    year, month = int(text[:4]), int(text[5:7])
    assert first == date(year, month, 1)
    assert last == date(year, month, calendar.monthrange(year, month)[1])


@given(st.lists(st.one_of(st.text(), st.from_regex(r"\A[\w.,-]{0,50}\Z"))))
@example(["cs.CL,cs.LG", "cs.CL"])
def test_parse_categories_gives_arxiv_categories_or_a_bad_parameter(values):
    try:
        found = params.parse_categories(values)
    except BadParameter:
        return
    assert len(set(found)) == len(found)
    for category in found:
        assert re.fullmatch(r"[A-Za-z-]+(\.[A-Za-z-]+)?", category) and len(category) <= 40


@given(
    st.one_of(st.none(), integers),
    st.integers(-(2**70), 2**70),
    st.one_of(st.none(), st.integers(0, 2**70)),
)
@example("²", 0, None)
@example(str(2**64), 0, None)
def test_bounded_int_stays_in_its_bounds_or_is_a_bad_parameter(value, low, span):
    high = None if span is None else low + span
    try:
        number = params.bounded_int(value, "n", low, low, high)
    except BadParameter:
        return
    assert isinstance(number, int) and number >= low
    assert high is None or number <= high


@given(st.one_of(st.none(), integers))
@example(str(2**64))
def test_an_unbounded_integer_parameter_fits_a_bigint(value):
    """`p` of /api/daily_papers has no upper bound of its own."""
    try:
        number = params.bounded_int(value, "p", 0, 0, None)
    except BadParameter:
        return
    assert 0 <= number <= BIGINT


def _request(query: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "query_string": query, "headers": []})


@given(st.one_of(integers.map(lambda text: b"page=" + quote(text).encode()), st.binary()))
@example(b"page=%C2%B2")
@example(b"page=" + str(2**64).encode())
def test_page_number_is_a_positive_bigint_or_a_bad_parameter(query):
    try:
        page = params.page_number(_request(query))
    except BadParameter:
        return
    assert isinstance(page, int) and 1 <= page <= BIGINT


CANONICAL = re.compile(
    r"[0-9]{4}\.[0-9]{4,5}|[a-z][a-z-]*/[0-9]{7}|local-[0-9a-f]{12}", flags=re.ASCII
)


@given(paper_ids)
@example("2301.12345v" + "9" * 5000)
@example("\u0662\u0663\u0660\u0661.\u0661\u0662\u0663\u0664\u0665")
def test_paper_id_is_a_catalog_key_or_not_found(raw):
    try:
        arxiv_id = params.paper_id(raw)
    except NotFound:
        return
    assert CANONICAL.fullmatch(arxiv_id), arxiv_id
