"""A bulk load's shortcut: a snapshot object straight to the rows storage/bulk.py writes.

The general route (arxiv_bulk.parse_snapshot_item, then storage/bulk.prepare_paper) builds a
PaperRecord, its VersionRecords, a papers row as a dict and its version rows, only to turn
them into tuples: about half of a parse worker's time. Here the common shape of a snapshot
line (a plain new- or old-style id, `vN` labels in order or not, arXiv's own date forms,
`authors_parsed` without TeX) goes to the same tuples in one pass. Anything else returns None
and takes the general route, which also words the errors; tests/test_snapshot_rows.py checks
that both give the same rows on the real fixtures and the shared sample.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import orjson

from ..domain.links import find_links
from ..domain.records import SOURCE_PRIORITY, ParseProblem
from ..storage.bulk import PreparedPaper, author_rows, prepare_paper, stored_day, stored_time
from ..storage.papers import dump_list
from .arxiv_bulk import parse_snapshot_lines
from .text import (
    clean_optional,
    latex_name_to_unicode,
    normalize_abstract,
    normalize_title,
    parse_size_kb,
    split_authors,
)

# A new-style id as the snapshot writes it (version-less, no prefix); ids.parse_arxiv_id's
# rules on month, era and digit count are checked below, anything else goes the long way.
_NEW_ID = re.compile(r"(\d\d)(\d\d)\.(\d{4,5})", re.ASCII)
_LABEL = re.compile(r"v([1-9]\d{0,3})", re.ASCII)
# arXiv's own date form, as ingest/text.parse_rfc822 reads it fast.
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_RFC822_GMT = re.compile(
    r"[A-Z][a-z]{2}, (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT", re.ASCII
)
# What json.dumps escapes in a string (with ensure_ascii=False) besides the quote: backslash
# and control characters.
_JSON_ESCAPED = re.compile(r"[\x00-\x1f\\]")
_WITHDRAWN = "This paper has been withdrawn"
_SNAPSHOT_RANK = SOURCE_PRIORITY["snapshot"]


def prepare_snapshot_lines(
    dialect: str, name: str, first_line: int, chunk: list[bytes] | ParseProblem
) -> list[PreparedPaper | ParseProblem]:
    """arxiv_bulk.parse_snapshot_lines, each record then shaped into rows for `dialect` by
    prepare_paper: what a bulk load's parse worker does, the common lines by the shortcut."""
    if isinstance(chunk, ParseProblem):
        return [chunk]
    out: list[PreparedPaper | ParseProblem] = []
    for number, line in enumerate(chunk, first_line):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            item = None  # blank, or for the general route to read or to word the error
        prepared = prepare_snapshot_item(item, dialect) if type(item) is dict else None
        if prepared is not None:
            out.append(prepared)
            continue
        for parsed in parse_snapshot_lines(name, number, [line]):
            out.append(
                parsed if isinstance(parsed, ParseProblem) else prepare_paper(parsed, dialect)
            )
    return out


def prepare_snapshot_item(item: dict[str, Any], dialect: str) -> PreparedPaper | None:
    """prepare_paper(parse_snapshot_item(item), dialect), for the common shape of a snapshot
    object; None when `item` needs the general route (unusual fields, or an error to name)."""
    arxiv_id = _plain_id(item.get("id"))
    title = item.get("title")
    if arxiv_id is None or type(title) is not str:
        return None
    for key in _TEXT_FIELDS:
        value = item.get(key)
        if value is not None and type(value) is not str:
            return None
    title = normalize_title(title)
    versions = _versions(item.get("versions"), dialect)
    parsed = item.get("authors_parsed")
    if type(parsed) is list and parsed:
        authors = _authors(parsed)
    else:  # as the general route: the raw author line (a string or nothing, checked above)
        authors = split_authors(item.get("authors"))
    datestamp = _stored_day(item.get("update_date"), dialect)
    if not title or versions is None or authors is None or datestamp is False:
        return None

    abstract = normalize_abstract(item.get("abstract"))
    comments = clean_optional(item.get("comments"))
    categories = (item.get("categories") or "").split()
    repos, pages = find_links(abstract, comments)  # each without repeats
    version_rows = []
    published = updated = None
    if versions:
        last = len(versions) - 1
        withdrawn_last = abstract.startswith(_WITHDRAWN)
        for index, (number, submitted, size) in enumerate(versions):
            withdrawn = size == 0 or (index == last and withdrawn_last)
            if submitted is not None and (updated is None or submitted > updated):
                updated = submitted
            version_rows.append((arxiv_id, number, submitted, size, None, withdrawn))
        published = versions[0][1]
    return (
        arxiv_id,
        (
            arxiv_id,
            title,
            abstract,
            _dump(authors),
            categories[0] if categories else None,
            _dump(categories),
            clean_optional(item.get("submitter")),
            comments,
            clean_optional(item.get("journal-ref")),
            clean_optional(item.get("report-no")),
            clean_optional(item.get("license")),
            _dump((item.get("doi") or "").split()),
            _dump(repos),
            _dump(pages),
            bool(repos),
            None,
            published,
            updated,
            datestamp,
            version_rows[-1][1] if version_rows else None,
            bool(version_rows and version_rows[-1][5]),
            False,
            "snapshot",
            _SNAPSHOT_RANK,
        ),
        version_rows,
        [
            (arxiv_id, category, index == 0)
            for index, category in enumerate(dict.fromkeys(categories))
        ],
        author_rows(arxiv_id, authors),
    )


# The text fields the general route reads with arxiv_bulk._str (a string or nothing).
_TEXT_FIELDS = (
    "abstract",
    "comments",
    "categories",
    "submitter",
    "journal-ref",
    "report-no",
    "license",
    "doi",
    "authors",
)


def _plain_id(raw: Any) -> str | None:
    """A new-style id already in canonical form, checked as ids.parse_arxiv_id checks it; an
    old-style id or anything else is left to the general route (None)."""
    if type(raw) is not str:
        return None
    match = _NEW_ID.fullmatch(raw)
    if match is None:
        return None
    yy, mm, number = match.groups()
    if not "01" <= mm <= "12" or yy + mm < "0704":
        return None
    return raw if len(number) == (4 if yy + mm <= "1412" else 5) else None


def _versions(entries: Any, dialect: str) -> list[tuple[int, Any, int | None]] | None:
    """(number, submitted as the driver takes it, size) in version order; None when any entry
    is unusual (a label other than `vN`, a date not in arXiv's form, a repeated number)."""
    if not entries:
        return [] if entries is None or entries == [] else None
    if type(entries) is not list:
        return None
    out = []
    for entry in entries:
        if type(entry) is not dict:
            return None
        label = entry.get("version")
        match = _LABEL.fullmatch(label) if type(label) is str else None
        if match is None:
            return None
        submitted = None
        created = entry.get("created")
        if created:
            submitted = _stored_time(created, dialect)
            if submitted is None:
                return None
        size = entry.get("size")
        if size:
            if type(size) is not str:
                return None
            size = parse_size_kb(size)
        else:
            size = None
        out.append((int(match.group(1)), submitted, size))
    if len(out) > 1:
        out.sort(key=_number)
        for earlier, later in zip(out, out[1:], strict=False):
            if earlier[0] == later[0]:
                return None
    return out


def _number(version: tuple[int, Any, int | None]) -> int:
    return version[0]


def _stored_time(text: Any, dialect: str) -> Any:
    """`Thu, 5 Apr 2007 12:45:03 GMT` (arXiv's own form) as the driver takes the time
    (SQLite: `2007-04-05 12:45:03.000000`, in the order of the times); None for other forms
    and for times that do not exist."""
    match = _RFC822_GMT.fullmatch(text) if type(text) is str else None
    if match is None:
        return None
    day, month, year, hour, minute, second = match.groups()
    if dialect == "sqlite":
        # The day from a cache (a snapshot has some ten thousand of them), the time by hand.
        stored_day = _day_text(year, month, day)
        if stored_day is None or hour > "23" or minute > "59" or second > "59":
            return None
        return f"{stored_day} {hour}:{minute}:{second}.000000"
    number = _MONTHS.get(month)
    if number is None:
        return None
    try:
        moment = datetime(int(year), number, int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    return stored_time(dialect)(moment)


# Day (year, month name, day of month) -> `YYYY-MM-DD`, or "" when there is no such day.
_DAYS: dict[tuple[str, str, str], str] = {}


def _day_text(year: str, month: str, day: str) -> str | None:
    """`YYYY-MM-DD` for a day of arXiv's date form, None when there is no such day."""
    key = (year, month, day)
    found = _DAYS.get(key)
    if found is None:
        number = _MONTHS.get(month)
        try:
            found = "" if number is None else date(int(year), number, int(day)).isoformat()
        except ValueError:
            found = ""
        if len(_DAYS) >= _CACHE_LIMIT:  # memory stays flat on any input
            _DAYS.clear()
        _DAYS[key] = found
    return found or None


_UPDATE_DAYS: dict[tuple[str, str], Any] = {}
_CACHE_LIMIT = 100_000


def _stored_day(text: Any, dialect: str) -> Any:
    """`update_date` (`YYYY-MM-DD`) as the driver takes it; None when absent, False when the
    general route must read it."""
    if text is None or text == "":
        return None
    if type(text) is not str or len(text) != 10:
        return False
    key = (text, dialect)
    found = _UPDATE_DAYS.get(key)
    if found is None:
        try:
            found = stored_day(dialect)(date.fromisoformat(text))
        except ValueError:
            found = False
        if len(_UPDATE_DAYS) >= _CACHE_LIMIT:
            _UPDATE_DAYS.clear()
        _UPDATE_DAYS[key] = found
    return found


def _authors(parsed: list[Any]) -> list[str] | None:
    """Names from `authors_parsed` as text.join_parsed_author gives them; None when an entry
    is not what it expects (the general route refuses or words it)."""
    names = []
    for parts in parsed:
        if type(parts) is not list:
            return None
        if len(parts) >= 3:
            keyname, forenames, suffix = parts[0], parts[1], parts[2]
            if type(keyname) is not str or type(forenames) is not str or type(suffix) is not str:
                return None
            name = f"{forenames} {keyname} {suffix}" if suffix else f"{forenames} {keyname}"
        elif len(parts) == 2:
            keyname, forenames = parts
            if type(keyname) is not str or type(forenames) is not str:
                return None
            name = f"{forenames} {keyname}"
        else:
            return None
        if "  " in name or name[:1] == " " or name[-1:] == " " or "\n" in name:
            name = " ".join(name.split())
        if "\\" in name or "{" in name:
            name = latex_name_to_unicode(name)
        if name:
            names.append(name)
    return names


def _dump(values: list[str]) -> str:
    """dump_list(values), joined by hand when no value needs a JSON escape."""
    if not values:
        return "[]"
    body = '", "'.join(values)
    # The separators hold all the quotes unless a value has one too.
    if body.count('"') != 2 * len(values) - 2 or _JSON_ESCAPED.search(body) is not None:
        return dump_list(values)
    return f'["{body}"]'
