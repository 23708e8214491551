"""arXiv's daily announcement feeds (rss.arxiv.org, RSS 2.0 or Atom): parse a feed into
Announcements, each a PaperRecord and its announce type (ARXIV.md 3).

Pure: bytes in, an AnnouncementFeed out; fetching and writing are ingest/announcements.py's.
Parsed with lxml through ingest/xmlsafe.py like the other routes, not feedparser: no new
dependency, DOCTYPEs refused, elements matched by namespace rather than by the prefix a feed
happens to bind (feedparser keys extension elements on the prefix), and a truncated body raises
MalformedXML, which the HTTP client retries, where feedparser would hand back what it could read.

A feed carries less than OAI-PMH: no submission times, no comments, the authors as one string.
A record states only what the feed gives. The announcement day stands as the record's
datestamp, since arXiv stated this description that day: an OAI-PMH record changed earlier
is older, one changed that day or later outranks it (domain/merge.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from ..domain.ids import InvalidArxivId, parse_arxiv_id
from ..domain.records import PaperRecord, ParseProblem, VersionRecord
from .text import (
    clean_optional,
    normalize_abstract,
    normalize_title,
    parse_iso_datetime,
    parse_rfc822,
    split_authors,
    utc_date,
)
from .xmlsafe import MalformedXML, describe_payload, iter_xml, text_of

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
DC = "http://purl.org/dc/elements/1.1/"

SOURCE = "arxiv-rss"
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")

# The line arXiv puts before each abstract: "arXiv:2203.01250v3 Announce Type: replace-cross \n
# Abstract: ..." (arxiv-feed's serializer). It is no part of the abstract.
_PREFIX = re.compile(r"^\s*arXiv:(\S+)\s+Announce Type:\s*(\S+)\s*(?:Abstract:\s*)?", re.IGNORECASE)


class AnnouncementFeedError(RuntimeError):
    """arXiv answered with its error feed (an unknown category, say); `message` is arXiv's."""

    def __init__(self, query: str, message: str) -> None:
        super().__init__(f"arXiv refused the feed for {query}: {message}")
        self.query = query
        self.message = message


@dataclass(frozen=True)
class Announcement:
    """One item of a feed: what arXiv announced (`new`, `cross`, `replace`, `replace-cross`)
    and the paper as the feed describes it."""

    announce_type: str
    record: PaperRecord


@dataclass
class AnnouncementFeed:
    announcements: list[Announcement] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    items_seen: int = 0


def parse_announcements(data: bytes, where: str = "feed") -> AnnouncementFeed:
    """Parse an announcement feed, RSS 2.0 or Atom (the same items give the same records).

    Example: `rss_cs.AI_CONSTRUCTED.xml` gives 10 announcements, the first `new` for
    `2510.90002` (version 1, categories cs.AI then cs.CL, announced 2025-10-29 04:00 UTC). A feed
    without items (weekends, holidays) gives none. Raises AnnouncementFeedError for arXiv's
    error feed, MalformedXML/UnsafeXML for anything that is not a trustworthy RSS or Atom feed.
    A bad item inside a good feed becomes a ParseProblem; the others are kept.
    """
    feed = AnnouncementFeed()
    container = None
    tags = ("item", "channel", f"{{{ATOM}}}entry", f"{{{ATOM}}}feed")
    for element in iter_xml(data, tags):
        name = etree.QName(element).localname
        if name in ("item", "entry"):
            feed.items_seen += 1
            fields = _rss_fields(element) if name == "item" else _atom_fields(element)
            outcome = _announcement(fields, where)
            if isinstance(outcome, ParseProblem):
                feed.problems.append(outcome)
            else:
                feed.announcements.append(outcome)
        else:
            container = name
            if not feed.items_seen:
                _raise_if_error_feed(element, name)
    if container is None:
        raise MalformedXML(f"not an RSS or Atom feed; body starts {describe_payload(data)!r}")
    return feed


def _raise_if_error_feed(element: etree._Element, name: str) -> None:
    # The error feed is a channel (feed) without items, titled "Feed error for query: <url>",
    # with arXiv's message as the description (the Atom subtitle). Items, when there are any,
    # have already removed the channel's own elements (xmlsafe frees what it has yielded).
    ns = "" if name == "channel" else f"{{{ATOM}}}"
    title = normalize_title(text_of(element.find(f"{ns}title")))
    if not title.lower().startswith("feed error"):
        return
    query = title.partition(":")[2].strip() or "(no query)"
    message_tag = "description" if name == "channel" else f"{ns}subtitle"
    message = normalize_title(text_of(element.find(message_tag))) or "(no message)"
    raise AnnouncementFeedError(query.rsplit("/", 1)[-1], message)


@dataclass
class _Item:
    guid: str
    link: str
    title: str | None
    summary: str | None
    categories: list[str]
    announced: datetime | None
    announced_text: str | None
    announce_type: str | None
    rights: str | None
    doi: str | None
    journal_ref: str | None
    creator: str | None


def _text(element: etree._Element, tag: str) -> str | None:
    return text_of(element.find(tag))


def _common(element: etree._Element) -> dict[str, str | None]:
    return {
        "announce_type": _text(element, f"{{{ARXIV}}}announce_type"),
        "rights": _text(element, f"{{{DC}}}rights"),
        "doi": _text(element, f"{{{ARXIV}}}DOI"),
        "journal_ref": _text(element, f"{{{ARXIV}}}journal_reference"),
        "creator": _text(element, f"{{{DC}}}creator"),
    }


def _rss_fields(item: etree._Element) -> _Item:
    published = _text(item, "pubDate")
    return _Item(
        guid=(_text(item, "guid") or "").strip(),
        link=(_text(item, "link") or "").strip(),
        title=_text(item, "title"),
        summary=_text(item, "description"),
        categories=[(c.text or "").strip() for c in item.findall("category")],
        announced=parse_rfc822(published),
        announced_text=published,
        **_common(item),
    )


def _atom_fields(entry: etree._Element) -> _Item:
    published = _text(entry, f"{{{ATOM}}}published")
    link = next(
        (
            (a.get("href") or "").strip()
            for a in entry.findall(f"{{{ATOM}}}link")
            if a.get("rel", "alternate") == "alternate"
        ),
        "",
    )
    return _Item(
        guid=(_text(entry, f"{{{ATOM}}}id") or "").strip(),
        link=link,
        title=_text(entry, f"{{{ATOM}}}title"),
        summary=_text(entry, f"{{{ATOM}}}summary"),
        categories=[(c.get("term") or "").strip() for c in entry.findall(f"{{{ATOM}}}category")],
        announced=parse_iso_datetime(published),
        announced_text=published,
        **_common(entry),
    )


def _announcement(item: _Item, where: str) -> Announcement | ParseProblem:
    prefix = _PREFIX.match(item.summary or "")
    raw_id = item.guid or (prefix.group(1) if prefix else "") or item.link
    label = f"{where}: item {raw_id or '(no id)'}"
    if not raw_id:
        return ParseProblem(label, "item has no id")
    try:
        arxiv_id, version = parse_arxiv_id(raw_id)
    except InvalidArxivId as error:
        return ParseProblem(label, str(error))
    kind = (item.announce_type or (prefix.group(2) if prefix else "")).strip().lower()
    if kind not in ANNOUNCE_TYPES:
        return ParseProblem(
            label, f"unknown announce type {kind!r}" if kind else "no announce type"
        )
    title = normalize_title(item.title)
    if not title:
        return ParseProblem(label, "item has no title")
    if item.announced_text and item.announced_text.strip() and item.announced is None:
        return ParseProblem(label, f"unparseable date {item.announced_text.strip()!r}")
    if version is None and kind == "new":
        version = 1  # a new submission is its first version
    abstract = (item.summary or "")[prefix.end() :] if prefix else item.summary
    announced = item.announced
    # The announcement of a new submission is its first appearance: the best date there is
    # until OAI-PMH or the API gives v1's submission time. A replacement's announcement dates
    # the new version (the row's updated_at); a cross-list dates nothing of the paper.
    published_at = announced if kind == "new" else None
    updated_at = announced if kind != "cross" else None
    record = PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=normalize_abstract(abstract),
        source=SOURCE,
        authors=split_authors(item.creator),
        categories=list(dict.fromkeys(c for c in item.categories if c)),
        versions=[VersionRecord(version)] if version is not None else [],
        license=clean_optional(item.rights),
        journal_ref=clean_optional(item.journal_ref),
        dois=(item.doi or "").split(),
        published_at=published_at,
        updated_at=updated_at,
        datestamp=utc_date(announced),
        latest_version=version,
    )
    return Announcement(kind, record)
