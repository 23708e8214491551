"""Hugging Face `/api/daily_papers` JSON: papers plus their place on a daily list.

Pure: bytes in, PaperRecords (each with a DailyEntry) or ParseProblems out. The shape is in
shared/HF_API.md section 3: the item's top-level `publishedAt` is the day it went on the list,
`paper.publishedAt` the arXiv date.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..domain.ids import InvalidArxivId, parse_arxiv_id
from ..domain.records import DailyEntry, PaperRecord, ParseProblem
from .text import clean_optional, normalize_abstract, normalize_title, parse_iso_datetime, utc_date


class NotDailyPapersJSON(ValueError):
    """The payload is not JSON, or not an array of daily-paper items."""


def iter_daily_papers(data: bytes, where: str = "input") -> Iterator[PaperRecord | ParseProblem]:
    """Yield a PaperRecord per item (`daily` set), or a ParseProblem naming `where[index]`.

    Raises NotDailyPapersJSON when the whole payload is unusable. Example: an item with
    `paper.id` `2407.13168`, top-level `publishedAt` `2024-07-22T00:00:00.000Z` and
    `paper.upvotes` 17 gives a record listed on 2024-07-22 with 17 upvotes.
    """
    try:
        items = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotDailyPapersJSON(f"{where}: invalid JSON: {error}") from None
    if not isinstance(items, list):
        raise NotDailyPapersJSON(
            f"{where}: expected a JSON array of daily-paper items, got {type(items).__name__}"
        )
    for index, item in enumerate(items):
        label = f"{where}[{index}]"
        try:
            yield parse_daily_item(item)
        except (InvalidArxivId, ValueError, TypeError, AttributeError) as error:
            paper = item.get("paper") if isinstance(item, dict) else None
            paper_id = paper.get("id") if isinstance(paper, dict) else None
            yield ParseProblem(
                label + (f" ({paper_id})" if isinstance(paper_id, str) else ""), str(error)
            )


def parse_daily_item(item: Any) -> PaperRecord:
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise ValueError("item has no 'paper' object")
    raw_id = paper.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise ValueError("paper has no id")
    arxiv_id = parse_arxiv_id(raw_id).id
    title = normalize_title(_text(item.get("title")) or _text(paper.get("title")))
    if not title:
        raise ValueError("paper has no title")

    listed_text = item.get("publishedAt") or paper.get("submittedOnDailyAt")
    listed = parse_iso_datetime(_text(listed_text))
    if listed is None:
        raise ValueError(f"unparseable daily-list date {listed_text!r}")
    arxiv_text = paper.get("publishedAt")
    published = parse_iso_datetime(_text(arxiv_text))
    if arxiv_text and published is None:
        raise ValueError(f"unparseable paper.publishedAt {arxiv_text!r}")

    authors = []
    for author in paper.get("authors") or []:
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str) and name.strip():
            authors.append(" ".join(name.split()))
    submitter = item.get("submittedBy") or paper.get("submittedOnDailyBy") or {}
    if not isinstance(submitter, dict):
        raise ValueError("submittedBy must be an object")
    organization = item.get("organization") or paper.get("organization")
    org_name = None
    if isinstance(organization, dict):
        org_name = clean_optional(_text(organization.get("fullname") or organization.get("name")))
    upvotes = paper.get("upvotes", 0)
    if not isinstance(upvotes, int) or isinstance(upvotes, bool) or upvotes < 0:
        raise ValueError(f"upvotes must be a non-negative integer, got {upvotes!r}")
    day = utc_date(listed)
    assert day is not None
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=normalize_abstract(_text(paper.get("summary")) or _text(item.get("summary"))),
        source="hf-daily",
        authors=authors,
        published_at=published,
        organization=org_name,
        github_repo=clean_optional(_text(paper.get("githubRepo"))),
        project_page=clean_optional(_text(paper.get("projectPage"))),
        daily=DailyEntry(
            day=day,
            submitter_name=clean_optional(_text(submitter.get("fullname"))),
            submitter_username=clean_optional(
                _text(submitter.get("user") or submitter.get("name"))
            ),
            upvotes=upvotes,
            organization=org_name,
        ),
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value
