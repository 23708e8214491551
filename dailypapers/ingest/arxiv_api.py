"""The arXiv query API (Atom 1.0): parse a result page into PaperRecords.

Pure: bytes in, an ApiPage out; paging and politeness live in ingest/harvest.py. Both real
dialects are handled (legacy per-element namespaces and hard wraps; 2026 single-line text).
The API names only the returned version: v1's date is `<published>`, the current one's
`<updated>`, so the version list it yields is partial and merged with what the store has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from ..domain.ids import InvalidArxivId, parse_arxiv_id
from ..domain.records import PaperRecord, ParseProblem, VersionRecord
from .text import clean_optional, normalize_abstract, normalize_title, parse_iso_datetime
from .xmlsafe import MalformedXML, describe_payload, iter_xml, text_of

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"

# arXiv category codes (`cs.CL`, `hep-th`, `math-ph`); the API also lists ACM and MSC classes.
_CATEGORY = re.compile(r"^[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]{2,}(?:-[a-z]+)?)?$")


class ArxivApiError(RuntimeError):
    """The API answered with its error feed (an `<entry>` titled `Error`)."""


@dataclass
class ApiPage:
    records: list[PaperRecord] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    total_results: int | None = None
    start_index: int | None = None
    entries_seen: int = 0


def parse_api_feed(data: bytes, where: str = "response") -> ApiPage:
    """Parse an arXiv API Atom feed.

    Raises ArxivApiError for the API's error feed, MalformedXML/UnsafeXML for anything that
    is not a trustworthy Atom feed. Example: `2026_id_list_2104.12255v1_versioned.xml` gives one
    record, id `2104.12255`, latest_version 1, primary category `cs.CR`.
    """
    page = ApiPage()
    saw_feed = False
    tags = (
        f"{{{ATOM}}}entry",
        f"{{{OPENSEARCH}}}totalResults",
        f"{{{OPENSEARCH}}}startIndex",
        f"{{{ATOM}}}feed",
    )
    for element in iter_xml(data, tags):
        name = etree.QName(element).localname
        if name == "entry":
            page.entries_seen += 1
            outcome = _parse_entry(element, where)
            if isinstance(outcome, ParseProblem):
                page.problems.append(outcome)
            else:
                page.records.append(outcome)
        elif name == "totalResults":
            page.total_results = _int(element.text)
        elif name == "startIndex":
            page.start_index = _int(element.text)
        elif name == "feed":
            saw_feed = True
    if not saw_feed:
        raise MalformedXML(f"not an Atom feed; body starts {describe_payload(data)!r}")
    return page


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _parse_entry(entry: etree._Element, where: str) -> PaperRecord | ParseProblem:
    raw_id = (text_of(entry.find(f"{{{ATOM}}}id")) or "").strip()
    title = normalize_title(text_of(entry.find(f"{{{ATOM}}}title")))
    if "/api/errors" in raw_id or (title == "Error" and "arxiv.org/abs/" not in raw_id):
        message = normalize_title(text_of(entry.find(f"{{{ATOM}}}summary"))) or raw_id
        raise ArxivApiError(f"arXiv API error: {message}")
    label = f"{where}: entry {raw_id or '(no id)'}"
    if not raw_id:
        return ParseProblem(label, "entry has no id")
    try:
        arxiv_id, version = parse_arxiv_id(raw_id)
    except InvalidArxivId as error:
        return ParseProblem(label, str(error))
    if not title:
        return ParseProblem(label, "entry has no title")
    published_text = text_of(entry.find(f"{{{ATOM}}}published"))
    updated_text = text_of(entry.find(f"{{{ATOM}}}updated"))
    published = parse_iso_datetime(published_text)
    updated = parse_iso_datetime(updated_text)
    for text, value in ((published_text, published), (updated_text, updated)):
        if text and text.strip() and value is None:
            return ParseProblem(label, f"unparseable date {text.strip()!r}")

    primary = entry.find(f"{{{ARXIV}}}primary_category")
    categories = [primary.get("term", "")] if primary is not None else []
    for category in entry.findall(f"{{{ATOM}}}category"):
        term = (category.get("term") or "").strip()
        if _CATEGORY.match(term) and term not in categories:
            categories.append(term)
    categories = [c for c in categories if c]

    versions = []
    if version is not None:
        if version > 1:
            versions.append(VersionRecord(1, published))
        versions.append(VersionRecord(version, updated if version > 1 else published))
    authors = [
        " ".join((text_of(a.find(f"{{{ATOM}}}name")) or "").split())
        for a in entry.findall(f"{{{ATOM}}}author")
    ]
    doi = text_of(entry.find(f"{{{ARXIV}}}doi"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=normalize_abstract(text_of(entry.find(f"{{{ATOM}}}summary"))),
        source="arxiv-api",
        authors=[a for a in authors if a],
        categories=categories,
        versions=versions,
        comments=clean_optional(text_of(entry.find(f"{{{ARXIV}}}comment"))),
        journal_ref=clean_optional(text_of(entry.find(f"{{{ARXIV}}}journal_ref"))),
        dois=(doi or "").split(),
        published_at=published,
        updated_at=updated,
        latest_version=version,
    )
