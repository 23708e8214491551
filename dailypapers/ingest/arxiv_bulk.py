"""The Kaggle-style bulk metadata snapshot: JSON lines, plain or gzipped, streamed.

Pure: a file in, PaperRecords (or ParseProblems naming file:line) out, one line at a time, so
memory stays flat however large the snapshot is (ARXIV.md section 4).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

try:  # ISA-L inflates in under half zlib's time (pyproject.toml); the same reader otherwise
    from isal import isal_zlib
    from isal.igzip import IGzipFile as GzipFile

    # What a truncated or corrupt gzip stream raises while it is read (isal's stub types its
    # error class as an instance).
    _READ_ERRORS: tuple[type[Exception], ...] = (
        OSError,
        EOFError,
        zlib.error,
        cast(type[Exception], isal_zlib.error),
    )
except ImportError:  # pragma: no cover - a platform without an isal wheel
    from gzip import GzipFile  # type: ignore[assignment]

    _READ_ERRORS = (OSError, EOFError, zlib.error)

from ..domain.ids import InvalidArxivId, parse_arxiv_id
from ..domain.records import PaperRecord, ParseProblem, VersionRecord
from .text import (
    clean_optional,
    join_parsed_author,
    normalize_abstract,
    normalize_title,
    parse_day,
    parse_rfc822,
    parse_size_kb,
    split_authors,
)


def open_snapshot(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """(raw file, line stream): the raw file reports progress in bytes read from disk."""
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return raw, GzipFile(fileobj=raw)  # type: ignore[no-untyped-call,return-value]
    raw.seek(0)
    return raw, raw


def iter_snapshot(lines: IO[bytes], name: str) -> Iterator[PaperRecord | ParseProblem]:
    """Yield one PaperRecord per JSON line, or a ParseProblem naming `name:line` and the reason.

    Blank lines are ignored. Example: the first line of the sample gives `0704.0001`, authors
    `['C. Balázs', 'E. L. Berger', 'P. M. Nadolsky', 'C. -P. Yuan']`, latest_version 2.
    """
    for first_line, chunk in iter_line_chunks(lines, name, 1):
        yield from parse_snapshot_lines(name, first_line, chunk)


def iter_line_chunks(
    lines: IO[bytes], name: str, size: int
) -> Iterator[tuple[int, list[bytes] | ParseProblem]]:
    """(number of the chunk's first line, up to `size` raw lines); a read error ends the stream
    with a ParseProblem in place of the lines."""
    number = 0
    while True:
        chunk: list[bytes] = []
        try:
            for _ in range(size):
                line = lines.readline()
                if not line:
                    break
                chunk.append(line)
        except _READ_ERRORS as error:  # truncated or corrupt gzip stream
            if chunk:
                yield number + 1, chunk
            yield (
                number + 1,
                ParseProblem(f"{name}:{number + len(chunk) + 1}", f"cannot read further: {error}"),
            )
            return
        if not chunk:
            return
        yield number + 1, chunk
        number += len(chunk)


def parse_snapshot_lines(
    name: str, first_line: int, chunk: list[bytes] | ParseProblem
) -> list[PaperRecord | ParseProblem]:
    """Parse consecutive snapshot lines (the first numbered `first_line`). Pure and picklable,
    so a process pool can run it."""
    if isinstance(chunk, ParseProblem):
        return [chunk]
    out: list[PaperRecord | ParseProblem] = []
    for number, line in enumerate(chunk, first_line):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            item = _decode(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            out.append(ParseProblem(where, f"invalid JSON: {error}"))
            continue
        if not isinstance(item, dict):
            out.append(ParseProblem(where, f"expected a JSON object, got {type(item).__name__}"))
            continue
        try:
            out.append(parse_snapshot_item(item))
        except (InvalidArxivId, ValueError, TypeError) as error:
            label = item.get("id") if isinstance(item.get("id"), str) else None
            out.append(ParseProblem(where + (f" ({label})" if label else ""), str(error)))
    return out


def _decode(line: bytes) -> Any:
    """One JSON line -> a Python value: orjson (about twice the speed of the standard library
    on snapshot lines), and the standard library for what orjson refuses but it accepts (a
    byte-order mark, UTF-16, lone surrogates, NaN) and for the wording of the error. (orjson
    reads an integer past 64 bits as a float; no field we read is a number.)"""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def parse_snapshot_item(item: dict[str, Any]) -> PaperRecord:
    """One snapshot object -> PaperRecord. Raises ValueError naming the missing/bad field."""
    raw_id = item.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("record has no id")
    arxiv_id = parse_arxiv_id(raw_id).id
    title = normalize_title(_str(item, "title"))
    if not title:
        raise ValueError("record has no title")

    versions = []
    for entry in item.get("versions") or []:
        if not isinstance(entry, dict):
            raise ValueError("versions must be objects")
        label = str(entry.get("version") or "").strip().lower()
        if not label.startswith("v") or not label[1:].isdigit() or int(label[1:]) < 1:
            raise ValueError(f"bad version label {label!r}")
        created = entry.get("created")
        submitted = parse_rfc822(created)
        if created and submitted is None:
            raise ValueError(f"unparseable date {created!r} for {label}")
        size = parse_size_kb(entry.get("size"))
        versions.append(VersionRecord(int(label[1:]), submitted, size, None, size == 0))
    versions.sort(key=lambda v: v.version)

    update_text = item.get("update_date")
    datestamp = parse_day(update_text)
    if update_text and datestamp is None:
        raise ValueError(f"unparseable update_date {update_text!r}")

    parsed = item.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        # Structured and already Unicode; a malformed entry raises TypeError (record skipped).
        authors = [name for name in map(join_parsed_author, parsed) if name]
    else:
        authors = split_authors(_str(item, "authors"))
    abstract = normalize_abstract(_str(item, "abstract"))
    if versions and abstract.startswith("This paper has been withdrawn"):
        last = versions[-1]
        versions[-1] = VersionRecord(last.version, last.submitted_at, last.size_kb, None, True)
    dated = [v.submitted_at for v in versions if v.submitted_at]
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        source="snapshot",
        authors=authors,
        categories=(_str(item, "categories") or "").split(),
        versions=versions,
        submitter=clean_optional(_str(item, "submitter")),
        comments=clean_optional(_str(item, "comments")),
        journal_ref=clean_optional(_str(item, "journal-ref")),
        report_no=clean_optional(_str(item, "report-no")),
        license=clean_optional(_str(item, "license")),
        dois=(_str(item, "doi") or "").split(),
        published_at=versions[0].submitted_at if versions else None,
        updated_at=max(dated) if dated else None,
        datestamp=datestamp,
        latest_version=versions[-1].version if versions else None,
    )


def _str(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value
