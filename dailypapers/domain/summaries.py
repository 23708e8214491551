"""AI summaries (off unless `summary_llm_url` is set; docs/summaries.md): what is asked of a
chat-completions endpoint for one paper, how its answer is read, and how long a failure waits.

The abstract is the only input: the request carries the site's prompt as the system message and
the abstract as the user message, nothing else of the paper. The answer must be a JSON object
`{"summary": "...", "keywords": [...]}` (inside a Markdown code fence is accepted, since small
models add one); anything else is refused with a reason and nothing is stored. What is kept is
plain text, never markup: pages escape it like any other text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

DEFAULT_PROMPT = (
    "You write for researchers skimming a list of new papers. Read the abstract the user "
    "sends and answer with a JSON object and nothing else: "
    '{"summary": "<two plain sentences on what the paper does and finds, no jargon>", '
    '"keywords": ["<up to five short key phrases>"]}'
)
MAX_SUMMARY_CHARS = 800  # two sentences; a longer answer is a model rambling
MAX_KEYWORDS = 5
MAX_KEYWORD_CHARS = 60
FIRST_WAIT = timedelta(minutes=30)
MAX_WAIT = timedelta(days=7)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Summary:
    """A paper's AI summary as stored: the text, its keywords and the model that wrote it."""

    text: str
    keywords: list[str]
    model: str


class BadAnswer(ValueError):
    """The endpoint answered, but not with a summary (the reason says what was wrong)."""


def abstract_digest(abstract: str) -> str:
    """What a summary was written from: a new version's changed abstract makes it due again.

    >>> abstract_digest("An abstract.") == abstract_digest("An abstract.")
    True
    """
    return hashlib.sha256(abstract.encode()).hexdigest()[:16]


def completion_request(prompt: str, abstract: str, model: str, max_tokens: int) -> dict[str, Any]:
    """The chat-completions body for one abstract (`model` omitted when empty: llama.cpp's
    server answers with the model it has loaded)."""
    body: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": prompt},
            {"role": "user", "content": abstract},
        ],
        "max_tokens": max_tokens,
        "temperature": 0.2,
        "stream": False,
    }
    if model:
        body["model"] = model
    return body


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise BadAnswer(f"{what} is not text")
    text = " ".join(_CONTROL.sub(" ", value).split())
    if not text:
        raise BadAnswer(f"{what} is empty")
    if len(text) > limit:
        raise BadAnswer(f"{what} is {len(text)} characters, over {limit}")
    return text


def read_answer(body: object, model: str) -> Summary:
    """The Summary in a chat-completions response body (already parsed JSON), or BadAnswer.

    >>> answer = {"choices": [{"message": {"content": '{"summary": "It works.", '
    ...     '"keywords": ["a", "b", "a"]}'}}], "model": "m1"}
    >>> read_answer(answer, "")
    Summary(text='It works.', keywords=['a', 'b'], model='m1')
    >>> read_answer({"choices": [{"message": {"content": "Sure! Here it is."}}]}, "")
    Traceback (most recent call last):
    ...
    dailypapers.domain.summaries.BadAnswer: the answer is not a JSON object
    """
    try:
        content = body["choices"][0]["message"]["content"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise BadAnswer("no choices[0].message.content in the response") from None
    if not isinstance(content, str):
        raise BadAnswer("the message content is not text")
    content = content.strip()
    fenced = _FENCE.match(content)
    if fenced:
        content = fenced.group(1).strip()
    try:
        found = json.loads(content)
    except ValueError:
        raise BadAnswer("the answer is not a JSON object") from None
    if not isinstance(found, dict):
        raise BadAnswer("the answer is not a JSON object")
    text = _text(found.get("summary"), "summary", MAX_SUMMARY_CHARS)
    keywords = found.get("keywords", [])
    if not isinstance(keywords, list):
        raise BadAnswer("keywords is not a list")
    kept: list[str] = []
    for keyword in keywords:
        word = _text(keyword, "a keyword", MAX_KEYWORD_CHARS)
        if word.casefold() not in (k.casefold() for k in kept):
            kept.append(word)
    answered_by = body.get("model") if isinstance(body, dict) else None
    name = answered_by if isinstance(answered_by, str) and answered_by else model
    return Summary(text, kept[:MAX_KEYWORDS], name[:200])


def retry_wait(attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a paper's summary is asked for again.

    >>> retry_wait(1), retry_wait(3), retry_wait(30)
    (datetime.timedelta(seconds=1800), datetime.timedelta(seconds=7200), datetime.timedelta(days=7))
    """
    wait: timedelta = FIRST_WAIT * 2 ** min(attempts - 1, 20)
    return min(MAX_WAIT, wait)
