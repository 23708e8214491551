"""arXiv identifiers: one normaliser for every id, URL, DOI and OAI form.

A paper is keyed on its version-less canonical id (`2301.12345`, `hep-th/9901001`); the
version travels separately. Demo papers that have no arXiv id get a `local-...` id, which can
never be mistaken for an arXiv one (arXiv ids start with a digit or a known archive name and
never contain a hyphen followed by hex only).
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

# Every archive that has ever issued old-style ids, current and subsumed (arXiv taxonomy).
OLD_ARCHIVES = frozenset(
    [
        "acc-phys",
        "adap-org",
        "alg-geom",
        "ao-sci",
        "astro-ph",
        "atom-ph",
        "bayes-an",
        "chao-dyn",
        "chem-ph",
        "cmp-lg",
        "comp-gas",
        "cond-mat",
        "cs",
        "dg-ga",
        "funct-an",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math",
        "math-ph",
        "mtrl-th",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "patt-sol",
        "physics",
        "plasm-ph",
        "q-alg",
        "q-bio",
        "quant-ph",
        "solv-int",
        "supr-con",
    ]
)

_PREFIXES = re.compile(
    r"""^(?:
        https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format|src)/
      | https?://(?:dx\.)?doi\.org/10\.48550/arxiv\.
      | 10\.48550/arxiv\.
      | https?://(?:www\.)?huggingface\.co/papers/
      | oai:arxiv\.org:
      | arxiv:
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# ASCII digits only (`\d` would take any script's digits), versions up to 9999 (a longer one
# is not an arXiv version, and Python refuses to read numbers past 4,300 digits).
_NEW = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(?:[vV](\d{1,4}))?$", re.ASCII)
_OLD = re.compile(
    r"^([a-z][a-z-]*)(?:\.[A-Za-z-]{2,})?/(\d{2})(\d{2})(\d{3})(?:[vV](\d{1,4}))?$", re.ASCII
)
_LOCAL = re.compile(r"^local-[0-9a-f]{12}$")


class ArxivId(NamedTuple):
    """A canonical, version-less arXiv id and the version the input named (or None)."""

    id: str
    version: int | None


class InvalidArxivId(ValueError):
    """The input is not an arXiv identifier; the message says why."""


def parse_arxiv_id(text: str) -> ArxivId:
    """Normalise any arXiv id, URL, OAI identifier or arXiv DOI.

    >>> parse_arxiv_id("https://arxiv.org/pdf/math.GT/0309136v2.pdf")
    ArxivId(id='math/0309136', version=2)
    >>> parse_arxiv_id("10.48550/arXiv.2202.01037")
    ArxivId(id='2202.01037', version=None)

    Raises InvalidArxivId with the reason (month out of range, wrong digit count for the
    era, unknown archive, version 0, ...).
    """
    if not isinstance(text, str):
        raise InvalidArxivId(f"not an arXiv identifier: {text!r}")
    value = text.strip()
    value = _PREFIXES.sub("", value, count=1)
    value = re.split(r"[?#]", value, maxsplit=1)[0].rstrip("/")
    if value.lower().endswith(".pdf"):
        value = value[:-4]

    match = _NEW.match(value)
    if match:
        yy, mm, number, version = match.groups()
        if not 1 <= int(mm) <= 12:
            raise InvalidArxivId(f"month out of range in {text.strip()!r}")
        if yy + mm < "0704":
            raise InvalidArxivId(f"new-style ids start at 0704: {text.strip()!r}")
        digits = 4 if yy + mm <= "1412" else 5
        if len(number) != digits:
            era = "0704-1412" if digits == 4 else "1501 and later"
            raise InvalidArxivId(
                f"ids from {era} have {digits}-digit sequence numbers: {text.strip()!r}"
            )
        return ArxivId(f"{yy}{mm}.{number}", _version(version, text))

    match = _OLD.match(value)
    if match:
        archive, yy, mm, number, version = match.groups()
        if archive not in OLD_ARCHIVES:
            raise InvalidArxivId(f"unknown archive {archive!r} in {text.strip()!r}")
        year = int(yy) + (1900 if int(yy) >= 91 else 2000)
        if not 1 <= int(mm) <= 12 or year > 2007 or (year == 2007 and int(mm) > 3):
            raise InvalidArxivId(f"date out of range for an old-style id: {text.strip()!r}")
        return ArxivId(f"{archive}/{yy}{mm}{number}", _version(version, text))

    raise InvalidArxivId(f"not an arXiv identifier: {text.strip()[:80]!r}")


def _version(version: str | None, text: str) -> int | None:
    if version is None:
        return None
    if int(version) < 1:
        raise InvalidArxivId(f"versions start at v1: {text.strip()!r}")
    return int(version)


def is_arxiv_id(text: str) -> bool:
    """True when `text` normalises to an arXiv id."""
    try:
        parse_arxiv_id(text)
    except InvalidArxivId:
        return False
    return True


def local_paper_id(title: str) -> str:
    """A stable id for a paper that has no arXiv id, derived from its title.

    >>> local_paper_id("Attention Is All You Need")
    'local-4a1c934d3d98'
    """
    folded = " ".join(title.lower().split())
    return "local-" + hashlib.sha256(folded.encode()).hexdigest()[:12]


def is_local_id(text: str) -> bool:
    return bool(_LOCAL.match(text))


def parse_paper_id(text: str) -> str:
    """The catalog key for user input: an arXiv id in any form, or a local demo id."""
    value = text.strip()
    if is_local_id(value):
        return value
    return parse_arxiv_id(value).id
