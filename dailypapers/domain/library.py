"""A reader's library: the papers they keep, the references an import file holds, what became
of each one, and the matching rule that ties a reference to a catalog paper.

The rule, in order: the arXiv id the reference names (an eprint field, an arXiv URL, the DOI
10.48550/arXiv.X, "arXiv:X" in a note); then a DOI the catalog lists for a paper; then the
title (domain/twins.py's `title_key`), the first author's surname settling a tie. A reference
whose arXiv id the catalog lacks is fetched from arXiv (services/library.py). Storage finds the
candidates; the choice among them is `choose_by_title`'s.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .ids import InvalidArxivId, parse_arxiv_id
from .papers import Paper
from .twins import title_key

SAVED = "saved"
IMPORTED = "imported"
HOW = (SAVED, IMPORTED)

# What became of an entry of an import file.
MATCHED = "matched"  # a catalog paper, found by arXiv id, DOI or title
FETCHED = "fetched"  # its arXiv id was not in the catalog; arXiv had it
PENDING = "pending"  # its arXiv id was not in the catalog; arXiv is being asked
UNMATCHED = "unmatched"  # not added: `reason` says why

# The import's own state: arXiv is being asked for papers (`fetching`) or all is settled.
FETCHING = "fetching"
DONE = "done"

# The first key of the JSON that "export all my data" writes (services/userdata.py): an
# import file holding it is that export, read back.
EXPORT_FORMAT = "dailypapers-export"

# "arXiv:2301.12345", "arXiv preprint arXiv:1706.03762", "arXiv 2301.12345v2 [cs.CL]",
# "arXiv:hep-th/9901001", arxiv.org links and arXiv's DOI, inside any text.
_IN_TEXT = re.compile(
    r"""(?:arxiv\.org/(?:abs|pdf|html)/ | 10\.48550/arxiv\. | \barxiv\s*[:\s]\s*)
        ( [a-z][a-z-]*(?:\.[a-z]{2})?/\d{7} | \d{4}\.\d{4,5} )
        (?:v(\d{1,4}))?(?![\d])""",
    re.IGNORECASE | re.VERBOSE,
)
# Name endings that are not a surname: "Jr.", "III".
_SUFFIXES = frozenset(["jr", "sr", "ii", "iii", "iv"])


def arxiv_id_in(text: str | None) -> str | None:
    """The first arXiv id that `text` names with an arXiv prefix, URL or DOI; None when it
    names none. A bare number is not taken: in a note or a page range it is anything.

    >>> arxiv_id_in("arXiv preprint arXiv:1706.03762")
    '1706.03762'
    >>> arxiv_id_in("http://arxiv.org/abs/hep-th/9901001v2"), arxiv_id_in("pp. 1706.0376")
    ('hep-th/9901001', None)
    """
    for match in _IN_TEXT.finditer(text or ""):
        try:
            return parse_arxiv_id(match.group(1)).id
        except InvalidArxivId:
            continue
    return None


def normal_doi(text: str | None) -> str | None:
    """A DOI as the catalog compares them: lower case, without a resolver prefix; None for
    text that is not a DOI.

    >>> normal_doi("https://doi.org/10.1103/PhysRevD.76.013009")
    '10.1103/physrevd.76.013009'
    """
    value = (text or "").strip()
    value = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", value, flags=re.IGNORECASE)
    return value.lower() if re.match(r"^10\.\d{4,9}/\S+$", value) else None


def _without_affiliations(name: str) -> str:
    """A name without the affiliations arXiv keeps in it: "A. Smith (LJLL (UMR 7598))"."""
    while "(" in name:
        shorter = re.sub(r"\([^()]*\)?", " ", name)
        if shorter == name:
            break
        name = shorter
    return name.replace(")", " ")


def surname_matches(surname: str, name: str) -> bool:
    """Whether `name` (as arXiv writes it, "Given Family") ends with the surname `surname`,
    letters compared as title keys are (accents and LaTeX dropped, case folded).

    >>> surname_matches(r"M{\\"u}ller", "Jörg Müller"), surname_matches("van der Berg", "H. van der Berg")
    (True, True)
    >>> surname_matches("Li", "Xiaoli Wang"), surname_matches("Fadili", "Jalal M. Fadili (NU, GREYC)")
    (False, True)
    """
    wanted = title_key(surname)
    if not wanted:
        return False
    name = _without_affiliations(name)
    words = [title_key(word) for word in name.replace(",", " ").split()]
    while words and words[-1] in _SUFFIXES:
        words.pop()
    return any("".join(words[start:]) == wanted for start in range(len(words)))


@dataclass
class Reference:
    """One entry of an import file, as far as matching needs it. `position` says where it is
    ("line 12", "entry 3"); `arxiv_problem` is set when a field claimed an arXiv id that is
    not one. `added_at` and `how` come only from our own export, read back."""

    position: str
    key: str | None = None
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    first_surname: str | None = None
    year: int | None = None
    arxiv_id: str | None = None
    arxiv_problem: str | None = None
    dois: list[str] = field(default_factory=list)
    added_at: datetime | None = None
    how: str | None = None
    title_latex: str | None = None  # the title as written, when that was LaTeX (BibTeX)

    def title_keys(self) -> list[str]:
        """The keys its title may have in the catalog: of the text, and of the LaTeX as
        written (`Haj{\\l}asz` is "hajlasz" to the catalog's rule, "Hajłasz" is "hajłasz")."""
        keys = [title_key(self.title or ""), title_key(self.title_latex or "")]
        return [key for key in dict.fromkeys(keys) if key]


@dataclass
class Outcome:
    """What became of one reference. `by` says how it matched ("arXiv id", "DOI", "title",
    "title and first author"); `reason` why it did not; `already` that the paper was in the
    library before this import."""

    position: str
    status: str
    title: str | None = None
    key: str | None = None
    arxiv_id: str | None = None
    by: str | None = None
    reason: str | None = None
    already: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(**data)


@dataclass
class LibraryImport:
    """An import as stored: its outcomes in file order, and notes on what else it restored
    (votes from our own export)."""

    id: int
    user_id: int
    created_at: datetime
    finished_at: datetime | None
    status: str
    format: str
    filename: str
    entries: int
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def pending_ids(self) -> list[str]:
        found = (o.arxiv_id for o in self.outcomes if o.status == PENDING and o.arxiv_id)
        return list(dict.fromkeys(found))


@dataclass
class LibraryItem:
    """A paper in a reader's library: when and how it got there."""

    paper: Paper
    added_at: datetime
    how: str


@dataclass(frozen=True)
class Candidate:
    """A catalog paper whose title has a reference's title key."""

    arxiv_id: str
    authors: list[str]


def choose_by_title(reference: Reference, found: list[Candidate]) -> tuple[str | None, str]:
    """Among the catalog papers with the reference's title key, the one it names: (arxiv id,
    how) or (None, why not).

    One candidate is taken unless the reference names a first author who is none of its
    authors (a common title such as "Introduction" is not proof). Several are settled by the
    first author's surname; when that does not leave exactly one, the reference is unmatched.

    >>> ref = Reference("line 1", title="Spatial networks", first_surname="Barthelemy")
    >>> choose_by_title(ref, [Candidate("1010.0302", ["Marc Barthelemy"]),
    ...                       Candidate("2501.00001", ["Jane Doe"])])
    ('1010.0302', 'title and first author')
    """
    if not found:
        return None, "no arXiv id, DOI or title found in this catalog"
    surname = reference.first_surname
    if len(found) == 1:
        only = found[0]
        if surname and only.authors and not any(surname_matches(surname, a) for a in only.authors):
            return None, (
                f"the title matches {only.arxiv_id}, but {surname} is not among its authors"
            )
        return only.arxiv_id, "title"
    if not surname:
        ids = ", ".join(c.arxiv_id for c in found[:5])
        return None, f"the title matches {len(found)} papers ({ids}) and names no author"
    first = [c for c in found if c.authors and surname_matches(surname, c.authors[0])]
    if len(first) == 1:
        return first[0].arxiv_id, "title and first author"
    ids = ", ".join(c.arxiv_id for c in found[:5])
    who = f"{len(first)} of them have" if first else "none has"
    return (
        None,
        f"the title matches {len(found)} papers ({ids}) and {who} the first author {surname}",
    )
