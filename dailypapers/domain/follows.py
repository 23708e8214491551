"""What a reader follows: categories, authors, saved searches and organisations. Each follow
is stored with its kind, a normalised value (what makes two follows the same, and what
matching compares) and the label the reader gave or clicked. This module says what a valid
follow is and how each kind is normalised; services/follows.py stores them and finds the new
papers they match.

| kind           | label (as given)          | value (normalised)            | a paper matches when |
|----------------|---------------------------|-------------------------------|----------------------|
| `category`     | `cs.CL`                   | `cs.CL` (as the catalog spells it) | it is in the category, primary or cross-list |
| `author`       | `Yann LeCun`              | `lecun, yann` (domain/authors.py) | an author's name groups with it |
| `search`       | `Diffusion  cat:cs.CV`    | `diffusion cat:cs.CV`         | it has every word and phrase, and passes the filters |
| `organization` | `NVIDIA`                  | `nvidia`                      | its organisation is that name, in any case |

A followed search is the search language of domain/query.py with one difference: every word
is required (the search page ranks papers having any of them; a feed of every paper with any
word would be noise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from .authors import AuthorKey, author_key, fold
from .errors import BadParameter
from .papers import Paper
from .query import ParsedQuery, parse_query

KINDS = ("category", "author", "search", "organization")
# How a follow reads in a "why" line: `cs.CL`, `author: Yann LeCun`, `search: diffusion`.
PREFIXES = {"category": "", "author": "author: ", "search": "search: ", "organization": "org: "}
MAX_LABEL = 300  # characters of what a reader types
MAX_SEARCH_WORDS = 20  # every word must match: a longer search would match nothing
CATEGORY = re.compile(r"^[A-Za-z-]+(?:\.[A-Za-z-]+)?$")


@dataclass(frozen=True)
class Follow:
    id: int
    user_id: int
    kind: str
    value: str
    label: str
    created_at: datetime

    @property
    def why(self) -> str:
        """How the follow reads beside a paper it matched: `author: Yann LeCun`."""
        return PREFIXES[self.kind] + self.label


@dataclass(frozen=True)
class NewFollow:
    """A follow checked and normalised, not stored yet."""

    kind: str
    value: str
    label: str

    @property
    def why(self) -> str:
        return PREFIXES[self.kind] + self.label


def clean_label(text: object) -> str:
    """The reader's text with spaces collapsed; BadParameter when blank or too long."""
    if not isinstance(text, str):
        raise BadParameter("value must be text")
    cleaned = " ".join(text.replace("\x00", " ").split())
    if not cleaned:
        raise BadParameter(
            "value is empty: give a category, an author's name, a search or an organisation"
        )
    if len(cleaned) > MAX_LABEL:
        raise BadParameter(f"value is over {MAX_LABEL} characters")
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:
        raise BadParameter("value is not valid Unicode text") from None
    return cleaned


def check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise BadParameter(f"kind must be one of {', '.join(KINDS)}, got {str(kind)[:40]!r}")
    return str(kind)


def check_category(text: str) -> str:
    """An arXiv category as typed (`cs.CL`, `hep-th`); BadParameter when it cannot be one.
    The catalog's spelling is looked up by the service (services/follows.py)."""
    if len(text) > 40 or not CATEGORY.match(text):
        raise BadParameter(f"{text[:40]!r} is not an arXiv category (like cs.CL or hep-th)")
    return text


def normalize_author(label: str) -> str:
    """`Yann  LeCun` -> `lecun, yann`; BadParameter when the text holds no name."""
    key = author_key(label)
    if key is None:
        raise BadParameter(f"{label[:40]!r} is not an author's name")
    return str(key)


def parse_author_value(value: str) -> AuthorKey:
    """A stored author value back into its key: `lecun, yann` -> AuthorKey('lecun', ('yann',))."""
    surname, _, given = value.partition(", ")
    return AuthorKey(surname, tuple(given.split()))


def normalize_organization(label: str) -> str:
    """`  NVIDIA  Research` -> `nvidia research`: case and accents do not make another one."""
    return fold(label)


def followed_query(label: str) -> ParsedQuery:
    """A search as a follow keeps it; BadParameter for one that cannot be followed (an arXiv
    id, nothing to search, too many words)."""
    query = parse_query(label)
    if query.paper_id:
        raise BadParameter("a search for one paper cannot be followed; open the paper instead")
    if query.empty:
        raise BadParameter(f"{label[:40]!r} asks for nothing to search")
    if len(set(query.words)) > MAX_SEARCH_WORDS:
        raise BadParameter(
            f"a followed search needs every one of its words; keep it to {MAX_SEARCH_WORDS}"
        )
    return query


def canonical_search(query: ParsedQuery) -> str:
    """One spelling per search, so two ways of typing it are one follow: words sorted and
    deduplicated (all are required), then phrases, exclusions, authors, categories, years.
    Parsing the result gives the same query.

    >>> canonical_search(parse_query('Diffusion  "Latent space" cat:cs.CV diffusion -survey'))
    'diffusion "latent space" -survey cat:cs.CV'
    """
    parts = sorted(set(query.words))
    parts += ['"' + " ".join(phrase) + '"' for phrase in query.phrases]
    parts += ["-" + word for word in sorted(set(query.excluded_words))]
    parts += ['-"' + " ".join(phrase) + '"' for phrase in query.excluded_phrases]
    parts += ["author:" + author for author in query.authors]
    parts += ["cat:" + category for category in dict.fromkeys(query.categories)]
    if query.years:
        first, last = query.years
        parts.append(f"year:{first}" if first == last else f"year:{first}-{last}")
    return " ".join(parts)


def with_categories(query: ParsedQuery, spelled: dict[str, str]) -> ParsedQuery:
    """The query with its `cat:` filters spelled as the catalog spells them (`cs.cv` ->
    `cs.CV`); categories `spelled` does not know stay as typed."""
    return replace(query, categories=[spelled.get(c, c) for c in query.categories])


def follows_of_paper(paper: Paper, follows: list[Follow]) -> list[Follow]:
    """The category, author and organisation follows that `paper` matches, in the order
    given (searches need the index: services/follows.py matches those)."""
    categories = set(paper.categories)
    keys = [k for k in (author_key(name) for name in paper.authors) if k is not None]
    listed = (paper.daily or {}).get("organization")
    organizations = {normalize_organization(o) for o in (paper.organization, listed) if o}
    matched = []
    for follow in follows:
        if follow.kind == "category" and follow.value in categories:
            matched.append(follow)
        elif follow.kind == "author":
            wanted = parse_author_value(follow.value)
            if any(wanted.takes(key) for key in keys):
                matched.append(follow)
        elif follow.kind == "organization" and follow.value in organizations:
            matched.append(follow)
    return matched
