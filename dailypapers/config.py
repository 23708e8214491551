"""Settings: one table, loaded once and passed down as an object.

Lookup order for each setting: `--set name=value` on the command line, the environment variable
`DAILYPAPERS_<NAME>`, the `.env` file in the working directory, the default. A bad value stops
startup with a message naming the key. Secrets print as `****`. docs/configuration.md documents
every entry (a test checks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

PREFIX = "DAILYPAPERS_"


# Tokens of title + abstract the model reads. bench/search_quality.py: 128 tokens ranked better
# than 256 on the judged queries (semantic MRR@10 0.911 against 0.860) and embeds twice as fast
# (about 40 against 21 papers/s here); all-MiniLM-L6-v2 was trained on 128-token inputs.
DEFAULT_MAX_TOKENS = 128


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the key."""


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0 or value != value:
        raise ValueError("must be a number >= 0")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be an integer >= 1")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return text


def _database_url(text: str) -> str:
    if not text.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")):
        raise ValueError("must start with sqlite:/// or postgresql://")
    return text


def _rate(text: str) -> str:
    from .ratelimit import parse_rate

    parse_rate(text)
    return text.strip()


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _secret(text: str) -> str:
    if len(text) < 32:
        raise ValueError(
            "must be at least 32 characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')"
        )
    return text


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()


SETTINGS = [
    Setting("data_dir", "data", str, "Folder for the SQLite database and local indexes"),
    Setting(
        "database_url",
        None,
        _database_url,
        "sqlite:///PATH or postgresql://...; default sqlite:///<data_dir>/dailypapers.db",
        secret=True,
    ),
    Setting("oai_endpoint", "https://oaipmh.arxiv.org/oai", _http_url, "arXiv OAI-PMH base URL"),
    Setting(
        "arxiv_api_endpoint", "https://export.arxiv.org/api/query", _http_url, "arXiv query API URL"
    ),
    Setting(
        "request_delay",
        3.0,
        _positive_float,
        "Seconds between requests to arXiv (its terms ask for 3)",
    ),
    Setting("http_timeout", 120.0, _positive_float, "Seconds before an HTTP request gives up"),
    Setting(
        "http_retries",
        6,
        _count,
        "Retries of a failed request (network error, 5xx, 429/503) before the run stops",
    ),
    Setting(
        "backoff_base",
        5.0,
        _positive_float,
        "First retry wait in seconds; doubles each retry, with jitter",
    ),
    Setting(
        "backoff_max",
        600.0,
        _positive_float,
        "Longest wait between retries, Retry-After included, in seconds",
    ),
    Setting(
        "user_agent",
        "dailypapers/0.1 (self-hosted; https://github.com/dailypapers)",
        str,
        "User-Agent sent to arXiv; put a contact address here",
    ),
    Setting("ingest_batch_size", 2000, _positive_int, "Records written per transaction"),
    Setting("log_level", "WARNING", _log_level, "DEBUG, INFO, WARNING or ERROR"),
    Setting("site_name", "Daily Papers", str, "The site's name in pages and feeds"),
    Setting(
        "base_url",
        None,
        _http_url,
        "Public URL of the site for feed links; default: taken from each request",
    ),
    Setting(
        "trending_gravity",
        1.8,
        _positive_float,
        "How fast trending scores decay with age (Hacker News uses 1.8)",
    ),
    Setting(
        "trending_offset_hours",
        2.0,
        _positive_float,
        "Hours added to a paper's age so brand-new papers do not divide by zero",
    ),
    Setting(
        "trending_window_days",
        7,
        _positive_int,
        "Days of submissions, back from the newest, that can trend",
    ),
    Setting(
        "secret_key",
        None,
        _secret,
        "Signs session cookies; default: random, kept in <data_dir>/secret_key",
        secret=True,
    ),
    Setting("cookie_secure", False, _bool, "Send the session cookie over HTTPS only"),
    Setting(
        "submission_max_age_days",
        14,
        _positive_int,
        "Only papers first published this many days ago or less can be submitted",
    ),
    Setting("submissions_per_day", 5, _positive_int, "Submissions one account may make per day"),
    Setting("rate_login", "10/minute", _rate, "Login attempts per address and per account"),
    Setting("rate_signup", "5/hour", _rate, "Sign-ups per address"),
    Setting("rate_vote", "120/minute", _rate, "Votes per account and per address"),
    Setting("rate_submit", "20/hour", _rate, "Submissions per account and per address"),
    Setting("rate_comment", "10/minute", _rate, "Comments per account and per address"),
    Setting(
        "page_cache_seconds",
        10.0,
        _positive_float,
        "How long pages for anonymous readers are reused; 0 turns the cache off",
    ),
    Setting("embedding_device", "cpu", str, "Where embeddings are computed: cpu, cuda, cuda:1"),
    Setting(
        "embedding_max_tokens",
        DEFAULT_MAX_TOKENS,
        _positive_int,
        "Tokens of title + abstract the model reads (part of the vectors' model name)",
    ),
    Setting("embedding_batch_size", 64, _positive_int, "Papers embedded per batch"),
    Setting(
        "fusion_keyword_weight",
        1.5,
        _positive_float,
        "Weight of the keyword ranking in hybrid search",
    ),
    Setting(
        "fusion_semantic_weight",
        1.0,
        _positive_float,
        "Weight of the semantic ranking in hybrid search",
    ),
    Setting("fusion_depth", 100, _positive_int, "Candidates each leg brings to the fusion"),
    Setting(
        "index_interval_seconds",
        60.0,
        _positive_float,
        "How often `serve` brings the search indexes up to date; 0 turns it off",
    ),
]
BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Value:
    value: Any
    source: str  # "flag", "env", ".env" or "default"


class Config:
    """The settings in effect. Attribute access gives values: `config.database_url`."""

    def __init__(self, values: Mapping[str, Value]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name].value
        except KeyError:
            raise AttributeError(name) from None

    def source(self, name: str) -> str:
        return self._values[name].source

    def with_overrides(self, **values: Any) -> Config:
        merged = dict(self._values)
        merged.update({k: Value(v, "flag") for k, v in values.items()})
        return Config(merged)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(name, display value, source, help) for `config show`; secrets masked."""
        out = []
        for setting in SETTINGS:
            item = self._values[setting.name]
            out.append((setting.name, display(setting, item.value), item.source, setting.help))
        return out


def display(setting: Setting, value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if not setting.secret:
        return text
    parts = urlsplit(text)
    if parts.password:
        user = parts.username or ""
        host = parts.hostname or ""
        netloc = f"{user}:****@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    if "://" in text:  # a URL without a password shows as it is
        return text
    return "****"


def load_config(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = Path(".env"),
) -> Config:
    """Resolve every setting; raise ConfigError naming the first bad key."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    dotenv: dict[str, str | None] = {}
    if env_file is not None and env_file.is_file():
        dotenv = dict(dotenv_values(env_file))
    unknown = [
        k
        for k in list(environ) + list(dotenv)
        if k.startswith(PREFIX) and k[len(PREFIX) :].lower() not in BY_NAME
    ]
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]} (see `dailypapers config show`)")

    values: dict[str, Value] = {}
    for setting in SETTINGS:
        if setting.name in flags:
            raw, source = flags[setting.name], "flag"
        elif setting.env in environ:
            raw, source = environ[setting.env], "env"
        elif dotenv.get(setting.env) is not None:
            raw, source = dotenv[setting.env], ".env"
        else:
            values[setting.name] = Value(setting.default, "default")
            continue
        try:
            value = raw if not isinstance(raw, str) else setting.parse(raw.strip())
        except (ValueError, TypeError) as error:
            where = {
                "flag": f"--set {setting.name}",
                "env": setting.env,
                ".env": f"{setting.env} in .env",
            }[source]
            raise ConfigError(f"bad value for {setting.name} ({where}={raw!r}): {error}") from None
        values[setting.name] = Value(value, source)

    if values["database_url"].value is None:
        path = Path(values["data_dir"].value).expanduser().resolve() / "dailypapers.db"
        values["database_url"] = Value(f"sqlite:///{path}", "default")
    return Config(values)
