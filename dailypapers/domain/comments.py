"""Comments are written in Markdown and stored with their HTML: markdown-it-py renders
(raw HTML in the source is not passed through), nh3 then keeps only an allow-list of tags and
attributes, so nothing a commenter types can run in a reader's browser."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

from .errors import BadParameter

MAX_COMMENT = 10_000

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "hr",
}


class InvalidComment(BadParameter):
    """Empty or too long; the message says which."""


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_comment(text: str) -> str:
    r"""The comment as stored: newlines normalised, control characters (NUL among them, which
    PostgreSQL text cannot hold) dropped, trimmed; InvalidComment when empty or too long.

    >>> check_comment("  Nice\x00 work\r\n")
    'Nice work'
    """
    body = _CONTROL.sub("", text.replace("\r\n", "\n")).strip()
    if not body:
        raise InvalidComment("A comment cannot be empty")
    if len(body) > MAX_COMMENT:
        raise InvalidComment(f"Comments are at most {MAX_COMMENT:,} characters")
    return body


def render_comment(text: str) -> str:
    """Markdown -> safe HTML.

    >>> render_comment("**bold** <script>x</script> [a](javascript:alert(1))")
    '<p><strong>bold</strong> &lt;script&gt;x&lt;/script&gt; [a](javascript:alert(1))</p>'
    """
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    ).strip()
