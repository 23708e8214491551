"""Text normalisation shared by every parser: whitespace, control characters, author lines,
TeX accents in names and dates. (The code and project links found in abstracts and comments
are domain/links.py's.)

LaTeX in titles and abstracts is kept as written (the site renders math); only author names
are folded to Unicode, so that the same person reads the same whichever source brought them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

# Characters XML 1.0 forbids, which some feeds and dumps still carry (ARXIV.md 6.2).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def strip_control(text: str) -> str:
    """Remove control characters that are illegal in XML 1.0 (tab and newline stay)."""
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def normalize_title(text: str | None) -> str:
    """One line, single spaces: `"Deep\\n  Learning "` -> `"Deep Learning"`."""
    if not text:
        return ""
    return squeeze(text)


def squeeze(text: str) -> str:
    """`" ".join(strip_control(text).split())`: one line, single spaces, no control characters.

    Printable ASCII with line breaks (most of a snapshot's text) takes a shortcut: nothing to
    strip, and spaces and line breaks are its only whitespace, so the text is often returned
    as it is (a bulk load runs this on every title, abstract and comment).
    """
    if _plain_ascii(text):
        flat = text.replace("\n", " ").strip(" ")
        return flat if "  " not in flat else " ".join(flat.split())
    return _squeeze_general(text)


# Every ASCII control character but the line break (tab and CR included).
_NOT_PLAIN = bytes(range(10)) + bytes(range(11, 32)) + b"\x7f"


def _plain_ascii(text: str) -> bool:
    """Whether `text` is printable ASCII and line breaks only (about three times faster than
    a regular expression search over an abstract)."""
    if not text.isascii():
        return False
    raw = text.encode()
    return len(raw.translate(None, _NOT_PLAIN)) == len(raw)


def _squeeze_general(text: str) -> str:
    return " ".join(strip_control(text).split())


def normalize_abstract(text: str | None) -> str:
    """Join hard-wrapped lines, keep paragraph breaks as a blank line, trim the ends.

    arXiv marks a paragraph with a newline followed by indentation. Text that was re-indented
    as a whole (every line indented alike) has no paragraphs, so indentation is measured
    against the common indent of all continuation lines.

    >>> normalize_abstract("  First line\\nwraps here.\\n  New paragraph.\\n")
    'First line wraps here.\\n\\nNew paragraph.'
    """
    if not text:
        return ""
    if _plain_ascii(text):
        # Printable ASCII and line breaks (most abstracts): nothing to strip or replace, and a
        # paragraph starts only at "\n " or "\n\n" (the general route's answer, faster).
        inner = text.strip("\n")
        if "\n " in inner or "\n\n" in inner:
            return _join_paragraphs(text)
        flat = text.replace("\n", " ").strip(" ")
        return flat if "  " not in flat else " ".join(flat.split())
    return _normalize_abstract_general(text)


def _normalize_abstract_general(text: str) -> str:
    text = strip_control(text)
    if "\n" not in text and "\r" not in text:
        return " ".join(text.split())
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if not _PARAGRAPH_MARK.search(text.strip("\n")):
        # No later line is indented or blank: one paragraph, as most abstracts are (the
        # loop below gives the same, three times slower).
        return " ".join(text.split())
    return _join_paragraphs(text)


# A line break followed by a space, or by a line of nothing but whitespace: where a
# paragraph may start.
_PARAGRAPH_MARK = re.compile(r"\n(?: |[^\S\n]*(?:\n|\Z))")


def _join_paragraphs(text: str) -> str:
    """normalize_abstract's general case, for text with `\n` line breaks alone."""
    lines = text.strip("\n").split("\n")
    if len(lines) == 1:
        return " ".join(lines[0].split())
    rest = [line for line in lines[1:] if line.strip()]
    common = min((len(line) - len(line.lstrip(" ")) for line in rest), default=0)
    paragraphs: list[list[str]] = [[lines[0]]]
    for line in lines[1:]:
        if not line.strip():
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent > common and paragraphs[-1]:
            paragraphs.append([])
        paragraphs[-1].append(line)
    joined = (" ".join(" ".join(p).split()) for p in paragraphs)
    return "\n\n".join(p for p in joined if p)


def clean_optional(text: str | None) -> str | None:
    """Whitespace-normalise an optional one-line field; empty becomes None."""
    if text is None:
        return None
    value = squeeze(str(text))
    return value or None


@lru_cache(maxsize=1)
def _latex_converter() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)


def latex_name_to_unicode(name: str) -> str:
    """`Bal\\'azs` -> `Balázs`; names without TeX markup pass through untouched."""
    if "\\" not in name and "{" not in name:
        return name
    try:
        converted = _latex_converter().latex_to_text(name)
    except Exception:  # pylatexenc is lenient, but a name must never stop an ingest
        return name
    return " ".join(converted.split())


def _drop_parentheses(text: str) -> str:
    """Remove (possibly nested) parenthesised groups: affiliations in raw author lines."""
    out: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(char)
    return "".join(out)


_AUTHOR_SEPARATORS = re.compile(r"\s*,\s*and\s+|\s*,\s*|\s+and\s+|\s*;\s*|\s+&\s+")


def split_authors(raw: str | None) -> list[str]:
    """Split a raw arXiv author line into names, in order, affiliations dropped.

    >>> split_authors("Mark Vogelsberger (1,2), Simon D. M. White (1) ((1) MPA, (2) CfA)")
    ['Mark Vogelsberger', 'Simon D. M. White']
    >>> split_authors("D.V. Shetty, S.J. Yennello, and G.A. Souliotis")
    ['D.V. Shetty', 'S.J. Yennello', 'G.A. Souliotis']
    """
    if not raw:
        return []
    text = " ".join(_drop_parentheses(strip_control(raw)).split())
    names = []
    for part in _AUTHOR_SEPARATORS.split(text):
        name = part.strip(" .:") if part.strip().endswith(":") else part.strip()
        if name and name.lower() != "and":
            names.append(latex_name_to_unicode(name))
    return names


def join_parsed_author(parts: list[str]) -> str:
    """A snapshot `authors_parsed` entry `[keyname, forenames, suffix, affil...]` -> name.

    >>> join_parsed_author(["Evans", "Neal J.", "II", "Caltech"])
    'Neal J. Evans II'
    """
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts[:3]):
        raise TypeError("authors_parsed entries must be lists of strings")
    name = " ".join(parts[1::-1] if len(parts) < 3 or not parts[2] else (*parts[1::-1], parts[2]))
    if "  " in name or name[:1] == " " or name[-1:] == " " or "\n" in name:
        name = " ".join(name.split())
    return latex_name_to_unicode(name)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_RFC822_GMT = re.compile(
    r"^[A-Z][a-z]{2}, (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$"
)


def parse_rfc822(text: str | None) -> datetime | None:
    """`Thu, 5 Apr 2007 12:45:03 GMT` -> aware UTC datetime; None when absent or unparseable."""
    if not text or not text.strip():
        return None
    fast = _RFC822_GMT.match(text)
    if fast and fast.group(2) in _MONTHS:  # arXiv's own form: skip the general parser
        day, month, year, hour, minute, second = fast.groups()
        try:
            return datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
        except ValueError:
            return None
    try:
        parsed = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_iso_datetime(text: str | None) -> datetime | None:
    """ISO 8601 (`2024-07-18T05:15:24.000Z`, `2016-10-09T00:00:00-04:00`, `2024-07-18`) -> UTC."""
    if not text or not str(text).strip():
        return None
    value = str(text).strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_day(text: str | None) -> date | None:
    """`YYYY-MM-DD` -> date; None when absent or not a real day."""
    if not text:
        return None
    try:
        return date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        return None


def parse_size_kb(text: str | None) -> int | None:
    """`609kb` -> 609; None when absent or not a size."""
    if not text:
        return None
    match = re.match(r"^\s*(\d+)\s*kb\s*$", text, re.IGNORECASE)
    return int(match.group(1)) if match else None


def utc_date(moment: datetime | None) -> date | None:
    return moment.astimezone(UTC).date() if moment else None
