"""How the site's processes log: one line per event on stdout, as text for people or as one
JSON object a line for machines (`log_format`), every line written while a request is being
answered carrying that request's id.

The standard library's logging, not structlog: every module here (and uvicorn, alembic,
httpx) already logs through `logging.getLogger(__name__)`, so one handler and one formatter
on the root logger shape all of their lines alike; structlog would add a dependency and still
need this bridge for everyone else's lines. Structured values travel in `extra={"fields":
{...}}` and become `key=value` pairs in text or keys in JSON.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from ..config import Config

# A text value written as it is: no spaces, quotes, backslashes or control characters (else
# it is written as a JSON string). A regex: checking each character in Python cost 60 us a line.
_PLAIN = re.compile(r'[^\s"\\\x00-\x1f\x7f-\x9f]+')
REQUESTS = "dailypapers.requests"  # the logger of the one-line-per-request log
# The id of the request being answered in this task or thread (web/observe.py sets it;
# Starlette's thread pool copies it into the worker thread that runs a route).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(getattr(record, "fields", None) or {})
    current = request_id.get()
    if current is not None:
        fields.setdefault("request_id", current)
    return fields


_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def _time(record: logging.LogRecord) -> str:
    """`2026-12-03T14:00:00.123Z`; the date and time part is formatted once a second (a busy
    site logs thousands of lines in each)."""
    global _second
    second, cached = int(record.created), _second  # one read: threads may replace it
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S."))
        _second = cached
    return f"{cached[1]}{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """`2026-12-03T14:00:00.123Z INFO dailypapers.requests: GET /papers 200 3.1 ms
    method=GET route=/papers ... request_id=5f0c...`: a value with spaces, quotes or control
    characters is written as a JSON string, so a crafted path cannot forge a second line; a
    traceback follows on its own lines, as people read one."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        for key, value in _fields(record).items():
            text = str(value)
            line += f" {key}={text if _PLAIN.fullmatch(text) else json.dumps(text)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's fields, and the
    traceback as one string (newlines escaped), so a log shipper never splits an event."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(_fields(record))
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(event, default=str).decode()


def configure_logging(config: Config, stream: TextIO | None = None) -> None:
    """Send every logger's lines to `stream` (stdout) in `config.log_format`, at
    `config.log_level`; with `log_requests`, the request log speaks at INFO whatever the
    level (it is the access log, wanted while warnings alone are otherwise shown)."""
    # Neither format shows thread or process names: not looking them up for every
    # record saves a good part of a request line's cost (logging's documented switches).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if config.log_format == "json" else TextFormatter())
    logging.basicConfig(level=config.log_level, handlers=[handler], force=True)
    requests = logging.getLogger(REQUESTS)
    requests.setLevel(logging.INFO if config.log_requests else logging.WARNING)
