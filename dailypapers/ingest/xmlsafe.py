"""Safe, streaming XML parsing for untrusted payloads.

Refuses DOCTYPE declarations outright (no entity expansion, no external DTDs), never touches the
network, and retries once without the control characters that some feeds carry (ARXIV.md 6.2).
Errors name the line and the cause, so a log tells an operator what the server actually sent.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

from lxml import etree

log = logging.getLogger(__name__)

_DOCTYPE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CONTROL_REFS = re.compile(
    rb"&#(?:x0*[0-8bcef]|x0*1[0-9a-f]|0*[0-8]|0*1[124-9]|0*2[0-9]|0*3[01]);", re.IGNORECASE
)


class MalformedXML(ValueError):
    """The payload is not well-formed XML (truncated, an HTML error page, garbage)."""


class UnsafeXML(ValueError):
    """The payload declares a DOCTYPE or entities, which no arXiv response does."""


def describe_payload(data: bytes) -> str:
    """A short, printable hint of what a payload starts with, for error messages."""
    head = data[:120].decode("utf-8", "replace")
    return " ".join(head.split())[:80] or "(empty body)"


def iter_xml(data: bytes, tags: tuple[str, ...]) -> Iterator[etree._Element]:
    """Yield each completed element whose tag is in `tags` (Clark notation), then free it.

    Raises UnsafeXML for a DOCTYPE/ENTITY, MalformedXML (with the line) for anything lxml
    rejects after one retry with control characters removed. Callers that must not act on a
    partial document should collect everything before acting.
    """
    if _DOCTYPE.search(data):
        raise UnsafeXML("refusing XML with a DOCTYPE or ENTITY declaration")
    if not data.strip():
        raise MalformedXML("empty response body")
    try:
        yield from _iterparse(data, tags)
        return
    except etree.XMLSyntaxError as error:
        cleaned = _CONTROL_REFS.sub(b"", _CONTROL_BYTES.sub(b"", data))
        if cleaned == data:
            raise MalformedXML(_explain(error, data)) from None
        log.warning("XML had illegal control characters (%s); parsing again without them", error)
    try:
        yield from _iterparse(cleaned, tags)
    except etree.XMLSyntaxError as error:
        raise MalformedXML(_explain(error, cleaned)) from None


def _iterparse(data: bytes, tags: tuple[str, ...]) -> Iterator[etree._Element]:
    parser = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    for _event, element in parser:
        yield element
        element.clear(keep_tail=False)
        parent = element.getparent()
        while parent is not None and element.getprevious() is not None:
            del parent[0]


def _explain(error: etree.XMLSyntaxError, data: bytes) -> str:
    line = getattr(error, "lineno", None) or (error.position[0] if error.position else "?")
    message = str(error.msg if hasattr(error, "msg") and error.msg else error)
    if data.lstrip()[:1] != b"<" or re.match(rb"\s*<(?:!doctype\s+)?html", data, re.IGNORECASE):
        return f"not XML (line {line}: {message}); body starts {describe_payload(data)!r}"
    return f"malformed XML at line {line}: {message}"


def text_of(element: etree._Element | None) -> str | None:
    """The element's full text (children included), or None when the element is absent."""
    if element is None:
        return None
    return "".join(element.itertext())
