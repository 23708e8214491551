"""Reference-manager exports read into References (domain/library.py): BibTeX (bibtexparser
2), RIS (rispy), CSL-JSON (what Zotero exports), a plain list of arXiv ids or URLs, and this
site's own "export all my data" JSON. Pure: bytes in, references out; matching them to the
catalog is services/library.py's.

A file that cannot be read is refused whole with ReferenceFileError, naming the line (or the
entry) and what is wrong, so an import never keeps half a file. The limits are checked before
the expensive parse: the size on the bytes, the number of entries on a cheap count.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rispy
from bibtexparser import model as bibtex
from bibtexparser.entrypoint import parse_string
from bibtexparser.exceptions import BlockAbortedException
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)

from ..domain.errors import BadParameter, TooLarge
from ..domain.ids import InvalidArxivId, parse_arxiv_id, parse_paper_id
from ..domain.library import EXPORT_FORMAT, Reference, arxiv_id_in, normal_doi

FORMATS = ("bibtex", "ris", "csl-json", "arxiv-ids", "dailypapers")
_SHOWN_ERRORS = 5
_AUTHORS_READ = 10


class ReferenceFileError(BadParameter):
    """The file is not what its format says: the message names the line or entry and why."""


@dataclass
class ReferenceFile:
    """What a file holds: its format, its references in file order, and for our own export
    the whole document (its other sections are restored by services/userdata.py)."""

    format: str
    references: list[Reference]
    document: dict[str, Any] = field(default_factory=dict)


def read_references(
    data: bytes, fmt: str | None, *, max_bytes: int, max_entries: int
) -> ReferenceFile:
    """Parse an import file; `fmt` None detects the format from the content.

    Raises TooLarge past `max_bytes` or `max_entries`, ReferenceFileError for a file that is
    not UTF-8 or not valid in its format. An empty file gives no references.
    """
    if len(data) > max_bytes:
        limit = f"{max_bytes / 1048576:g} MiB" if max_bytes >= 1048576 else f"{max_bytes:,} bytes"
        raise TooLarge(
            f"The file is larger than the {limit} an import may be (library_import_max_bytes): "
            "split it and import the parts."
        )
    text = _decode(data)
    if fmt is not None and fmt not in FORMATS:
        raise BadParameter(f"format must be one of {', '.join(FORMATS)}, got {fmt[:40]!r}")
    if not text.strip():
        return ReferenceFile(fmt or "arxiv-ids", [])
    fmt = fmt or detect_format(text)
    if fmt in ("csl-json", "dailypapers"):
        return _read_json(text, fmt, max_entries)
    count = {"bibtex": _count_bibtex, "ris": _count_ris, "arxiv-ids": _count_ids}[fmt](text)
    _check_entries(count, max_entries)
    reader = {"bibtex": read_bibtex, "ris": read_ris, "arxiv-ids": read_arxiv_ids}[fmt]
    return ReferenceFile(fmt, reader(text))


def _check_entries(count: int, max_entries: int) -> None:
    if count > max_entries:
        raise TooLarge(
            f"The file holds {count:,} entries; an import may hold at most {max_entries:,} "
            "(library_import_max_entries): split it and import the parts."
        )


def _decode(data: bytes) -> str:
    """UTF-8 text (a byte-order mark dropped, newlines made `\\n`); the first byte that is not
    UTF-8 is named by its line, which is what an editor shows."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ReferenceFileError(
            f"line {line}: the file is not UTF-8 text (byte 0x{data[error.start]:02x}); save "
            "it as UTF-8 (Zotero, JabRef and Mendeley all can)"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: |$)")
_BIBTEX_ENTRY = re.compile(r"^[ \t]*@[ \t]*([A-Za-z]+)[ \t]*[{(]", re.MULTILINE)


def detect_format(text: str) -> str:
    """The format of `text`, from its content.

    >>> detect_format("TY  - JOUR\\nTI  - A title\\nER  - \\n")
    'ris'
    >>> detect_format("% Encoding: UTF-8\\n@article{key, title={T}}")
    'bibtex'
    >>> detect_format("https://arxiv.org/abs/1706.03762\\nhep-th/9901001\\n")
    'arxiv-ids'
    """
    head = text.lstrip()
    if head.startswith(("[", "{")):
        try:
            document = json.loads(text)
        except ValueError:
            return "csl-json"  # read_references names the line of the error
        if isinstance(document, dict) and document.get("format") == EXPORT_FORMAT:
            return "dailypapers"
        return "csl-json"
    first = next((line for line in text.split("\n") if line.strip()), "")
    if _RIS_TAG.match(first.lstrip("\ufeff")):
        return "ris"
    if _BIBTEX_ENTRY.search(text):
        return "bibtex"
    token = next(filter(None, map(_first_token, text.split("\n"))), None)
    if token is not None:
        try:
            parse_arxiv_id(token)
            return "arxiv-ids"
        except InvalidArxivId:
            pass
    raise ReferenceFileError(
        "could not tell the file's format: it is not BibTeX (no @article{...} entries), RIS "
        "(no 'TY  - ' line first), CSL-JSON (not a JSON list) or a list of arXiv ids (its "
        "first line is not one); choose the format yourself"
    )


# --- BibTeX --------------------------------------------------------------------------------

_NOT_ENTRIES = frozenset(["comment", "preamble", "string"])


def _count_bibtex(text: str) -> int:
    return sum(1 for m in _BIBTEX_ENTRY.finditer(text) if m.group(1).lower() not in _NOT_ENTRIES)


def read_bibtex(text: str) -> list[Reference]:
    """BibTeX or biblatex, as Zotero, JabRef, Mendeley and Google Scholar write it: fields in
    braces or quotes, @string macros, LaTeX accents (`{\\"u}`, `\\'{e}`), `arxivId` (Mendeley),
    `eprint` with `archivePrefix` or `eprinttype`. A block bibtexparser could not read is an
    error naming its line; a repeated key or field is read as it stands."""
    library = parse_string(text)
    entries: list[bibtex.Entry] = []
    failures: list[str] = []
    for block in library.blocks:
        if isinstance(block, bibtex.Entry):
            entries.append(block)
        elif isinstance(block, bibtex.ParsingFailedBlock):
            kept = block.ignore_error_block
            if isinstance(kept, bibtex.Entry):  # duplicate keys or fields: still an entry
                entries.append(kept)
            else:
                failures.append(_bibtex_failure(block))
    if failures:
        shown = "; ".join(failures[:_SHOWN_ERRORS])
        more = len(failures) - _SHOWN_ERRORS
        raise ReferenceFileError(
            f"the BibTeX could not be read: {shown}" + (f"; and {more} more" if more > 0 else "")
        )
    entries.sort(key=lambda entry: entry.start_line or 0)
    return [_bibtex_reference(entry) for entry in entries]


def _bibtex_failure(block: bibtex.ParsingFailedBlock) -> str:
    line = (block.start_line or 0) + 1  # bibtexparser counts lines from 0
    error = block.error
    why = error.abort_reason if isinstance(error, BlockAbortedException) else str(error)
    start = (block.raw or "").strip().split("\n")[0][:60]
    return f"line {line} ({start!r}): {why}"


def _bibtex_reference(entry: bibtex.Entry) -> Reference:
    fields = {f.key.lower(): f.value for f in entry.fields if isinstance(f.value, str)}
    reference = Reference(
        position=f"line {(entry.start_line or 0) + 1}",
        key=entry.key or None,
        title=decode_latex(fields.get("title", "")) or None,
        title_latex=fields.get("title") or None,
        year=_year(fields.get("year") or fields.get("date")),
    )
    names = [n for n in split_multiple_persons_names(fields.get("author", "")) if n.strip()]
    # The first author settles ties; a few more are kept to show. A collaboration's thousands
    # of names would cost a second of parsing each.
    for index, name in enumerate(names[:_AUTHORS_READ]):
        if name.strip().lower() == "others":
            continue
        parts = parse_single_name_into_parts(name, strict=False)
        family = decode_latex(" ".join([*parts.von, *parts.last]))
        given = decode_latex(" ".join(parts.first))
        reference.authors.append(f"{family}, {given}" if given else family)
        if index == 0:
            reference.first_surname = family or None
    _bibtex_arxiv_id(fields, reference)
    doi = normal_doi(fields.get("doi"))
    if doi and not doi.startswith("10.48550/"):
        reference.dois.append(doi)
    return reference


def _bibtex_arxiv_id(fields: dict[str, str], reference: Reference) -> None:
    """eprint (when its archive is arXiv or unnamed), Mendeley's arxivid, then arXiv ids
    written in the links and notes."""
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    for name in ("eprint", "arxivid"):
        value = fields.get(name, "").strip()
        if not value or (name == "eprint" and archive not in ("", "arxiv")):
            continue
        try:
            reference.arxiv_id = parse_arxiv_id(value).id
            return
        except InvalidArxivId as error:
            if name == "arxivid" or archive == "arxiv":
                reference.arxiv_problem = f"its {name} field is not an arXiv id: {error}"
    for name in ("url", "doi", "note", "annote", "howpublished", "journal", "journaltitle"):
        found = arxiv_id_in(fields.get(name))
        if found:
            reference.arxiv_id = found
            return


# LaTeX as reference managers write it, decoded by hand: pylatexenc reads it too, but at about
# 2 ms a title, 20,000 entries would take minutes.
_MARKS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "H": "\u030b",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
}
_ACCENT = re.compile(
    r"""\\(?: ([\"'`^~=.]) | ([cvuHkrdb])(?=[\s{]) )\s*
        (?: \{\s*(\\[ij](?![A-Za-z])|[A-Za-z])\s*\} | (\\[ij](?![A-Za-z])|[A-Za-z]) )""",
    re.VERBOSE,
)
_LETTER = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|[oOlLij])(?![A-Za-z])(?:\{\})?\s?")
_LINK = re.compile(r"\\(?:url|href)\s*\{([^}]*)\}(?:\{[^}]*\})?")
_SPACING = re.compile(r"\\[,;: ]|\\\\")
_HELD = re.compile("\x00(\\d+)\x00")
_LATEX = re.compile(r"[\\{}$~`']|--")
_ESCAPED = re.compile(r"\\([&%$_#{}])")
_COMMAND = re.compile(r"\\([A-Za-z]+)\s*")
_FORMATTING = frozenset(
    ["emph", "textbf", "textit", "textrm", "textsc", "textsf", "textsl", "texttt", "textup"]
    + ["text", "mbox", "bf", "it", "em", "rm", "sc", "sf", "tt", "protect", "relax", "noopsort"]
    + ["textsuperscript", "textsubscript", "uppercase", "lowercase", "MakeUppercase"]
)
_SYMBOLS = {
    "textbraceleft": "\x01",  # braces the text shows: put back after the grouping ones go
    "textbraceright": "\x02",
    "textendash": "–",
    "textemdash": "—",
    "ldots": "…",
    "dots": "…",
    "textquoteright": "’",
}


def _command(match: re.Match[str]) -> str:
    """A command left after the accents: a symbol, formatting (`\\emph`: its argument stays),
    or a word of the text (`\\LaTeX` reads "LaTeX", as domain/twins.py's title keys read it)."""
    name = match.group(1)
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    return " " if name in _FORMATTING else f" {name} "


def _accented(match: re.Match[str]) -> str:
    mark = _MARKS[match.group(1) or match.group(2)]
    letter = match.group(3) or match.group(4)
    if letter.startswith("\\"):
        letter = letter[1]  # \i and \j take accents without their dot
    return unicodedata.normalize("NFC", letter + mark)


def _text_part(text: str) -> str:
    text = _ACCENT.sub(_accented, text)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _LINK.sub(r"\1", text)
    text = text.replace("---", "—").replace("--", "–").replace("~", " ")
    text = text.replace("``", "“").replace("''", "”")
    text = _SPACING.sub(" ", text)
    escaped: list[str] = []

    def hold(match: re.Match[str]) -> str:
        escaped.append(match.group(1))
        return f"\x00{len(escaped) - 1}\x00"

    text = _ESCAPED.sub(hold, text)
    text = _COMMAND.sub(_command, text)
    text = text.replace("{", "").replace("}", "").replace("\x01", "{").replace("\x02", "}")
    return _HELD.sub(lambda m: escaped[int(m.group(1))], text) if escaped else text


def decode_latex(value: str) -> str:
    """A field's LaTeX as plain text: accents on their letters, braces and formatting
    commands gone, `--` an en dash; math (`$...$`) kept as written, as arXiv titles keep it.

    >>> decode_latex(r"The Schr{\\"o}dinger {Bridge} for {\\'{e}}t\\'{e} -- \\emph{Fran\\c{c}ois}")
    'The Schrödinger Bridge for été – François'
    >>> decode_latex(r"From dyadic $\\Lambda_{\\alpha}$ to 100\\% {\\ss}")
    'From dyadic $\\\\Lambda_{\\\\alpha}$ to 100% ß'
    """
    if not _LATEX.search(value):  # most names and many titles: nothing to decode
        return " ".join(value.split())
    parts = re.split(r"((?<!\\)\$[^$]*(?<!\\)\$)", value)
    text = "".join(part if part.startswith("$") else _text_part(part) for part in parts)
    return " ".join(text.split())


# --- RIS -----------------------------------------------------------------------------------


def _count_ris(text: str) -> int:
    return len(re.findall(r"^TY  -", text, flags=re.MULTILINE))


def read_ris(text: str) -> list[Reference]:
    """RIS as Zotero, Mendeley, EndNote and publishers write it: one record from `TY  - ` to
    `ER  - `, authors on several AU (or A1) lines. Lines are checked first (rispy drops a
    record without its `ER` silently): text outside a record, or a record left open at the
    end of the file, is an error naming the line."""
    lines = text.split("\n")
    records: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    start = 0
    for number, line in enumerate(lines, start=1):
        match = _RIS_TAG.match(line)
        tag = match.group(1) if match else None
        if current is None:
            if not line.strip():
                continue
            if tag != "TY":
                raise ReferenceFileError(
                    f"line {number}: a RIS record must start with 'TY  - ', found {line[:60]!r}"
                )
            current, start = [line], number
        elif tag == "TY":
            raise ReferenceFileError(
                f"line {number}: a new record starts before the one from line {start} ended "
                "with 'ER  - '"
            )
        else:
            current.append(line)
            if tag == "ER":
                records.append((start, current))
                current = None
    if current is not None:
        raise ReferenceFileError(
            f"line {start}: the record that starts here has no 'ER  - ' line (is the file cut "
            "short?)"
        )
    references = []
    for start, record_lines in records:
        parsed = rispy.loads("\n".join(record_lines))
        if len(parsed) != 1:
            raise ReferenceFileError(f"line {start}: the record cannot be read as RIS")
        references.append(_ris_reference(parsed[0], start))
    return references


def _ris_reference(record: dict[str, Any], line: int) -> Reference:
    def text(*names: str) -> str | None:
        for name in names:
            value = record.get(name)
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            if value:
                return str(value).strip()
        return None

    reference = Reference(
        position=f"line {line}",
        key=text("id"),
        title=text("title", "primary_title", "translated_title"),
        year=_year(text("year", "publication_year", "date")),
    )
    authors = record.get("authors") or record.get("first_authors") or []
    reference.authors = [str(a).strip() for a in authors if str(a).strip()]
    if reference.authors:
        reference.first_surname = _surname(reference.authors[0])
    doi = normal_doi(text("doi"))
    if doi and doi.startswith("10.48550/"):
        reference.arxiv_id = arxiv_id_in(doi)
    elif doi:
        reference.dois.append(doi)
    if reference.arxiv_id is None:
        for names in (
            ("urls",),
            ("notes", "note", "research_notes"),
            ("journal_name", "secondary_title", "alternate_title3", "alternate_title1"),
            ("number", "accession_number", "custom1", "custom2"),
        ):
            found = arxiv_id_in(text(*names))
            if found:
                reference.arxiv_id = found
                break
    return reference


def _surname(name: str) -> str | None:
    """The family name of "Family, Given" or of "Given Family"."""
    value = name.strip()
    if "," in value:
        return value.split(",", 1)[0].strip() or None
    return value.split()[-1] if value.split() else None


# --- CSL-JSON and our own export -----------------------------------------------------------


def _read_json(text: str, fmt: str, max_entries: int) -> ReferenceFile:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReferenceFileError(
            f"line {error.lineno}, column {error.colno}: the JSON is malformed ({error.msg})"
        ) from None
    except RecursionError:
        raise ReferenceFileError("the JSON is nested too deeply to read") from None
    if isinstance(document, dict) and document.get("format") == EXPORT_FORMAT:
        items = document.get("library", [])
        if not isinstance(items, list):
            raise ReferenceFileError("the export's 'library' must be a list")
        _check_entries(len(items), max_entries)
        return ReferenceFile("dailypapers", read_export_library(items), document)
    if fmt == "dailypapers":
        raise ReferenceFileError(f'this is not a {EXPORT_FORMAT} file (no "format" key)')
    if not isinstance(document, list):
        raise ReferenceFileError("a CSL-JSON file is a JSON list of items; this is not a list")
    _check_entries(len(document), max_entries)
    return ReferenceFile("csl-json", [_csl_reference(item, i) for i, item in enumerate(document)])


def _csl_reference(item: Any, index: int) -> Reference:
    where = f"entry {index + 1}"
    if not isinstance(item, dict):
        raise ReferenceFileError(f"{where}: a CSL-JSON item must be an object")
    key = item.get("id")
    if key is not None:
        where += f" ({str(key)[:60]})"

    def text(name: str) -> str | None:
        value = item.get(name)
        if value is None:
            return None
        if not isinstance(value, (str, int, float)):
            raise ReferenceFileError(f"{where}: {name!r} must be text")
        return str(value).strip() or None

    reference = Reference(position=where, key=None if key is None else str(key)[:200])
    reference.title = text("title")
    authors = item.get("author") or []
    if not isinstance(authors, list) or not all(isinstance(a, dict) for a in authors):
        raise ReferenceFileError(f"{where}: 'author' must be a list of objects")
    for index, person in enumerate(authors):
        family = str(person.get("family") or "").strip()
        literal = str(person.get("literal") or "").strip()
        given = str(person.get("given") or "").strip()
        if family:
            reference.authors.append(f"{family}, {given}" if given else family)
        elif literal:
            reference.authors.append(literal)
        if index == 0:
            reference.first_surname = family or (_surname(literal) if literal else None)
    reference.year = _csl_year(item.get("issued"))
    doi = normal_doi(text("DOI"))
    if doi and doi.startswith("10.48550/"):
        reference.arxiv_id = arxiv_id_in(doi)
    elif doi:
        reference.dois.append(doi)
    if reference.arxiv_id is None:
        for name in ("URL", "number", "note", "archive_location", "container-title", "id"):
            found = arxiv_id_in(text(name))
            if found:
                reference.arxiv_id = found
                break
    return reference


def _csl_year(issued: Any) -> int | None:
    if not isinstance(issued, dict):
        return None
    parts = issued.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        return _year(str(parts[0][0]))
    raw = issued.get("raw")
    return _year(raw) if isinstance(raw, str) else None


def read_export_library(items: list[Any]) -> list[Reference]:
    """The `library` section of our own export: each item names its arXiv (or local) id,
    title, authors, when it was added and how."""
    references = []
    for index, item in enumerate(items):
        where = f"library item {index + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("arxiv_id"), str):
            raise ReferenceFileError(f"{where}: must be an object with an 'arxiv_id'")
        try:
            added = datetime.fromisoformat(str(item.get("added_at")))
        except ValueError:
            raise ReferenceFileError(f"{where}: 'added_at' is not an ISO time") from None
        authors = item.get("authors")
        if not isinstance(authors, list):
            authors = []
        reference = Reference(
            position=where,
            key=item["arxiv_id"][:64],
            title=item.get("title") if isinstance(item.get("title"), str) else None,
            authors=[str(a) for a in authors],
            first_surname=_surname(str(authors[0])) if authors else None,
            added_at=added,
            how=item.get("how") if item.get("how") in ("saved", "imported") else "imported",
        )
        try:
            reference.arxiv_id = parse_paper_id(item["arxiv_id"])
        except InvalidArxivId as error:
            reference.arxiv_problem = f"its id is not an arXiv id: {error}"
        references.append(reference)
    return references


# --- a list of arXiv ids -------------------------------------------------------------------


def _first_token(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "%")):
        return None
    return stripped.split()[0].rstrip(",;")


def _count_ids(text: str) -> int:
    return sum(1 for line in text.split("\n") if _first_token(line) is not None)


def read_arxiv_ids(text: str) -> list[Reference]:
    """One arXiv id or URL a line, in any form domain/ids.py reads (old-style ids too);
    anything after the first word is ignored, and so are blank lines and lines starting with
    # or %. A line that names no arXiv id is an error naming it."""
    references = []
    failures = []
    for number, line in enumerate(text.split("\n"), start=1):
        token = _first_token(line)
        if token is None:
            continue
        try:
            arxiv_id = parse_arxiv_id(token).id
        except InvalidArxivId as error:
            failures.append(f"line {number}: {error}")
            continue
        references.append(Reference(position=f"line {number}", key=token, arxiv_id=arxiv_id))
    if failures:
        shown = "; ".join(failures[:_SHOWN_ERRORS])
        more = len(failures) - _SHOWN_ERRORS
        raise ReferenceFileError(
            "not every line is an arXiv id or URL: "
            + shown
            + (f"; and {more} more" if more > 0 else "")
        )
    return references


def _year(value: str | None) -> int | None:
    match = re.search(r"\b(1[5-9]\d\d|2\d\d\d)\b", value or "")
    return int(match.group(1)) if match else None
