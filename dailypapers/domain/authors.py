"""Author names as arXiv writes them, grouped: when two spellings name the same person for a
reader who follows one of them. The catalog keeps names as they arrive; the keyword index
only lowercases them, which neither folds accents nor knows a surname from a first name, so
following an author needs this.

Two names group when their surnames fold to the same letters (case, accents, spaces, hyphens
and apostrophes ignored: `Yann LeCun`, `YANN LECUN`, `Yann Le Cun` and `Yann Lécun` are one)
and their first given names agree. Initials are conservative: a followed full first name never
takes an initial (`Yann LeCun` does not take `Y. LeCun`, who may be anyone of that surname),
while a followed initial takes every first name it starts (`Y. LeCun` takes `Yann LeCun`).
Middle names count only when both names give one (`Geoffrey E. Hinton` takes `Geoffrey
Hinton` and `Geoffrey Everest Hinton`, not `Geoffrey A. Hinton`). Name order is taken as
written (`Given Surname`, or `Surname, Given`); names that put the family name first
(`Wang Wei`) are not recognised as `Wei Wang`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple

# Letters that Unicode does not decompose into a base letter and a mark.
_SPECIAL = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
    }
)
# Words that belong to the surname when they stand before it: `Ludwig van Beethoven`.
PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "dela",
        "di",
        "da",
        "du",
        "dos",
        "das",
        "la",
        "le",
        "ter",
        "ten",
        "bin",
        "ibn",
        "al",
        "el",
        "st",
    ]
)
SUFFIXES = frozenset(["jr", "sr", "ii", "iii", "iv"])
# A name with one of these words names a group, which is kept whole: `ATLAS Collaboration`.
GROUP_WORDS = frozenset(["collaboration", "consortium", "team", "group", "collaborations"])
# The combining marks that decomposed Latin, Greek and Cyrillic letters carry.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_JOINERS = re.compile(r"[\s\-'’`.]+")


def fold(text: str) -> str:
    """Lowercase without accents, for comparing names.

    >>> fold("Søren Kierkegaard-Ørsted"), fold("Lécun"), fold("Ïñigo")
    ('soren kierkegaard-orsted', 'lecun', 'inigo')
    """
    if text.isascii():
        return text.lower()
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.translate(_SPECIAL))).lower()


def squash(text: str) -> str:
    """A folded text without spaces, hyphens, apostrophes and dots: how surnames compare.

    >>> squash(fold("Le Cun")), squash(fold("O'Brien-Smith"))
    ('lecun', 'obriensmith')
    """
    return _JOINERS.sub("", text)


@dataclass(frozen=True)
class AuthorKey:
    """A name reduced to what groups it: the folded surname (squashed) and the folded given
    names in order, each a full name or a one-letter initial."""

    surname: str
    given: tuple[str, ...] = ()

    def __str__(self) -> str:
        """The stored form of a followed author: `lecun, yann`, `hinton, geoffrey e`."""
        return f"{self.surname}, {' '.join(self.given)}" if self.given else self.surname

    def takes(self, other: AuthorKey) -> bool:
        """Whether a reader following this name wants papers by `other` (see the module
        docstring: full first names never take initials, initials take what they start). A
        surname of two words may be written with a hyphen or without: `José García-Pérez`
        takes `José García Pérez`.

        >>> follow = author_key("Yann LeCun")
        >>> [follow.takes(author_key(n)) for n in ["Yann Le Cun", "Y. LeCun", "Yan LeCun"]]
        [True, False, False]
        >>> author_key("Y. LeCun").takes(author_key("Yann LeCun"))
        True
        """
        if self.surname == other.surname:
            return self._same(other)
        if len(self.given) < 2 and len(other.given) < 2:  # one reading each: no other way
            return False
        return any(mine._same(theirs) for mine in self._readings for theirs in other._readings)

    def _same(self, other: AuthorKey) -> bool:
        if self.surname != other.surname:
            return False
        if not self.given or not other.given:
            return not self.given and not other.given
        pairs = zip(self.given, other.given, strict=False)
        return all(_compatible(m, t, first=index == 0) for index, (m, t) in enumerate(pairs))

    @property
    def initial(self) -> str:
        """The first letter of the first given name, "" for none: every name this key may
        group with (`takes`, either way) has the same one."""
        return self.given[0][0] if self.given else ""

    @property
    def surnames(self) -> list[str]:
        """Every surname this name may have (see `takes`): a key can only take names with
        one of them, so callers index followed names by these."""
        return [reading.surname for reading in self._readings]

    @cached_property
    def _readings(self) -> list[AuthorKey]:
        """The key, and the key with its last given names read as part of the surname (`José
        García Pérez` may be García Pérez), one given name always left."""
        readings = [self]
        for count in range(1, len(self.given)):
            joined = self.given[-count:]
            if any(len(name) == 1 for name in joined):  # an initial is no part of a surname
                break
            readings.append(AuthorKey("".join(joined) + self.surname, self.given[:-count]))
        return readings


def _compatible(mine: str, theirs: str, *, first: bool) -> bool:
    if len(mine) > 1 and len(theirs) > 1:
        return mine == theirs
    if len(mine) == 1:  # an initial followed: any name it starts
        return theirs.startswith(mine)
    # A full name followed, an initial written: a middle initial may abbreviate it, a first
    # one may be anybody of that surname.
    return not first and mine.startswith(theirs)


@lru_cache(maxsize=1 << 16)  # names recur across papers; a key is immutable
def author_key(name: str) -> AuthorKey | None:
    """The key of a name as arXiv writes it; None when it holds no letters.

    >>> str(author_key("Yann LeCun")), str(author_key("LeCun, Yann")), str(author_key("Y. Le Cun"))
    ('lecun, yann', 'lecun, yann', 'lecun, y')
    >>> str(author_key("Ludwig van Beethoven")), str(author_key("Neal J. Evans II"))
    ('vanbeethoven, ludwig', 'evans, neal j')
    >>> str(author_key("D.V. Shetty")), str(author_key("C.-P. Yuan")), str(author_key("The ATLAS Collaboration"))
    ('shetty, d v', 'yuan, c p', 'atlascollaboration')
    """
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if "," in text:  # `Surname, Given` (or `Name, Jr.`)
        family, _, rest = text.partition(",")
        text = family if fold(rest).strip(" .") in SUFFIXES else f"{rest} {family}"
    # Dots end initials: `D.V.` is two of them, `C.-P.` too.
    words = [w for w in fold(text).replace(".", ". ").split() if any(c.isalnum() for c in w)]
    if not words:
        return None
    if any(word in GROUP_WORDS for word in words):
        kept = words[1:] if words[0] == "the" and len(words) > 1 else words
        return AuthorKey(squash(" ".join(kept)))
    while len(words) > 1 and words[-1].strip(".") in SUFFIXES:
        words.pop()
    start = len(words) - 1
    while start > 1 and words[start - 1] in PARTICLES:
        start -= 1
    surname = squash(" ".join(words[start:]))
    given = [word.strip(".-'’") for word in words[:start]]
    return AuthorKey(surname, tuple(g for g in given if g)) if surname else None


# --- an author's page: which spellings of the catalog are one person ---------------------------
#
# Following is generous (a followed initial takes every first name it starts); a page that says
# "these papers are by this person" must not be. The rule for `/authors/{name}`:
#
# 1. Spellings whose keys agree both ways are one person (`takes` in each direction): case,
#    accents, hyphens, spaces, "Jr." and `Surname, Given` order make no difference, and a middle
#    name counts only when both give one (`Geoffrey E. Hinton` is `Geoffrey Hinton`).
# 2. A spelling with an initial for its first name (`J. Smith`) joins a full first name (`John
#    Smith`) only when, among the catalog's spellings of that surname, every full first name
#    the initial may stand for is that one person. With `John Smith` and `Jane Smith` both in
#    the catalog, `J. Smith` stays apart: the page of `J. Smith` names both as other people.
# 3. A page asked for by an initial that stands for one person only shows that person whole.

SURNAME_LENGTH = 200  # characters of the stored surname (paper_authors.surname)


def surname_of(name: str) -> str | None:
    """What the catalog indexes an author's name by (paper_authors.surname): the folded,
    squashed surname of its key, cut to SURNAME_LENGTH; None for a name without letters.

    >>> surname_of("Yann Le Cun"), surname_of("LECUN, Y."), surname_of("...")
    ('lecun', 'lecun', None)
    """
    key = author_key(name)
    return None if key is None else key.surname[:SURNAME_LENGTH]


class IndexedName(NamedTuple):
    """An author of a paper as paper_authors stores it: the place in the author list, the
    name as written, its surname (surname_of) and the first letter of its first given name
    ("" when it has none): the grouping of spellings only ever relates names that share both."""

    position: int
    name: str
    surname: str
    initial: str


def indexed_names(names: list[str]) -> list[IndexedName]:
    """The IndexedName of each name of an author list that has letters.

    >>> [tuple(n) for n in indexed_names(["Yann Le Cun", "...", "LOVELACE, Ada"])]
    [(0, 'Yann Le Cun', 'lecun', 'y'), (2, 'LOVELACE, Ada', 'lovelace', 'a')]
    """
    rows = []
    for position, name in enumerate(names):
        key = author_key(name)
        if key is not None:
            rows.append(IndexedName(position, name, key.surname[:SURNAME_LENGTH], key.initial))
    return rows


@dataclass(frozen=True)
class AuthorGroup:
    """The spellings one author page shows: `spellings` are merged into one person (most papers
    first), `others` are spellings of other people an initial could also stand for."""

    name: str  # the spelling asked for, as given
    spellings: tuple[str, ...]
    others: tuple[str, ...] = ()


def _mutual(one: AuthorKey, other: AuthorKey) -> bool:
    return one.takes(other) and other.takes(one)


def _initial_first(key: AuthorKey) -> bool:
    return bool(key.given) and len(key.given[0]) == 1


def group_spellings(name: str, counts: dict[str, int]) -> AuthorGroup:
    """The spellings among `counts` (spelling -> papers in the catalog, all sharing a surname
    with `name`) that name the same person as `name`, by the rule above; `name` itself is
    always among them, with or without papers.

    >>> counts = {"John Smith": 3, "J. Smith": 2, "JOHN SMITH": 1, "Jane Smith": 1}
    >>> group_spellings("John Smith", counts).spellings
    ('John Smith', 'JOHN SMITH')
    >>> group = group_spellings("J. Smith", counts)
    >>> group.spellings, group.others
    (('J. Smith',), ('John Smith', 'Jane Smith'))
    >>> group_spellings("J. Smith", {"John Smith": 3, "J. Smith": 2}).spellings
    ('John Smith', 'J. Smith')
    """
    keys = {s: k for s, k in ((s, author_key(s)) for s in counts) if k is not None}
    wanted = author_key(name)
    if wanted is None:
        return AuthorGroup(name, (name,))
    if _initial_first(wanted):
        fulls = [s for s, k in keys.items() if not _initial_first(k) and wanted.takes(k)]
        people = _people(fulls, keys, counts)
        if len(people) == 1:  # the initial stands for one person: show that person
            found = _full_group(people[0][0], keys, counts)
            return AuthorGroup(name, _ordered({*found, name}, counts))
        same = {s for s, k in keys.items() if _initial_first(k) and _mutual(wanted, k)}
        others = [person[0] for person in people]
        return AuthorGroup(name, _ordered({*same, name}, counts), _ordered(set(others), counts))
    return AuthorGroup(name, _ordered({*_full_group(name, keys, counts), name}, counts))


def _full_group(name: str, keys: dict[str, AuthorKey], counts: dict[str, int]) -> set[str]:
    """A full first name's spellings: those agreeing both ways (rule 1) and the initials that
    stand for nobody else in `keys` (rule 2)."""
    wanted = author_key(name)
    assert wanted is not None
    same = {s for s, k in keys.items() if not _initial_first(k) and _mutual(wanted, k)}
    for spelling, key in keys.items():
        if not _initial_first(key) or not key.takes(wanted):
            continue
        meant = {s for s, k in keys.items() if not _initial_first(k) and key.takes(k)}
        if meant <= same:
            same.add(spelling)
    return same


def _people(
    fulls: list[str], keys: dict[str, AuthorKey], counts: dict[str, int]
) -> list[list[str]]:
    """Full-name spellings in groups of one person each (rule 1), the most papers first."""
    groups: list[list[str]] = []
    for spelling in _ordered(set(fulls), counts):
        for group in groups:
            if _mutual(keys[group[0]], keys[spelling]):
                group.append(spelling)
                break
        else:
            groups.append([spelling])
    return groups


def _ordered(spellings: set[str], counts: dict[str, int]) -> tuple[str, ...]:
    return tuple(sorted(spellings, key=lambda s: (-counts.get(s, 0), s)))
