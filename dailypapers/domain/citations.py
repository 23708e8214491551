"""Papers as citations: BibTeX (written with bibtexparser 2) and CSL-JSON (what Zotero and
citeproc read), for exporting a library. Pure: papers in, text or JSON-ready lists out.

BibTeX entries are `@misc` with biblatex's and natbib's arXiv fields (`eprint`,
`archivePrefix`, `primaryClass`), so both styles cite them as preprints, and reading the file
back (ingest/references.py) finds each paper by its eprint. Text stays UTF-8 as arXiv has it
(biber reads it; classic BibTeX needs `\\usepackage[utf8]{inputenc}`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from bibtexparser import model as bibtex
from bibtexparser.entrypoint import write_string
from bibtexparser.library import Library
from bibtexparser.writer import BibtexFormat

from .papers import Paper

# Lower-case name particles that belong to the family name ("Ludwig van Beethoven").
_PARTICLES = frozenset(
    ["van", "von", "de", "der", "den", "del", "della", "di", "da", "du", "la", "le", "dos"]
    + ["das", "ter", "ten", "zu", "af", "al", "el", "bin", "ibn"]
)
_SUFFIXES = frozenset(["jr", "jr.", "sr", "sr.", "ii", "iii", "iv"])
_STOPWORDS = frozenset(["a", "an", "the", "on", "of", "for", "in", "to", "and", "with", "from"])


def split_name(name: str) -> dict[str, str]:
    """An author as arXiv writes it ("Given Family") in CSL's parts: the family name is the
    last word with any lower-case particles before it; a name of one word is `literal`.

    >>> split_name("Ludwig van Beethoven")
    {'family': 'van Beethoven', 'given': 'Ludwig'}
    >>> split_name("Martin Luther King Jr.")
    {'family': 'King', 'given': 'Martin Luther', 'suffix': 'Jr.'}
    >>> split_name("ATLAS Collaboration"), split_name("Prince")
    ({'family': 'Collaboration', 'given': 'ATLAS'}, {'literal': 'Prince'})
    """
    words = name.split()
    suffix = None
    if len(words) > 2 and words[-1].lower() in _SUFFIXES:
        suffix = words.pop()
    if len(words) < 2:
        return {"literal": name.strip()}
    start = len(words) - 1
    while start > 1 and words[start - 1] in _PARTICLES:
        start -= 1
    parts = {"family": " ".join(words[start:]), "given": " ".join(words[:start])}
    if suffix:
        parts["suffix"] = suffix
    return parts


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()


def _citation_key(paper: Paper, taken: set[str]) -> str:
    """`surname` + year + first word of the title that says something, unique in `taken`."""
    surname = ""
    if paper.authors:
        parts = split_name(paper.authors[0])
        surname = _ascii_word(parts.get("family") or parts.get("literal", ""))
    year = str(paper.published_at.year) if paper.published_at else ""
    words = [_ascii_word(w) for w in re.split(r"[\s\-:]+", paper.title)]
    word = next((w for w in words if w and w not in _STOPWORDS), "")
    base = f"{surname}{year}{word}" or _ascii_word(paper.arxiv_id) or "paper"
    key, suffix = base, 0
    while key in taken:
        suffix += 1
        key = base + _letters(suffix)
    taken.add(key)
    return key


def _letters(number: int) -> str:
    """1 -> a, 26 -> z, 27 -> aa: the suffix of a repeated key."""
    out = ""
    while number:
        number, rest = divmod(number - 1, 26)
        out = chr(ord("a") + rest) + out
    return out


def _balanced(text: str) -> str:
    """`text` as a braced BibTeX value: LaTeX's literal braces spelt as commands (BibTeX
    counts `\\{` as a brace, bibtexparser does not), other braces dropped when they do not pair
    up, no backslash left at the end (it would escape the closing brace), whitespace collapsed.

    >>> print(_balanced("Sets \\\\{x\\\\} in {BERT} and \\\\Euclid\\\\"))
    Sets \\textbraceleft{}x\\textbraceright{} in {BERT} and \\Euclid
    >>> _balanced("An {unpaired brace")
    'An unpaired brace'
    """
    text = text.replace("\\{", "\\textbraceleft{}").replace("\\}", "\\textbraceright{}")
    text = text.rstrip().rstrip("\\")
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        text = text.replace("{", "").replace("}", "")
    return " ".join(text.split())


def _bibtex_author(name: str) -> str:
    """A name as BibTeX reads it ("Given Family" works as it stands); one that holds " and "
    or a comma is braced whole so it stays one person."""
    name = _balanced(name)
    if " and " in f" {name} " or "," in name:
        return "{" + name + "}"
    return name


def to_bibtex(papers: Sequence[Paper], page_url: Callable[[str], str]) -> str:
    """BibTeX for `papers`, in their order; `page_url(id)` links a paper that is not on arXiv
    (a local paper) to its page here. An empty list gives an empty string."""
    library = Library()
    taken: set[str] = set()
    for paper in papers:
        fields = [bibtex.Field("title", _balanced(paper.title))]
        if paper.authors:
            names = " and ".join(_bibtex_author(a) for a in paper.authors)
            fields.append(bibtex.Field("author", names))
        if paper.published_at:
            fields.append(bibtex.Field("year", str(paper.published_at.year)))
        if paper.is_local:
            fields.append(bibtex.Field("url", page_url(paper.arxiv_id)))
        else:
            fields.append(bibtex.Field("eprint", paper.arxiv_id))
            fields.append(bibtex.Field("archivePrefix", "arXiv"))
            if paper.primary_category:
                fields.append(bibtex.Field("primaryClass", paper.primary_category))
            fields.append(bibtex.Field("url", f"https://arxiv.org/abs/{paper.arxiv_id}"))
        doi = paper.dois[0] if paper.dois else None
        if doi is None and not paper.is_local:
            doi = f"10.48550/arXiv.{paper.arxiv_id}"
        if doi:
            fields.append(bibtex.Field("doi", _balanced(doi)))
        if paper.journal_ref:
            fields.append(bibtex.Field("note", _balanced(paper.journal_ref)))
        library.add(bibtex.Entry("misc", _citation_key(paper, taken), fields))
    style = BibtexFormat()  # type: ignore[no-untyped-call]
    style.indent = "  "
    style.block_separator = "\n"
    return write_string(library, bibtex_format=style)


def to_csl_json(papers: Sequence[Paper], page_url: Callable[[str], str]) -> list[dict[str, Any]]:
    """CSL-JSON items for `papers`, in their order: arXiv papers as Zotero describes a
    preprint (`type` "article", `number` "arXiv:ID", `publisher` "arXiv")."""
    items = []
    taken: set[str] = set()
    for paper in papers:
        item: dict[str, Any] = {
            "id": _citation_key(paper, taken),
            "type": "article",
            "title": paper.title,
            "author": [split_name(a) for a in paper.authors],
        }
        if paper.published_at:
            day = paper.published_at
            item["issued"] = {"date-parts": [[day.year, day.month, day.day]]}
        if paper.abstract:
            item["abstract"] = paper.abstract
        if paper.is_local:
            item["URL"] = page_url(paper.arxiv_id)
        else:
            item.update(
                URL=f"https://arxiv.org/abs/{paper.arxiv_id}",
                number=f"arXiv:{paper.arxiv_id}",
                publisher="arXiv",
                DOI=paper.dois[0] if paper.dois else f"10.48550/arXiv.{paper.arxiv_id}",
            )
        if paper.categories:
            item["keyword"] = ", ".join(paper.categories)
        items.append(item)
    return items
