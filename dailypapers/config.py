"""Settings: one table, loaded once and passed down as a typed object.

Lookup order for each setting: `--set name=value` on the command line, the environment variable
`DAILYPAPERS_<NAME>`, the `.env` file in the working directory, the default. Wherever a value
may be given, `DAILYPAPERS_<NAME>_FILE=path` may name a file holding it instead (a Docker or
systemd secret), unless `<name>_file` is itself a setting. A bad value stops startup with a
message naming the key. Secrets print as `****`. docs/configuration.md documents every entry
(a test checks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from .domain.summaries import DEFAULT_PROMPT as DEFAULT_SUMMARY_PROMPT

PREFIX = "DAILYPAPERS_"
T = TypeVar("T")


# Tokens of title + abstract the model reads. bench/search_quality.py: 128 tokens ranked better
# than 256 on the judged queries (semantic MRR@10 0.911 against 0.860) and embeds twice as fast
# (about 40 against 21 papers/s here); all-MiniLM-L6-v2 was trained on 128-token inputs.
DEFAULT_MAX_TOKENS = 128
# Hybrid search's share of the keyword score (search/hybrid.py) for queries of up to 20 words
# and for longer ones (a pasted abstract), chosen on the tune half of the independent queries at
# 5k and 72k papers (bench/fusion.py; docs/search.md).
FUSION_KEYWORD_SHARE = 0.3
FUSION_KEYWORD_SHARE_LONG = 0.4


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the key."""


def _positive_float(text: str) -> float:
    value = float(text)
    if value < 0 or value != value:
        raise ValueError("must be a number >= 0")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be a number from 0 to 1")
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


def _optional_http_url(text: str) -> str:
    return _http_url(text) if text else ""


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _database_url(text: str) -> str:
    if not text.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")):
        raise ValueError("must start with sqlite:/// or postgresql://")
    return text


def _rate(text: str) -> str:
    from .ratelimit import parse_rate

    parse_rate(text)
    return text.strip()


def _proxies(text: str) -> str:
    """`10.0.0.1, 10.1.0.0/16` -> `10.0.0.1,10.1.0.0/16`: addresses or networks, comma-
    separated; `*` alone trusts every peer; empty trusts none."""
    import ipaddress

    items = [item.strip() for item in text.split(",")] if text.strip() else []
    if items == ["*"]:
        return "*"
    for item in items:
        try:
            ipaddress.ip_network(item) if "/" in item else ipaddress.ip_address(item)
        except ValueError:
            raise ValueError(
                f"{item!r} is not an IP address or network (or give * alone, or nothing)"
            ) from None
    return ",".join(items)


def _embedding_backend(text: str) -> str:
    backend = text.strip().lower()
    if backend not in ("onnx", "torch"):
        raise ValueError("must be onnx or torch")
    return backend


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


def _smtp_security(text: str) -> str:
    mode = text.strip().lower()
    if mode not in ("starttls", "tls", "none"):
        raise ValueError("must be starttls, tls or none")
    return mode


def _mail_address(text: str) -> str:
    """`papers@example.org`, or empty (no mail): one @, a dot in the domain, no spaces."""
    address = text.strip()
    if address and (
        address.count("@") != 1 or "." not in address.rpartition("@")[2] or " " in address
    ):
        raise ValueError("must be an email address like papers@example.org")
    return address


def _hour(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 23:
        raise ValueError("must be an hour from 0 to 23")
    return value


def _log_format(text: str) -> str:
    value = text.strip().lower()
    if value not in ("text", "json"):
        raise ValueError("must be text or json")
    return value


def _header_name(text: str) -> str:
    """`X-Request-ID` -> `x-request-id` (ASGI gives header names in lower case), or empty."""
    import re

    name = text.strip().lower()
    if name and not re.fullmatch(r"[a-z0-9!#$%&'*+.^_`|~-]+", name):
        raise ValueError("must be an HTTP header name like X-Request-ID, or empty")
    return name


def _schedule(text: str) -> str:
    from .domain.schedules import check_schedule

    return check_schedule(text)


def _interval(text: str) -> int:
    """A schedule in seconds only (no daily time, not off): how often a check runs."""
    from .domain.schedules import parse_schedule

    found = parse_schedule(text)
    if found is None or found.offset or not text.strip().isdigit():
        raise ValueError("must be seconds that divide a minute, an hour or a day (like 30)")
    return found.seconds


def _oai_sets(text: str) -> str:
    """`cs, physics:hep-th` -> `cs,physics:hep-th`: OAI-PMH set specs, comma-separated."""
    import re

    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        if not re.fullmatch(r"[a-z][a-z-]*(:[A-Za-z][A-Za-z.-]*)*", item):
            raise ValueError(f"{item!r} is not an OAI-PMH set like cs or physics:hep-th")
    return ",".join(dict.fromkeys(items))


def _rss_categories(text: str) -> str:
    """`cs.AI, cs.CL` -> `cs.AI cs.CL`: arXiv categories or archives for the announcement
    feeds; empty is off."""
    from .ingest.announcements import check_categories

    return " ".join(check_categories(text)) if text.strip() else ""


def setting(default: T, parse: Callable[[str], T], help: str, *, secret: bool = False) -> T:
    """One row of the table: a `Config` field whose default and parser must agree with the
    field's declared type (mypy checks both). `parse` turns the text of a flag, env var or
    .env line into the value, raising ValueError with a reason; `secret` masks it in `config
    show`."""
    return field(default=default, metadata={"parse": parse, "help": help, "secret": secret})


@dataclass(frozen=True, repr=False)
class Config:
    """The settings in effect, one typed attribute each: `config.database_url`.

    This class body is the settings table: each field is one setting with its type, default,
    parser, help line and secret flag, so `config.fusion_depth` is an `int` to mypy and a
    misspelled name fails type-checking. SETTINGS lists the same fields for the CLI and the
    docs. Build one with `load_config`; `Config()` alone gives every default."""

    data_dir: str = setting("data", str, "Folder for the SQLite database and local indexes")
    # "" stands for the default, which depends on data_dir: __post_init__ fills it in.
    database_url: str = setting(
        "",
        _database_url,
        "sqlite:///PATH or postgresql://...; default sqlite:///<data_dir>/dailypapers.db",
        secret=True,
    )
    oai_endpoint: str = setting("https://oaipmh.arxiv.org/oai", _http_url, "arXiv OAI-PMH base URL")
    arxiv_api_endpoint: str = setting(
        "https://export.arxiv.org/api/query", _http_url, "arXiv query API URL"
    )
    arxiv_rss_endpoint: str = setting(
        "https://rss.arxiv.org/rss",
        _http_url,
        "arXiv announcement feeds; categories are appended: <url>/cs.AI+cs.CL",
    )
    request_delay: float = setting(
        3.0, _positive_float, "Seconds between requests to arXiv (its terms ask for 3)"
    )
    http_timeout: float = setting(120.0, _positive_float, "Seconds before an HTTP request gives up")
    http_retries: int = setting(
        6, _count, "Retries of a failed request (network error, 5xx, 429/503) before the run stops"
    )
    backoff_base: float = setting(
        5.0, _positive_float, "First retry wait in seconds; doubles each retry, with jitter"
    )
    backoff_max: float = setting(
        600.0, _positive_float, "Longest wait between retries, Retry-After included, in seconds"
    )
    user_agent: str = setting(
        "dailypapers/0.1 (self-hosted; https://github.com/dailypapers)",
        str,
        "User-Agent sent to arXiv; put a contact address here",
    )
    ingest_batch_size: int = setting(2000, _positive_int, "Records written per transaction")
    log_level: str = setting("WARNING", _log_level, "DEBUG, INFO, WARNING or ERROR")
    site_name: str = setting("Daily Papers", str, "The site's name in pages and feeds")
    base_url: str | None = setting(
        None, _http_url, "Public URL of the site for feed links; default: taken from each request"
    )
    trending_gravity: float = setting(
        1.8, _positive_float, "How fast trending scores decay with age (Hacker News uses 1.8)"
    )
    trending_offset_hours: float = setting(
        2.0,
        _positive_float,
        "Hours added to a paper's age so brand-new papers do not divide by zero",
    )
    trending_window_days: int = setting(
        7, _positive_int, "Days of submissions, back from the newest, that can trend"
    )
    for_you_days: int = setting(
        7, _positive_int, "Days of published papers, back from the newest, that For you ranks"
    )
    secret_key: str | None = setting(
        None,
        _secret,
        "Signs session cookies; default: random, kept in <data_dir>/secret_key",
        secret=True,
    )
    cookie_secure: bool = setting(False, _bool, "Send the session cookie over HTTPS only")
    trusted_proxies: str = setting(
        "",
        _proxies,
        "Proxies whose X-Forwarded-For/-Proto are believed: IPs or networks, comma-separated, "
        "or *; empty: none",
    )
    submission_max_age_days: int = setting(
        14,
        _positive_int,
        "Only papers first published this many days ago or less can be submitted",
    )
    submissions_per_day: int = setting(5, _positive_int, "Submissions one account may make per day")
    rate_login: str = setting(
        "10/minute",
        _rate,
        "Login attempts per address (over it: 429) and per account (over it: slowed, not refused)",
    )
    login_delay_seconds: float = setting(
        2.0, _positive_float, "Wait added to each login attempt over the account's budget"
    )
    rate_signup: str = setting("5/hour", _rate, "Sign-ups per address")
    rate_vote: str = setting("120/minute", _rate, "Votes per account and per address")
    rate_submit: str = setting("20/hour", _rate, "Submissions per account and per address")
    rate_comment: str = setting("10/minute", _rate, "Comments per account and per address")
    rate_comment_edit: str = setting(
        "30/minute", _rate, "Comment edits and deletions per account and per address"
    )
    rate_search: str = setting(
        "60/minute", _rate, "Searches (page, JSON API, feed together) per address"
    )
    rate_library: str = setting(
        "120/minute", _rate, "Library saves and removals per account and per address"
    )
    rate_library_import: str = setting(
        "10/hour", _rate, "Library imports (file uploads) per account and per address"
    )
    library_import_max_bytes: int = setting(
        10 * 1024 * 1024, _positive_int, "Largest library import file, in bytes (10 MiB)"
    )
    library_import_max_entries: int = setting(
        20_000, _positive_int, "Most entries (references) one library import may hold"
    )
    page_cache_seconds: float = setting(
        10.0,
        _positive_float,
        "How long pages for anonymous readers are reused; 0 turns the cache off",
    )
    cache_check_seconds: float = setting(
        1.0,
        _positive_float,
        "How often each process asks the database whether another one changed what anonymous "
        "pages show (then its page cache is emptied); 0: before every answer from the cache",
    )
    proxy_cache_seconds: int = setting(
        30,
        _count,
        "max-age of anonymous pages, feeds and API answers for proxies and browsers; "
        "0: they must ask (If-None-Match) each time",
    )
    embedding_device: str = setting("cpu", str, "Where embeddings are computed: cpu, cuda, cuda:1")
    # onnxruntime: the same vectors as torch, without torch in the process (docs/search.md;
    # its speed against torch's in docs/benchmarks.md, bench/embed.py). torch stays for GPUs.
    embedding_backend: str = setting(
        "onnx",
        _embedding_backend,
        "What embeds on the CPU: onnx (onnxruntime) or torch; the same vectors either way",
    )
    # "" stands for <data_dir>/models: __post_init__ fills it in.
    embedding_cache_dir: str = setting(
        "", str, "Folder for the model's ONNX file (made once); default <data_dir>/models"
    )
    embedding_max_tokens: int = setting(
        DEFAULT_MAX_TOKENS,
        _positive_int,
        "Tokens of title + abstract the model reads (part of the vectors' model name)",
    )
    embedding_batch_size: int = setting(64, _positive_int, "Papers embedded per batch")
    fusion_keyword_share: float = setting(
        FUSION_KEYWORD_SHARE,
        _share,
        "Share of the keyword score in hybrid search (0: semantic only, 1: keyword only)",
    )
    fusion_keyword_share_long: float = setting(
        FUSION_KEYWORD_SHARE_LONG,
        _share,
        "The same for queries of more than 20 words (a pasted abstract)",
    )
    fusion_depth: int = setting(100, _positive_int, "Candidates each leg brings to the fusion")
    index_interval_seconds: float = setting(
        60.0,
        _positive_float,
        "How often each `serve` process brings its keyword index up to date; 0 turns it off",
    )
    follows_max: int = setting(
        200, _positive_int, "Categories, authors, searches and organisations one account may follow"
    )
    follow_searches_max: int = setting(
        20,
        _positive_int,
        "Searches one account may follow (each is one index query per Following page)",
    )
    following_days: int = setting(
        14, _positive_int, "Days back the Following page, its JSON and its feed look for papers"
    )
    rate_follow: str = setting("60/minute", _rate, "Follows and unfollows per account and address")

    # Thumbnails (services/thumbnails.py; docs/operating.md "Thumbnails").
    thumbnail_pdf_url: str = setting(
        "https://arxiv.org/pdf",
        _http_url,
        "Where the thumbnail backfill fetches PDFs: <this URL>/<arXiv id>",
    )
    thumbnail_width: int = setting(400, _positive_int, "Width of a thumbnail in pixels")
    thumbnail_max_bytes: int = setting(
        50 * 1024 * 1024, _positive_int, "Largest PDF fetched for a thumbnail, in bytes (50 MiB)"
    )
    thumbnail_timeout: float = setting(
        60.0, _positive_float, "Seconds one PDF download for a thumbnail may take in all"
    )

    # AI summaries, off by default (services/summaries.py; docs/summaries.md).
    summary_llm_url: str = setting(
        "",
        _optional_http_url,
        "OpenAI-compatible chat-completions URL (llama.cpp, vLLM, Ollama) that writes AI "
        "summaries of listed papers; empty: no summaries",
    )
    summary_llm_model: str = setting(
        "", str, "The `model` sent to summary_llm_url; empty: none (the server's own)"
    )
    summary_llm_api_key: str = setting(
        "", str, "Bearer token for summary_llm_url; empty: none", secret=True
    )
    summary_prompt: str = setting(
        DEFAULT_SUMMARY_PROMPT,
        _nonempty,
        "System prompt for a summary; the abstract is the user message and the only input",
    )
    summary_max_tokens: int = setting(
        256, _positive_int, "Most tokens the endpoint may write for one summary"
    )
    summary_timeout: float = setting(
        60.0, _positive_float, "Seconds one summary request may take before it counts as failed"
    )
    summaries_schedule: str = setting(
        "300", _schedule, "How often the summaries job asks for due summaries; 0: off"
    )
    summaries_per_run: int = setting(
        20, _positive_int, "Most summaries one run of the summaries job asks for"
    )

    # Mail (services/mail.py, services/digests.py; docs/personal.md "Email digests").
    smtp_host: str = setting("", str, "SMTP server for mail; empty: the site sends no mail")
    smtp_port: int = setting(587, _positive_int, "SMTP port (587 starttls, 465 tls, 25 none)")
    smtp_security: str = setting(
        "starttls", _smtp_security, "starttls, tls (implicit TLS) or none (a local relay only)"
    )
    smtp_user: str = setting("", str, "SMTP login; empty: no login")
    smtp_password: str = setting("", str, "SMTP password", secret=True)
    smtp_password_file: str = setting(
        "", str, "File holding the SMTP password (a Docker or systemd secret); read when sending"
    )
    smtp_from: str = setting(
        "", _mail_address, "Sender address of the site's mail; the site's name is shown with it"
    )
    smtp_rate: float = setting(
        5.0, _positive_float, "Mails sent per second at most; 0: as fast as the server takes them"
    )
    smtp_timeout: float = setting(
        60.0, _positive_float, "Seconds before an SMTP connection or command gives up"
    )
    rate_subscribe: str = setting("10/hour", _rate, "Subscription requests per address")
    rate_subscribe_email: str = setting(
        "3/day", _rate, "Confirmation mails one email address can be sent"
    )
    digest_confirm_hours: int = setting(
        72, _positive_int, "Hours a subscription's confirmation link works"
    )
    digest_max_papers: int = setting(
        10, _positive_int, "Papers in a digest unless the reader chooses another maximum"
    )
    digest_max_failures: int = setting(
        3, _positive_int, "Permanent delivery failures in a row that pause a subscription"
    )
    digest_hour_utc: int = setting(
        7, _hour, "Hour (UTC) from which `digest send` sends a day's digests"
    )
    digest_lease_seconds: float = setting(
        300.0,
        _positive_float,
        "How long a digest run holds a digest it works on before another run may take it over",
    )

    # Operating (services/logs.py, web/observe.py, web/ops.py; docs/operating.md).
    log_format: str = setting(
        "text", _log_format, "Log lines as text (for people) or json (one object a line)"
    )
    log_requests: bool = setting(
        True, _bool, "`serve` logs one line per request (id, route, status, duration)"
    )
    request_id_header: str = setting(
        "",
        _header_name,
        "Header a proxy in front sets to its request id, reused in logs; empty: the site "
        "makes its own",
    )
    metrics_enabled: bool = setting(False, _bool, "Serve Prometheus metrics at /metrics")
    metrics_networks: str = setting(
        "",
        _proxies,
        "Who may read /metrics besides loopback: IPs or networks, comma-separated, or *",
    )

    # Scheduled jobs (dailypapers/jobs/; docs/operating.md "Jobs"). A schedule is seconds
    # dividing a minute, an hour or a day, or HH:MM once a day (UTC); empty or 0 is off.
    scheduler: bool = setting(
        True,
        _bool,
        "`serve` runs the scheduled jobs (on PostgreSQL: a worker in each serve process too)",
    )
    # The daily list the demo shows is Hugging Face's, computer science papers: the set `cs`.
    harvest_sets: str = setting(
        "cs", _oai_sets, "OAI-PMH sets the harvest job fetches, comma-separated; empty: off"
    )
    harvest_schedule: str = setting(
        "02:00",
        _schedule,
        "When the harvest runs: HH:MM (UTC) daily, or seconds; arXiv announces near 00:00 UTC",
    )
    harvest_days: int = setting(
        3, _positive_int, "Days back the first harvest of a set starts from"
    )
    # arXiv rebuilds its announcement feeds at midnight in New York (04:00 or 05:00 UTC).
    announcement_categories: str = setting(
        "cs",
        _rss_categories,
        "arXiv categories or archives whose daily announcement feed the announcements job "
        "reads (cs.AI cs.CL, or cs); empty: off",
    )
    announcements_schedule: str = setting(
        "05:30", _schedule, "When the announcements job reads today's feeds (UTC); 0: off"
    )
    thumbnails_schedule: str = setting(
        "900", _schedule, "How often listed papers' thumbnails are rendered; 0: off"
    )
    thumbnails_per_run: int = setting(
        50, _positive_int, "Most PDFs one run of the thumbnails job fetches"
    )
    embeddings_schedule: str = setting(
        "60", _schedule, "How often new papers are embedded (once per cluster); 0: off"
    )
    digests_schedule: str = setting(
        "300", _schedule, "How often due digests are sent (needs mail settings); 0: off"
    )
    cleanup_schedule: str = setting(
        "3600",
        _schedule,
        "How often expired sessions, confirmations, rate-limit rows and old job runs go",
    )
    backup_dir: str = setting(
        "", str, "Folder for the nightly backups (one dated folder each); empty: no backups"
    )
    backup_schedule: str = setting("03:00", _schedule, "When the nightly backup runs (UTC)")
    backup_keep: int = setting(14, _positive_int, "Nightly backups kept in backup_dir")
    job_max_attempts: int = setting(
        4, _positive_int, "Tries of a failing job in one period before it waits for the next"
    )
    job_retry_seconds: float = setting(
        60.0, _positive_float, "Wait before a failed job's second try; doubles after each try"
    )
    job_runs_keep_days: int = setting(
        30, _positive_int, "Days the record of finished job runs is kept"
    )
    job_heartbeat_seconds: float = setting(
        10.0, _positive_float, "PostgreSQL workers: seconds between heartbeats"
    )
    job_stalled_seconds: int = setting(
        60,
        _interval,
        "PostgreSQL workers: a worker silent this long is dead and its job runs again",
    )

    # The first admin, made by `serve` at start-up (services/first_admin.py).
    admin_user: str = setting(
        "", str, "Username of an admin `serve` creates at start-up unless an account has it"
    )
    admin_email: str = setting("", str, "Email of the admin_user account when it is created")
    admin_password_file: str = setting(
        "", str, "File whose first line is admin_user's password (preferred to admin_password)"
    )
    admin_password: str = setting("", str, "admin_user's password", secret=True)

    # Not a setting: where each value came from ("flag", "env", ".env" or "file"); absent:
    # "default".
    _sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.database_url:
            path = Path(self.data_dir).expanduser().resolve() / "dailypapers.db"
            object.__setattr__(self, "database_url", f"sqlite:///{path}")  # frozen dataclass
        if not self.embedding_cache_dir:
            models = Path(self.data_dir).expanduser().resolve() / "models"
            object.__setattr__(self, "embedding_cache_dir", str(models))
        if self.smtp_password and self.smtp_password_file:
            raise ConfigError("set smtp_password or smtp_password_file, not both")
        if self.admin_password and self.admin_password_file:
            raise ConfigError("set admin_password or admin_password_file, not both")
        if self.job_heartbeat_seconds >= self.job_stalled_seconds:
            raise ConfigError(
                "job_heartbeat_seconds must be shorter than job_stalled_seconds, or every "
                "busy worker would look dead"
            )

    def source(self, name: str) -> str:
        """Where the value of setting `name` came from: "flag", "env", ".env", "file" (a
        `DAILYPAPERS_<NAME>_FILE` variable) or "default"."""
        if name not in BY_NAME:
            raise KeyError(name)
        return self._sources.get(name, "default")

    def with_overrides(self, **values: Any) -> Config:
        """A copy with `values` (already parsed) in place, recorded as given by flag."""
        unknown = [name for name in values if name not in BY_NAME]
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]}")
        sources = {**self._sources, **dict.fromkeys(values, "flag")}
        return replace(self, **values, _sources=sources)

    def __repr__(self) -> str:
        # Masked like `config show`, so a logged config or a traceback shows no secret.
        shown = []
        for item in SETTINGS:
            value = getattr(self, item.name)
            if item.secret and value is not None:
                value = display(item, value)
            shown.append(f"{item.name}={value!r}")
        return f"Config({', '.join(shown)})"

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(name, display value, source, help) for `config show`; secrets masked."""
        return [
            (s.name, display(s, getattr(self, s.name)), self.source(s.name), s.help)
            for s in SETTINGS
        ]


@dataclass(frozen=True)
class Setting:
    """A `Config` field seen as a row of the table (for flags, `config show` and the docs)."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()


SETTINGS = [
    Setting(f.name, f.default, f.metadata["parse"], f.metadata["help"], f.metadata["secret"])
    for f in fields(Config)
    if "parse" in f.metadata
]
BY_NAME = {s.name: s for s in SETTINGS}


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
    unknown = [k for k in list(environ) + list(dotenv) if k.startswith(PREFIX) and not _known(k)]
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]} (see `dailypapers config show`)")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.name in flags:
            raw, source, where = flags[setting.name], "flag", f"--set {setting.name}"
        else:
            found = _lookup(setting, environ, "env") or _lookup(setting, dotenv, ".env")
            if found is None:
                continue  # the field's default
            raw, source, where = found
        try:
            # A file's text is the value as it is (a secret may end in spaces); typed text
            # loses its surrounding blanks.
            text = raw if source == "file" else raw.strip() if isinstance(raw, str) else raw
            value = setting.parse(text) if isinstance(text, str) else text
        except (ValueError, TypeError) as error:
            shown = "" if source == "file" else f"={raw!r}"  # never print a file's contents
            raise ConfigError(f"bad value for {setting.name} ({where}{shown}): {error}") from None
        values[setting.name] = value
        sources[setting.name] = source
    return Config(**values, _sources=sources)


def _file_variant(setting: Setting) -> str | None:
    """`DAILYPAPERS_<NAME>_FILE`, or None when `<name>_file` is a setting of its own (such as
    admin_password_file, read when it is used): that variable keeps its meaning."""
    return None if f"{setting.name}_file" in BY_NAME else f"{setting.env}_FILE"


def _known(key: str) -> bool:
    name = key[len(PREFIX) :].lower()
    if name in BY_NAME:
        return True
    base = BY_NAME.get(name.removesuffix("_file")) if name.endswith("_file") else None
    return base is not None and _file_variant(base) == key


def _lookup(
    setting: Setting, variables: Mapping[str, str | None], place: str
) -> tuple[str, str, str] | None:
    """(text, source, where) for `setting` from the environment or .env: its variable, or the
    file its `_FILE` variable names; None when neither is set there. Both set is an error."""
    suffix = "" if place == "env" else " in .env"
    value = variables.get(setting.env)
    file_variable = _file_variant(setting)
    path = variables.get(file_variable) if file_variable else None
    if value is not None and path is not None:
        raise ConfigError(f"set {setting.env} or {file_variable}{suffix}, not both")
    if path is None:
        return None if value is None else (value, place, setting.env + suffix)
    assert file_variable is not None
    where = f"{file_variable}{suffix}={path!r}"
    return _read_setting_file(path, where), "file", where


def _read_setting_file(path: str, where: str) -> str:
    """A setting's file: its text, trailing line breaks removed (editors and `echo` add one)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ConfigError(f"cannot read {where}: {reason}") from None
    return text.rstrip("\r\n")
