"""The search box's query language, parsed forgivingly: anything a person can type gives a
query, never an error.

    attention heads "long document" -survey author:Beltagy cat:cs.CL year:2020 id:2004.05150

Plain words; "exact phrases"; -word and -"phrase" exclusions; `author:`, `cat:`, `year:` (a
year or a range `2019-2021`) and `id:` (an arXiv id or URL, which jumps to the paper; a bare
arXiv id or URL typed alone does the same). Unbalanced quotes close at the end; operators
(AND/OR/NOT), brackets, `*`, stray colons and emoji are read as text; input is cut at
MAX_QUERY characters and long inputs (a pasted abstract) are flagged for the semantic leg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .ids import InvalidArxivId, parse_arxiv_id
from .papers import NO_FILTER, PaperFilter

MAX_QUERY = 10_000
LONG_QUERY_WORDS = 40  # beyond this the text is a passage, not a query
_TOKEN = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))', re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)
_YEARS = re.compile(r"^(\d{4})(?:-(\d{4}))?$")


@dataclass
class ParsedQuery:
    """What a search string asks for. `words` and `phrases` are lowercase word lists."""

    text: str
    words: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    excluded_words: list[str] = field(default_factory=list)
    excluded_phrases: list[list[str]] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    years: tuple[int, int] | None = None
    paper_id: str | None = None
    long: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.words
            or self.phrases
            or self.authors
            or self.categories
            or self.years
            or self.paper_id
        )

    def filter(self, also: PaperFilter = NO_FILTER) -> PaperFilter:
        """The query's own filters (cat:, year:) with those a page adds: categories from
        either, the query's years (else the page's), code and a publication window when the
        page asks for them.

        >>> parse_query("cat:cs.CL year:2020 bert").filter(PaperFilter(("cs.LG",), None, True))
        PaperFilter(categories=('cs.CL', 'cs.LG'), years=(2020, 2020), has_code=True, published=None)
        """
        return PaperFilter(
            tuple(dict.fromkeys([*self.categories, *also.categories])),
            self.years or also.years,
            also.has_code,
            also.published,
        )


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def parse_query(text: str) -> ParsedQuery:
    """Parse a search string. Never raises.

    >>> q = parse_query('sparse attention "long documents" -survey author:Beltagy year:2020')
    >>> q.words, q.phrases, q.excluded_words, q.authors, q.years
    (['sparse', 'attention'], [['long', 'documents']], ['survey'], ['beltagy'], (2020, 2020))
    """
    if not isinstance(text, str):
        text = ""
    text = text[:MAX_QUERY].replace("\x00", " ")
    query = ParsedQuery(text=text)
    stripped = text.strip()
    if stripped and " " not in stripped:
        try:
            query.paper_id = parse_arxiv_id(stripped).id
            return query
        except InvalidArxivId:
            pass
    for match in _TOKEN.finditer(text):
        negated, prefix, quoted, bare = match.groups()
        prefix = (prefix or "").lower()
        value = quoted if quoted is not None else (bare or "")
        if prefix == "id":
            try:
                query.paper_id = parse_arxiv_id(value).id
            except InvalidArxivId:
                query.words += _words(value)
            continue
        if prefix in ("author", "au") and not negated:
            query.authors += _words(value)
            continue
        if (
            prefix in ("cat", "category")
            and not negated
            and re.fullmatch(r"[A-Za-z-]+(?:\.[A-Za-z-]+)?", value)
        ):
            query.categories.append(value)
            continue
        if prefix == "year" and not negated and (years := _YEARS.match(value)):
            first, last = int(years.group(1)), int(years.group(2) or years.group(1))
            query.years = (min(first, last), max(first, last))
            continue
        if prefix:  # an unknown prefix is part of the text: "note:" means the words
            value = f"{prefix} {value}"
        tokens = _words(value)
        if not tokens:
            continue
        if quoted is not None and len(tokens) > 1:
            (query.excluded_phrases if negated else query.phrases).append(tokens)
        elif negated:
            query.excluded_words += tokens
        else:
            query.words += tokens
    query.long = len(query.words) > LONG_QUERY_WORDS
    return query
