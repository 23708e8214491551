"""`search`, `similar` and `index`: query the catalog and keep its search indexes up to date.
The work is services/searching.py's and services/indexing.py's; this module prints it."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from ..config import Config
from .common import EXIT_FAILED, err, open_store_or_exit, update_indexes_or_wait

if TYPE_CHECKING:
    from ..services.searching import Searcher


@click.command()
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
    from ..search.vector import embedder_for

    store = open_store_or_exit(cfg)
    embedder = None
    if not no_vectors:
        embedder = embedder_for(cfg, device=device)
    done = update_indexes_or_wait(cfg, store, embedder, rebuild=rebuild, embed_limit=limit)
    click.echo(f"keyword index: {done.keyword:,} papers indexed, {done.searchable:,} searchable")
    if done.model is None:
        return
    click.echo(f"embeddings: {done.embedded:,} papers embedded with {done.model}")
    if done.vectors_indexed is not None:
        click.echo(
            f"vector index: {done.vectors:,} vectors added, {done.vectors_indexed:,} in the index"
        )


def _searcher(cfg: Config) -> Searcher:
    from ..search.vector import embedder_for
    from ..services.searching import Searcher

    store = open_store_or_exit(cfg)
    return Searcher(store, cfg, embedder_for(cfg))


@click.command()
@click.argument("paper")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="How many papers."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def similar(cfg: Config, paper: str, limit: int, as_json: bool) -> None:
    """The papers closest in meaning to PAPER (an arXiv id or URL)."""
    from ..domain.ids import InvalidArxivId, parse_paper_id

    try:
        arxiv_id = parse_paper_id(paper)
    except InvalidArxivId as error:
        raise click.BadParameter(str(error), param_hint="PAPER") from None
    found = _searcher(cfg).similar(arxiv_id, limit)
    if found is None:
        err.print(
            f"{arxiv_id} has no embedding yet: run `dailypapers index` (or it is not "
            "in the catalog).",
            highlight=False,
        )
        sys.exit(EXIT_FAILED)
    results: list[dict[str, Any]] = [
        {"id": f.paper.arxiv_id, "title": f.paper.title, "similarity": round(f.similarity or 0, 4)}
        for f in found
    ]
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    table = Table("#", "id", "similarity", "title", box=None, highlight=False)
    for rank, item in enumerate(results, 1):
        table.add_row(str(rank), item["id"], f"{item['similarity']:.3f}", item["title"])
    Console(width=160).print(table)


@click.command()
@click.argument("query")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 200), help="How many results."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def search(cfg: Config, query: str, limit: int, as_json: bool) -> None:
    """Search the catalog: words, "phrases", -exclusions, author:, cat:, year:, id:."""
    results = _searcher(cfg).search(query, limit=limit)
    if not results.indexed:
        err.print("The search index is empty: run `dailypapers index` first.")
        sys.exit(EXIT_FAILED)
    rows: list[dict[str, Any]] = [
        {
            "id": f.paper.arxiv_id,
            "title": f.paper.title,
            "authors": f.paper.authors[:5],
            "published": f.paper.published_at.date().isoformat() if f.paper.published_at else None,
            "score": None,
        }
        for f in results.found
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no papers match")
        sys.exit(EXIT_FAILED if results.query.paper_id else 0)
    table = Table("#", "id", "title", "published", box=None, highlight=False)
    for rank, item in enumerate(rows, 1):
        table.add_row(str(rank), item["id"], item["title"], item["published"] or "")
    Console(width=160).print(table)
