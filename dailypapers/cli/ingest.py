"""`ingest`: fill the catalog from arXiv (OAI-PMH, the query API, the announcement feeds, the
bulk snapshot) and Hugging Face daily-papers JSON. The harvesting itself lives in dailypapers.ingest; this module reads the
options, opens the store and the HTTP client, and reports."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Config
from ..ingest.run import BULK_BELOW, IngestReport
from .common import finish_ingest, open_store_or_exit, progress_bar

if TYPE_CHECKING:
    from ..ingest.http import PoliteClient


def _client(config: Config, delay: float | None = None) -> PoliteClient:
    from ..services.arxiv import polite_client

    return polite_client(config, delay=delay)


@click.group()
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
    from ..ingest.harvest import harvest_oai
    from ..storage.harvest import latest_completed

    store = open_store_or_exit(cfg)
    endpoint = endpoint or cfg.oai_endpoint
    if from_date is None:
        with store.connect() as conn:
            from_date = latest_completed(conn, endpoint, set_spec)
        if from_date is None:
            raise click.UsageError("--from is required for the first harvest of this endpoint")
    if until and until < from_date:
        raise click.BadParameter("--until is before --from", param_hint="--until")
    with _client(cfg) as client, progress_bar("OAI-PMH") as progress:
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
    finish_ingest(report, cfg, store)


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
    from ..ingest.harvest import ingest_arxiv_api as run

    if bool(query) == bool(ids):
        raise click.UsageError("give either --query or one or more --id")
    store = open_store_or_exit(cfg)
    with _client(cfg, delay) as client, progress_bar("arXiv API") as progress:
        report = run(
            store,
            client,
            endpoint or cfg.arxiv_api_endpoint,
            query=query,
            ids=ids,
            max_results=max_results,
            progress=progress,
        )
    finish_ingest(report, cfg, store)


@ingest.command("rss")
@click.argument("categories", nargs=-1, required=True)
@click.option(
    "--endpoint", help="Feed base URL (default: the arxiv_rss_endpoint setting); CATEGORIES follow."
)
@click.option(
    "--delay",
    type=click.FloatRange(0),
    help="Seconds between requests (default: the request_delay setting, 3).",
)
@click.pass_obj
def ingest_rss(
    cfg: Config, categories: tuple[str, ...], endpoint: str | None, delay: float | None
) -> None:
    """Write what arXiv announced today in CATEGORIES (cs.AI, math, ...): new papers,
    cross-lists and replacements, from its daily RSS feed."""
    from ..ingest.announcements import check_categories
    from ..services.arxiv import harvest_announcements

    try:
        check_categories(categories)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="CATEGORIES") from None
    if endpoint:
        cfg = cfg.with_overrides(arxiv_rss_endpoint=endpoint)
    store = open_store_or_exit(cfg)
    with _client(cfg, delay) as client, progress_bar("arXiv feeds") as progress:
        report = harvest_announcements(store, cfg, categories, client=client, progress=progress)
    finish_ingest(report, cfg, store)


@ingest.command("snapshot")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--bulk/--no-bulk",
    default=None,
    help="Bulk mode: the papers' secondary indexes are built once at the end (slow pages "
    f"meanwhile). Default: bulk when the catalog holds fewer than {BULK_BELOW:,} papers.",
)
@click.pass_obj
def ingest_snapshot(cfg: Config, file: Path, bulk: bool | None) -> None:
    """Import a bulk metadata snapshot (JSON lines, .json or .json.gz), streamed."""
    from ..ingest.run import ingest_snapshot as run

    store = open_store_or_exit(cfg)
    with progress_bar("snapshot") as progress:
        report = run(store, file, batch_size=cfg.ingest_batch_size, bulk=bulk, progress=progress)
    finish_ingest(report, cfg, store)


@ingest.command("hf-daily")
@click.argument("source")
@click.pass_obj
def ingest_hf_daily(cfg: Config, source: str) -> None:
    """Import a Hugging Face /api/daily_papers JSON array from a file or an http(s) URL."""
    from ..ingest.http import FetchError
    from ..ingest.run import ingest_daily_json

    if source.startswith(("http://", "https://")):
        try:
            with _client(cfg, delay=0) as client:
                data = client.fetch(source, {}, lambda r: r.content)
        except FetchError as error:
            report = IngestReport("hf-daily", error=str(error))
            finish_ingest(report)
            return
    else:
        path = Path(source)
        if not path.is_file():
            raise click.BadParameter(f"no such file: {source}", param_hint="FILE_OR_URL")
        data = path.read_bytes()
    store = open_store_or_exit(cfg)
    with progress_bar("HF daily") as progress:
        report = ingest_daily_json(
            store, data, source, batch_size=cfg.ingest_batch_size, progress=progress
        )
    finish_ingest(report, cfg, store)
