"""OAI-PMH: parse ListRecords/GetRecord pages (arXivRaw, arXiv, oai_dc) into PaperRecords.

Pure: bytes in, an OaiPage out. The harvest loop (tokens, retries, checkpoints) lives in
ingest/harvest.py. Elements are matched by namespace and name, never by position or prefix,
because the legacy and the 2025 services order and indent them differently (ARXIV.md 1.4, 6.9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from ..domain.ids import InvalidArxivId, parse_arxiv_id
from ..domain.records import PaperRecord, ParseProblem, VersionRecord
from .text import (
    clean_optional,
    normalize_abstract,
    normalize_title,
    parse_day,
    parse_iso_datetime,
    parse_rfc822,
    parse_size_kb,
    split_authors,
)
from .xmlsafe import MalformedXML, describe_payload, iter_xml, text_of

OAI = "http://www.openarchives.org/OAI/2.0/"
RAW = "http://arxiv.org/OAI/arXivRaw/"
ARXIV = "http://arxiv.org/OAI/arXiv/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"

# OAI-PMH error codes that mean "nothing to harvest here", not a failure.
EMPTY_RESULT_CODES = {"noRecordsMatch"}


@dataclass
class OaiPage:
    """One OAI-PMH response: its records, the records skipped, and how to go on.

    `resumption_token` is None on the last page (absent or empty element). `error_code` holds
    an OAI `<error code=...>` (errors come with HTTP 200).
    """

    records: list[PaperRecord] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    resumption_token: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    last_datestamp: date | None = None


def parse_oai_page(data: bytes, where: str = "response") -> OaiPage:
    """Parse an OAI-PMH page.

    Raises MalformedXML/UnsafeXML when the page as a whole cannot be trusted (truncated, HTML,
    not OAI-PMH); a bad record inside a good page becomes a ParseProblem and the rest are kept.
    Example: the 2025 fixture `listrecords_arxivraw_page1_resumptiontoken.xml` gives 10 records
    and a token beginning `verb%3DListRecords`.
    """
    page = OaiPage()
    saw_root = False
    tags = (f"{{{OAI}}}record", f"{{{OAI}}}error", f"{{{OAI}}}resumptionToken", f"{{{OAI}}}OAI-PMH")
    for element in iter_xml(data, tags):
        tag = etree.QName(element).localname
        if tag == "record":
            outcome = parse_oai_record(element, where)
            if isinstance(outcome, ParseProblem):
                page.problems.append(outcome)
            else:
                page.records.append(outcome)
                if outcome.datestamp and (
                    page.last_datestamp is None or outcome.datestamp > page.last_datestamp
                ):
                    page.last_datestamp = outcome.datestamp
        elif tag == "error":
            page.error_code = element.get("code") or "unknown"
            page.error_message = " ".join((element.text or "").split())
        elif tag == "resumptionToken":
            token = (element.text or "").strip()
            page.resumption_token = token or None
        elif tag == "OAI-PMH":
            saw_root = True
    if not saw_root:
        raise MalformedXML(f"not an OAI-PMH response; body starts {describe_payload(data)!r}")
    return page


def parse_oai_record(record: etree._Element, where: str) -> PaperRecord | ParseProblem:
    """One `<record>`: header plus arXivRaw, arXiv or oai_dc metadata."""
    header = record.find(f"{{{OAI}}}header")
    identifier = (
        text_of(header.find(f"{{{OAI}}}identifier")) if header is not None else None
    ) or ""
    label = f"{where}: record {identifier.strip() or '(no identifier)'}"
    datestamp_text = text_of(header.find(f"{{{OAI}}}datestamp")) if header is not None else None
    datestamp = parse_day(datestamp_text)
    if datestamp_text and datestamp is None:
        return ParseProblem(label, f"unparseable datestamp {datestamp_text.strip()!r}")

    if header is not None and header.get("status") == "deleted":
        try:
            arxiv_id = parse_arxiv_id(identifier).id
        except InvalidArxivId as error:
            return ParseProblem(label, str(error))
        return PaperRecord(arxiv_id, "", "", source="oai", datestamp=datestamp, deleted=True)

    metadata = record.find(f"{{{OAI}}}metadata")
    body = next(iter(metadata), None) if metadata is not None else None
    if body is None:
        return ParseProblem(label, "record has no metadata")
    qname = etree.QName(body)
    try:
        if qname.namespace == RAW:
            paper = _from_arxiv_raw(body)
        elif qname.namespace == ARXIV:
            paper = _from_arxiv(body)
        elif qname.namespace == OAI_DC:
            paper = _from_oai_dc(body, identifier)
        else:
            return ParseProblem(label, f"unsupported metadata format {qname.localname!r}")
    except (InvalidArxivId, ValueError) as error:
        return ParseProblem(label, str(error))
    paper.datestamp = datestamp
    return paper


def _child(body: etree._Element, ns: str, name: str) -> str | None:
    return text_of(body.find(f"{{{ns}}}{name}"))


def _require_id_and_title(raw_id: str | None, raw_title: str | None) -> tuple[str, str]:
    if not raw_id or not raw_id.strip():
        raise ValueError("record has no arXiv id")
    arxiv_id = parse_arxiv_id(raw_id).id
    title = normalize_title(raw_title)
    if not title:
        raise ValueError("record has no title")
    return arxiv_id, title


def _from_arxiv_raw(body: etree._Element) -> PaperRecord:
    arxiv_id, title = _require_id_and_title(_child(body, RAW, "id"), _child(body, RAW, "title"))
    versions = []
    for element in body.findall(f"{{{RAW}}}version"):
        label = (element.get("version") or "").strip().lower()
        if not label.startswith("v") or not label[1:].isdigit() or int(label[1:]) < 1:
            raise ValueError(f"bad version label {label!r}")
        date_text = _child(element, RAW, "date")
        submitted = parse_rfc822(date_text)
        if date_text and submitted is None:
            raise ValueError(f"unparseable date {date_text.strip()!r} for {label}")
        size = parse_size_kb(_child(element, RAW, "size"))
        source_type = clean_optional(_child(element, RAW, "source_type"))
        withdrawn = size == 0 or "I" in (source_type or "")
        versions.append(VersionRecord(int(label[1:]), submitted, size, source_type, withdrawn))
    versions.sort(key=lambda v: v.version)
    categories = (_child(body, RAW, "categories") or "").split()
    dated = [v.submitted_at for v in versions if v.submitted_at]
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=normalize_abstract(_child(body, RAW, "abstract")),
        source="oai",
        authors=split_authors(_child(body, RAW, "authors")),
        categories=categories,
        versions=versions,
        submitter=clean_optional(_child(body, RAW, "submitter")),
        comments=clean_optional(_child(body, RAW, "comments")),
        journal_ref=clean_optional(_child(body, RAW, "journal-ref")),
        report_no=clean_optional(_child(body, RAW, "report-no")),
        license=clean_optional(_child(body, RAW, "license")),
        dois=(_child(body, RAW, "doi") or "").split(),
        published_at=versions[0].submitted_at if versions else None,
        updated_at=max(dated) if dated else None,
        latest_version=versions[-1].version if versions else None,
    )


def _from_arxiv(body: etree._Element) -> PaperRecord:
    # The `arXiv` format has no version list, and its <created> means v1 in the legacy service
    # but the current version in the 2025 one, so it is kept as a hint only (ARXIV.md 1.4).
    arxiv_id, title = _require_id_and_title(_child(body, ARXIV, "id"), _child(body, ARXIV, "title"))
    authors = []
    for author in body.iterfind(f"{{{ARXIV}}}authors/{{{ARXIV}}}author"):
        parts = [
            _child(author, ARXIV, "forenames"),
            _child(author, ARXIV, "keyname"),
            _child(author, ARXIV, "suffix"),
        ]
        name = " ".join(" ".join(p.split()) for p in parts if p and p.strip())
        if name and name.strip(" :"):
            authors.extend(split_authors(name))
    created = parse_iso_datetime(_child(body, ARXIV, "created"))
    updated = parse_iso_datetime(_child(body, ARXIV, "updated"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=normalize_abstract(_child(body, ARXIV, "abstract")),
        source="oai",
        authors=authors,
        categories=(_child(body, ARXIV, "categories") or "").split(),
        comments=clean_optional(_child(body, ARXIV, "comments")),
        journal_ref=clean_optional(_child(body, ARXIV, "journal-ref")),
        report_no=clean_optional(_child(body, ARXIV, "report-no")),
        license=clean_optional(_child(body, ARXIV, "license")),
        dois=(_child(body, ARXIV, "doi") or "").split(),
        published_at=created if updated else None,
        updated_at=updated or created,
    )


def _from_oai_dc(body: etree._Element, identifier: str) -> PaperRecord:
    # oai_dc carries category names rather than codes and no versions: a last resort.
    arxiv_id, title = _require_id_and_title(identifier, _child(body, DC, "title"))
    authors = []
    for creator in body.findall(f"{{{DC}}}creator"):
        keyname, _, forenames = (creator.text or "").partition(",")
        authors.append(" ".join(f"{forenames.strip()} {keyname.strip()}".split()))
    descriptions = [text_of(d) or "" for d in body.findall(f"{{{DC}}}description")]
    comments = None
    if len(descriptions) > 1:
        comments = clean_optional(descriptions[1].removeprefix("Comment:"))
    dates = [parse_iso_datetime(d.text) for d in body.findall(f"{{{DC}}}date")]
    dates_known = [d for d in dates if d]
    dois = [
        (i.text or "").strip()[4:]
        for i in body.findall(f"{{{DC}}}identifier")
        if (i.text or "").strip().lower().startswith("doi:")
    ]
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=normalize_abstract(descriptions[0] if descriptions else ""),
        source="oai",
        authors=[a for a in authors if a],
        comments=comments,
        dois=dois,
        published_at=dates_known[0] if dates_known else None,
        updated_at=dates_known[-1] if dates_known else None,
    )
