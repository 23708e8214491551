"""The `dailypapers` command line: one click group, commands grouped by noun.

Every setting in config.SETTINGS is also a global flag (`--database-url`, `--request-delay`, ...).
Exit codes, for cron and CI: 0 clean; 1 the run failed (nothing after the failure was written);
2 bad usage or configuration; 3 the run finished but skipped bad records (they are listed).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import __version__
from .config import SETTINGS, Config, ConfigError, load_config
from .ingest.run import IngestReport, ProgressFn
from .storage import Store, StoreError, open_store

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3

err = Console(stderr=True)


def _flag_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for setting in reversed(SETTINGS):
        func = click.option(
            "--" + setting.name.replace("_", "-"),
            setting.name,
            default=None,
            metavar="VALUE",
            help=f"{setting.help} [env {setting.env}]",
        )(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dailypapers")
@_flag_options
@click.pass_context
def cli(ctx: click.Context, **flags: Any) -> None:
    """dailypapers: an open, self-hostable Daily Papers.

    Fill the catalog from arXiv (OAI-PMH, the query API, the bulk snapshot) and Hugging Face
    daily-papers JSON, and inspect it. Settings come from these flags, DAILYPAPERS_* env vars,
    a .env file, or defaults (`dailypapers config show`).
    """
    try:
        config = load_config(flags)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    logging.basicConfig(level=config.log_level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = config


def _open(config: Config) -> Store:
    try:
        store = open_store(config.database_url)
    except StoreError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILED)
    click.get_current_context().call_on_close(store.close)
    return store


@contextmanager
def _progress(label: str) -> Iterator[ProgressFn]:
    """A rich progress bar on a terminal; silence otherwise (logs and the summary remain)."""
    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err, disable=not err.is_terminal, transient=False) as bar:
        task = bar.add_task(label, total=None, detail="")

        def update(done: int, total: int | None, detail: str) -> None:
            bar.update(task, completed=done, total=total, detail=detail)

        yield update


@contextmanager
def _index_lock(cfg: Config) -> Iterator[None]:
    """One index writer at a time: wait (saying so) while a `serve` worker or another
    `dailypapers index` brings the indexes up to date."""
    from .search.background import index_lock

    with index_lock(cfg.data_dir, wait=False) as held:
        if held:
            yield
            return
    err.print("another process is updating the search indexes; waiting for it...")
    with index_lock(cfg.data_dir, wait=True):
        yield


def _refresh_index(cfg: Config, store: Store) -> None:
    """Bring the keyword index up to date after an ingest (only what changed is re-indexed)."""
    from .search.keyword import KeywordIndex

    keyword = KeywordIndex.for_data_dir(cfg.data_dir)
    with _index_lock(cfg), _progress("keyword index") as progress:
        count = keyword.update(store, lambda done, total: progress(done, total, f"{done:,}"))
    err.print(
        f"keyword index: {count:,} papers indexed, {keyword.count():,} searchable", highlight=False
    )


def _finish(report: IngestReport, cfg: Config | None = None, store: Store | None = None) -> None:
    if cfg is not None and store is not None and (report.counts.new or report.counts.updated):
        _refresh_index(cfg, store)
    for problem in report.problems[:20]:
        err.print(f"[yellow]skipped[/yellow] {problem}", highlight=False, markup=False)
    hidden = sum(report.skipped.values()) - min(20, len(report.problems))
    if hidden > 0:
        err.print(f"... and {hidden:,} more skipped records", highlight=False)
    click.echo(report.summary())
    if report.error:
        sys.exit(EXIT_FAILED)
    if not report.clean:
        sys.exit(EXIT_SKIPPED)


def _client(config: Config, delay: float | None = None) -> Any:
    from .ingest.http import PoliteClient

    return PoliteClient(
        delay=config.request_delay if delay is None else delay,
        timeout=config.http_timeout,
        retries=config.http_retries,
        backoff_base=config.backoff_base,
        backoff_max=config.backoff_max,
        user_agent=config.user_agent,
    )


@cli.group()
def config() -> None:
    """Inspect the settings in effect."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def config_show(cfg: Config, as_json: bool) -> None:
    """List every setting with its value and where it came from (secrets masked)."""
    rows = cfg.rows()
    if as_json:
        click.echo(json.dumps({n: {"value": v, "source": s} for n, v, s, _ in rows}, indent=2))
        return
    table = Table("setting", "value", "source", "help", box=None, highlight=False)
    for name, value, source, help_text in rows:
        table.add_row(name, value, source, help_text)
    Console(width=160).print(table)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("migrate")
@click.pass_obj
def db_migrate(cfg: Config) -> None:
    """Apply pending schema migrations (opening the database does this too)."""
    from .storage import schema_revision

    store = _open(cfg)
    click.echo(f"database at revision {schema_revision(store)}")


@cli.group()
def ingest() -> None:
    """Fill the catalog from arXiv and Hugging Face."""


def _day(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@ingest.command("oai")
@click.option(
    "--from",
    "from_date",
    callback=_day,
    help="First datestamp (YYYY-MM-DD); "
    "default: where the last completed harvest of this endpoint and set ended.",
)
@click.option("--until", callback=_day, help="Last datestamp (YYYY-MM-DD); default: now.")
@click.option("--set", "set_spec", help="OAI set, e.g. cs or cs:cs:CL.")
@click.option("--endpoint", help="OAI-PMH base URL (default: the oai_endpoint setting).")
@click.option(
    "--metadata-prefix",
    default="arXivRaw",
    show_default=True,
    type=click.Choice(["arXivRaw", "arXiv", "oai_dc"]),
    help="Metadata format; arXivRaw is the only one with the version history.",
)
@click.pass_obj
def ingest_oai(
    cfg: Config,
    from_date: date | None,
    until: date | None,
    set_spec: str | None,
    endpoint: str | None,
    metadata_prefix: str,
) -> None:
    """Harvest OAI-PMH ListRecords (resumable: rerun the same command after a crash)."""
    from .ingest.harvest import harvest_oai
    from .storage.harvest import latest_completed

    store = _open(cfg)
    endpoint = endpoint or cfg.oai_endpoint
    if from_date is None:
        with store.connect() as conn:
            from_date = latest_completed(conn, endpoint, set_spec)
        if from_date is None:
            raise click.UsageError("--from is required for the first harvest of this endpoint")
    if until and until < from_date:
        raise click.BadParameter("--until is before --from", param_hint="--until")
    with _client(cfg) as client, _progress("OAI-PMH") as progress:
        report = harvest_oai(
            store,
            client,
            endpoint,
            from_date,
            until,
            set_spec,
            metadata_prefix=metadata_prefix,
            progress=progress,
        )
    _finish(report, cfg, store)


@ingest.command("arxiv-api")
@click.option("--query", help="arXiv search_query, e.g. 'cat:cs.CL AND ti:retrieval'.")
@click.option("--id", "ids", multiple=True, help="An arXiv id or URL; repeat for several.")
@click.option(
    "--max",
    "max_results",
    default=100,
    show_default=True,
    type=click.IntRange(1, 30000),
    help="Most results for --query.",
)
@click.option("--endpoint", help="Query API URL (default: the arxiv_api_endpoint setting).")
@click.option(
    "--delay",
    type=click.FloatRange(0),
    help="Seconds between requests (default: the request_delay setting, 3).",
)
@click.pass_obj
def ingest_arxiv_api(
    cfg: Config,
    query: str | None,
    ids: tuple[str, ...],
    max_results: int,
    endpoint: str | None,
    delay: float | None,
) -> None:
    """Fetch papers from the arXiv query API by search query or by id."""
    from .ingest.harvest import ingest_arxiv_api as run

    if bool(query) == bool(ids):
        raise click.UsageError("give either --query or one or more --id")
    store = _open(cfg)
    with _client(cfg, delay) as client, _progress("arXiv API") as progress:
        report = run(
            store,
            client,
            endpoint or cfg.arxiv_api_endpoint,
            query=query,
            ids=ids,
            max_results=max_results,
            progress=progress,
        )
    _finish(report, cfg, store)


@ingest.command("snapshot")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def ingest_snapshot(cfg: Config, file: Path) -> None:
    """Import a bulk metadata snapshot (JSON lines, .json or .json.gz), streamed."""
    from .ingest.run import ingest_snapshot as run

    store = _open(cfg)
    with _progress("snapshot") as progress:
        report = run(store, file, batch_size=cfg.ingest_batch_size, progress=progress)
    _finish(report, cfg, store)


@ingest.command("hf-daily")
@click.argument("source")
@click.pass_obj
def ingest_hf_daily(cfg: Config, source: str) -> None:
    """Import a Hugging Face /api/daily_papers JSON array from a file or an http(s) URL."""
    from .ingest.http import FetchError
    from .ingest.run import ingest_daily_json

    if source.startswith(("http://", "https://")):
        try:
            with _client(cfg, delay=0) as client:
                data = client.fetch(source, {}, lambda r: r.content)
        except FetchError as error:
            report = IngestReport("hf-daily", error=str(error))
            _finish(report)
            return
    else:
        path = Path(source)
        if not path.is_file():
            raise click.BadParameter(f"no such file: {source}", param_hint="FILE_OR_URL")
        data = path.read_bytes()
    store = _open(cfg)
    with _progress("HF daily") as progress:
        report = ingest_daily_json(
            store, data, source, batch_size=cfg.ingest_batch_size, progress=progress
        )
    _finish(report, cfg, store)


@cli.command()
@click.option("--if-empty", is_flag=True, help="Only load when the catalog has no papers.")
@click.pass_obj
def demo(cfg: Config, if_empty: bool) -> None:
    """Load the bundled demo catalog (seed Daily Papers page plus real arXiv records)."""
    from .ingest.demo import load_demo
    from .storage.stats import catalog_stats

    store = _open(cfg)
    if if_empty:
        with store.connect() as conn:
            if catalog_stats(conn)["papers"]:
                click.echo("demo: catalog already has papers; nothing loaded")
                return
    with _progress("demo") as progress:
        report = load_demo(store, progress=progress)
    _finish(report, cfg, store)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def stats(cfg: Config, as_json: bool) -> None:
    """What the catalog holds: papers, versions, daily submissions, categories, dates."""
    from .storage.stats import catalog_stats

    store = _open(cfg)
    with store.connect() as conn:
        numbers = catalog_stats(conn)
    if as_json:
        click.echo(json.dumps(numbers, indent=2))
        return
    out = Console(highlight=False)
    out.print(f"papers             {numbers['papers']:,}")
    out.print(f"versions           {numbers['versions']:,}")
    out.print(f"daily submissions  {numbers['daily_submissions']:,}")
    out.print(f"with code          {numbers['with_code']:,}")
    out.print(f"withdrawn          {numbers['withdrawn']:,}")
    out.print(f"published          {numbers['published_first']} .. {numbers['published_last']}")
    out.print(f"daily lists        {numbers['daily_first']} .. {numbers['daily_last']}")
    if numbers["harvests_in_progress"]:
        out.print(f"harvests to resume {numbers['harvests_in_progress']}")
    table = Table("primary category", "papers", box=None)
    for name, n in numbers["primary_categories"].items():
        table.add_row(name, f"{n:,}")
    out.print(table)


@cli.command()
@click.option(
    "--rebuild", is_flag=True, help="Drop the keyword index and build it again from the database."
)
@click.option("--no-vectors", is_flag=True, help="Only the keyword index; embed nothing.")
@click.option("--device", help="Embed on this device (cpu, cuda); default: embedding_device.")
@click.option("--limit", type=click.IntRange(1), help="Embed at most this many papers now.")
@click.pass_obj
def index(
    cfg: Config, rebuild: bool, no_vectors: bool, device: str | None, limit: int | None
) -> None:
    """Bring the search indexes up to date with the catalog: the keyword index, then the
    embeddings of papers that need one (newest first; resumable: stop it any time)."""
    with _index_lock(cfg):
        _index(cfg, rebuild, no_vectors, device, limit)


def _index(
    cfg: Config, rebuild: bool, no_vectors: bool, device: str | None, limit: int | None
) -> None:
    from .search.keyword import KeywordIndex

    store = _open(cfg)
    keyword = KeywordIndex.for_data_dir(cfg.data_dir)
    with _progress("keyword index") as progress:

        def tick(done: int, total: int) -> None:
            progress(done, total, f"{done:,} papers")

        count = keyword.rebuild(store, tick) if rebuild else keyword.update(store, tick)
    click.echo(f"keyword index: {count:,} papers indexed, {keyword.count():,} searchable")
    if no_vectors:
        return
    from .search.vector import Embedder, embed_pending

    embedder = Embedder(device or cfg.embedding_device, cfg.embedding_max_tokens)
    with _progress("embeddings") as progress:
        embedded = embed_pending(
            store,
            embedder,
            batch_size=cfg.embedding_batch_size,
            stop_after=limit,
            progress=lambda done, total: progress(done, total, f"{done:,} papers"),
        )
    click.echo(f"embeddings: {embedded:,} papers embedded with {embedder.name}")
    if store.dialect == "sqlite":
        from .search.ann import VectorIndex

        vectors = VectorIndex.for_data_dir(cfg.data_dir, embedder.name)
        with _progress("vector index") as progress:

            def tick_vectors(done: int, total: int) -> None:
                progress(done, total, f"{done:,} vectors")

            added = (
                vectors.rebuild(store, tick_vectors)
                if rebuild
                else vectors.update(store, tick_vectors)
            )
        click.echo(f"vector index: {added:,} vectors added, {len(vectors):,} in the index")


@cli.command()
@click.argument("paper")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="How many papers."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def similar(cfg: Config, paper: str, limit: int, as_json: bool) -> None:
    """The papers closest in meaning to PAPER (an arXiv id or URL)."""
    from .domain.ids import InvalidArxivId, parse_paper_id
    from .search.ann import similar_papers
    from .search.vector import model_name

    try:
        arxiv_id = parse_paper_id(paper)
    except InvalidArxivId as error:
        raise click.BadParameter(str(error), param_hint="PAPER") from None
    store = _open(cfg)
    rows = similar_papers(
        store, cfg.data_dir, model_name(cfg.embedding_max_tokens), arxiv_id, limit
    )
    if rows is None:
        err.print(
            f"{arxiv_id} has no embedding yet: run `dailypapers index` (or it is not "
            "in the catalog).",
            highlight=False,
        )
        sys.exit(EXIT_FAILED)
    results = [
        {"id": p["arxiv_id"], "title": p["title"], "similarity": round(score, 4)}
        for p, score in rows
    ]
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    table = Table("#", "id", "similarity", "title", box=None, highlight=False)
    for rank, item in enumerate(results, 1):
        table.add_row(str(rank), item["id"], f"{item['similarity']:.3f}", item["title"])
    Console(width=160).print(table)


@cli.command()
@click.argument("query")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 200), help="How many results."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def search(cfg: Config, query: str, limit: int, as_json: bool) -> None:
    """Search the catalog: words, "phrases", -exclusions, author:, cat:, year:, id:."""
    from .domain.query import parse_query
    from .search import keyword_search
    from .storage.papers import get_paper

    store = _open(cfg)
    parsed = parse_query(query)
    ids: list[tuple[str, float | None]]
    if parsed.paper_id:
        ids = [(parsed.paper_id, None)]
    else:
        from .search import run_hybrid
        from .search.vector import Embedder

        keyword = keyword_search(store, cfg.data_dir)
        embedder = Embedder(cfg.embedding_device, cfg.embedding_max_tokens)
        found = run_hybrid(store, cfg, parsed, keyword=keyword, embedder=embedder, limit=limit)
        if not found and keyword is None:
            err.print("The search index is empty: run `dailypapers index` first.")
            sys.exit(EXIT_FAILED)
        ids = [(arxiv_id, None) for arxiv_id in found]
    results = []
    with store.connect() as conn:
        for arxiv_id, score in ids:
            paper = get_paper(conn, arxiv_id)
            if paper is not None and not paper["hidden"]:
                results.append(
                    {
                        "id": arxiv_id,
                        "title": paper["title"],
                        "authors": paper["authors"][:5],
                        "published": paper["published_at"].date().isoformat()
                        if paper["published_at"]
                        else None,
                        "score": None if score is None else round(score, 3),
                    }
                )
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    if not results:
        click.echo("no papers match")
        sys.exit(EXIT_FAILED if parsed.paper_id else 0)
    table = Table("#", "id", "title", "published", box=None, highlight=False)
    for rank, item in enumerate(results, 1):
        table.add_row(str(rank), item["id"], item["title"], item["published"] or "")
    Console(width=160).print(table)


@cli.group()
def user() -> None:
    """Accounts."""


@user.command("create")
@click.argument("username")
@click.option("--email", required=True, help="The account's email address.")
@click.option("--admin", is_flag=True, help="Make the account an admin.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting.",
)
@click.pass_obj
def user_create(cfg: Config, username: str, email: str, admin: bool, password_stdin: bool) -> None:
    """Create an account (an admin with --admin); asks for the password."""
    from .domain.accounts import (
        InvalidAccount,
        check_email,
        check_password,
        check_username,
        hash_password,
    )
    from .storage.people import Conflict, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_username(username)
        check_email(email)
        check_password(password, username)
    except InvalidAccount as error:
        raise click.UsageError(str(error)) from None
    store = _open(cfg)
    try:
        with store.begin() as conn:
            account = create_user(conn, username, email, hash_password(password), is_admin=admin)
    except Conflict as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(EXIT_FAILED)
    click.echo(f"created {'admin' if admin else 'user'} {account.username} <{account.email}>")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (one per core is a good start).",
)
@click.pass_obj
def serve(cfg: Config, host: str, port: int, workers: int) -> None:
    """Run the web site and the JSON API."""
    import os

    import uvicorn

    from .config import BY_NAME

    _open(cfg).close()  # migrate once, and fail here rather than in every worker
    for name, _value, source, _help in cfg.rows():
        if source == "flag":  # workers read settings from the environment
            os.environ[BY_NAME[name].env] = str(getattr(cfg, name))
    os.environ.setdefault("DAILYPAPERS_DATABASE_URL", cfg.database_url)
    click.echo(f"serving {cfg.site_name} on http://{host}:{port} ({workers} worker(s))")
    uvicorn.run(
        "dailypapers.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=cfg.log_level.lower(),
        access_log=False,
    )


def main() -> None:
    cli(prog_name="dailypapers")
