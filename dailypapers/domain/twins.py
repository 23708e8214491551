"""Twins: a paper known under a local id (the demo's seed page, which names no arXiv ids) and
its arXiv record are one paper. This module says when two rows are twins and what the merged
paper keeps; storage/twins.py finds them and moves what hangs on the local id.

Twins have the same title key (`title_key`) and dates at most TWIN_WINDOW_DAYS apart: the local
paper's date (what its source said: the arXiv date Hugging Face showed, or the day it was
listed) against the arXiv paper's first-version date. Hugging Face lists a paper within a few
days of its submission, and a crawl may date v1 a day or three late, so a week either way
catches every twin of the demo while two different papers with the same title a week apart
stay out of reach in practice.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Any

from .merge import RECORD_FIELDS

TWIN_WINDOW_DAYS = 7

# Formatting commands whose name is not a word of the title: `\emph{Deep}` reads "Deep".
_FORMATTING = frozenset(
    [
        *("bf", "bm", "boldsymbol", "em", "emph", "ensuremath", "it", "left", "right"),
        *("mathbb", "mathbf", "mathcal", "mathfrak", "mathit", "mathrm", "mathsf", "mathtt"),
        *("operatorname", "rm", "sc", "sf", "sl", "tt", "underline"),
        *("text", "textbf", "textit", "textrm", "textsc", "textsf", "textsl", "texttt", "textup"),
    ]
)
# `\"o`, `\'{e}`, `\^o`, `\~n`, `\=a`, `\.z`: an accent on the next letter.
_SYMBOL_ACCENT = re.compile(r"\\[\"'`^~=.]")
# `\c{c}`, `\v s`, `\u{g}`, `\H{o}`, `\k{a}`, `\r{a}`: one-letter accent commands.
_LETTER_ACCENT = re.compile(r"\\[cvuHkrdb](?=[\s{])")
_COMMAND = re.compile(r"\\([A-Za-z]+)")


def _command_word(match: re.Match[str]) -> str:
    name = match.group(1)
    return " " if name in _FORMATTING else f" {name} "


def _letter(char: str) -> str:
    """A Greek letter becomes its name (`α` -> `alpha`, as `$\\alpha$` reads); others stay."""
    if "\u0370" <= char <= "\u03ff":
        name = unicodedata.name(char, "")
        if name.startswith("GREEK") and " LETTER " in name:
            return name.rsplit(" ", 1)[-1].lower()
    return char


def title_key(title: str) -> str:
    """What two titles of the same paper share: letters and digits only, lowercase, accents
    and LaTeX markup dropped, Greek letters spelt out. Spaces and punctuation go too, so
    `In-Context` and `In Context` agree. An empty key matches nothing.

    >>> title_key("Soft Injection of Task Embeddings Outperforms Prompt-Based In-Context Learning")
    'softinjectionoftaskembeddingsoutperformspromptbasedincontextlearning'
    >>> title_key("soft injection of task embeddings outperforms prompt based in context learning.")
    'softinjectionoftaskembeddingsoutperformspromptbasedincontextlearning'
    >>> title_key(r"The Schr\\"{o}dinger  Bridge") == title_key("The Schrödinger Bridge")
    True
    >>> title_key(r"\\emph{$\\alpha$-Nets}: Learning") == title_key("α-Nets: learning")
    True
    >>> title_key("Ｆｕｌｌ‐width ﬁne") == title_key("Full-width fine")
    True
    """
    text = _SYMBOL_ACCENT.sub("", title)
    text = _LETTER_ACCENT.sub("", text)
    text = _COMMAND.sub(_command_word, text)
    text = "".join(
        _letter(c)
        for c in unicodedata.normalize("NFKD", text)
        if not unicodedata.combining(c)  # the accents NFKD split off
    )
    return "".join(c for c in text.casefold() if c.isalnum())


def twin_days(day: date) -> tuple[date, date]:
    """The first and last day a twin of a paper dated `day` may have (inclusive).

    >>> twin_days(date(2025, 7, 28))
    (datetime.date(2025, 7, 21), datetime.date(2025, 8, 4))
    """
    window = timedelta(days=TWIN_WINDOW_DAYS)
    return day - window, day + window


def are_twins(local_title: str, local_day: date, arxiv_title: str, arxiv_day: date) -> bool:
    """Whether a local paper and an arXiv paper are one paper (see the module docstring).

    >>> title = "HuMo: Human-Centric Video Generation via Collaborative Multi-Modal Conditioning"
    >>> are_twins(title, date(2025, 9, 10), title.upper(), date(2025, 9, 11))
    True
    >>> are_twins(title, date(2025, 9, 10), title, date(2024, 9, 11))
    False
    """
    key = title_key(local_title)
    first, last = twin_days(local_day)
    return bool(key) and key == title_key(arxiv_title) and first <= arxiv_day <= last


_LINKS = ("github_repos", "project_pages")


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def absorb_local(arxiv_row: dict[str, Any], local_row: dict[str, Any]) -> dict[str, Any]:
    """The arXiv paper's row after its local twin joins it: the arXiv record's values win,
    the local paper fills the fields the arXiv record leaves empty (an organisation, say),
    and the code and project links of both are kept (the arXiv paper's first). Rows are
    papers rows with lists as lists; the inputs are left untouched.

    >>> arxiv = {"title": "T", "organization": None, "github_repos": ["https://github.com/a/b"],
    ...          "project_pages": [], "has_code": True, "source": "oai"}
    >>> local = {"title": "t", "organization": "Lab", "github_repos": ["https://github.com/c/d"],
    ...          "project_pages": ["https://c.io"], "has_code": True, "source": "demo"}
    >>> merged = absorb_local(arxiv, local)
    >>> merged["title"], merged["organization"], merged["source"], merged["project_pages"]
    ('T', 'Lab', 'oai', ['https://c.io'])
    >>> merged["github_repos"]
    ['https://github.com/a/b', 'https://github.com/c/d']
    """
    merged = dict(arxiv_row)
    for name, value in arxiv_row.items():
        if name in RECORD_FIELDS or name in _LINKS or name not in local_row:
            continue
        if _is_empty(value) and not _is_empty(local_row[name]):
            merged[name] = local_row[name]
    if _is_empty(arxiv_row.get("categories")):
        merged["primary_category"] = local_row.get("primary_category")
    for name in _LINKS:
        if name in arxiv_row:
            merged[name] = list(dict.fromkeys([*arxiv_row[name], *local_row.get(name, [])]))
    if "has_code" in arxiv_row:
        merged["has_code"] = bool(merged["github_repos"])
    return merged


def merge_daily_entries(arxiv_entry: dict[str, Any], local_entry: dict[str, Any]) -> dict[str, Any]:
    """One daily-list entry from the entries of two twins (daily_submissions rows, without
    their ids and `vote_count`, which storage recounts from the votes once they have moved).

    The arXiv paper's entry stays (its day, submitter and listing time), with gaps filled from
    the local one. Imported upvotes are the larger of the two, not their sum: both counted the
    same readers. Featured if either was; removed only if both were.

    >>> arxiv = {"day": date(2025, 7, 29), "submitter_name": None, "upvotes": 3,
    ...          "featured": False, "removed": False}
    >>> local = {"day": date(2025, 7, 28), "submitter_name": "Demo curator", "upvotes": 5,
    ...          "featured": True, "removed": True}
    >>> merge_daily_entries(arxiv, local)  # doctest: +NORMALIZE_WHITESPACE
    {'day': datetime.date(2025, 7, 29), 'submitter_name': 'Demo curator', 'upvotes': 5,
     'featured': True, 'removed': False}
    """
    merged = {
        name: local_entry.get(name) if value is None else value
        for name, value in arxiv_entry.items()
    }
    merged["upvotes"] = max(arxiv_entry["upvotes"], local_entry["upvotes"])
    merged["featured"] = bool(arxiv_entry["featured"] or local_entry["featured"])
    merged["removed"] = bool(arxiv_entry["removed"] and local_entry["removed"])
    return merged
