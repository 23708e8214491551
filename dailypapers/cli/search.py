"""`search`, `similar` and `index`: query the catalog and keep its search indexes up to date.
The indexes and the ranking live in dailypapers.search; this module prints what they find."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from ..config import Config
from .common import EXIT_FAILED, err, hold_index_lock, open_store_or_exit, progress_bar


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
    with hold_index_lock(cfg):
        _index(cfg, rebuild, no_vectors, device, limit)


def _index(
    cfg: Config, rebuild: bool, no_vectors: bool, device: str | None, limit: int | None
) -> None:
    from ..search.keyword import KeywordIndex

    store = open_store_or_exit(cfg)
    keyword = KeywordIndex.for_data_dir(cfg.data_dir)
    with progress_bar("keyword index") as progress:

        def tick(done: int, total: int) -> None:
            progress(done, total, f"{done:,} papers")

        count = keyword.rebuild(store, tick) if rebuild else keyword.update(store, tick)
    click.echo(f"keyword index: {count:,} papers indexed, {keyword.count():,} searchable")
    if no_vectors:
        return
    from ..search.vector import Embedder, embed_pending

    embedder = Embedder(device or cfg.embedding_device, cfg.embedding_max_tokens)
    with progress_bar("embeddings") as progress:
        embedded = embed_pending(
            store,
            embedder,
            batch_size=cfg.embedding_batch_size,
            stop_after=limit,
            progress=lambda done, total: progress(done, total, f"{done:,} papers"),
        )
    click.echo(f"embeddings: {embedded:,} papers embedded with {embedder.name}")
    if store.dialect == "sqlite":
        from ..search.ann import VectorIndex

        vectors = VectorIndex.for_data_dir(cfg.data_dir, embedder.name)
        with progress_bar("vector index") as progress:

            def tick_vectors(done: int, total: int) -> None:
                progress(done, total, f"{done:,} vectors")

            added = (
                vectors.rebuild(store, tick_vectors)
                if rebuild
                else vectors.update(store, tick_vectors)
            )
        click.echo(f"vector index: {added:,} vectors added, {len(vectors):,} in the index")


@click.command()
@click.argument("paper")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="How many papers."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def similar(cfg: Config, paper: str, limit: int, as_json: bool) -> None:
    """The papers closest in meaning to PAPER (an arXiv id or URL)."""
    from ..ids import InvalidArxivId, parse_paper_id
    from ..search.ann import similar_papers
    from ..search.vector import model_name

    try:
        arxiv_id = parse_paper_id(paper)
    except InvalidArxivId as error:
        raise click.BadParameter(str(error), param_hint="PAPER") from None
    store = open_store_or_exit(cfg)
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


@click.command()
@click.argument("query")
@click.option(
    "--limit", default=10, show_default=True, type=click.IntRange(1, 200), help="How many results."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def search(cfg: Config, query: str, limit: int, as_json: bool) -> None:
    """Search the catalog: words, "phrases", -exclusions, author:, cat:, year:, id:."""
    from ..search import keyword_search
    from ..search.query import parse_query
    from ..storage.papers import get_paper

    store = open_store_or_exit(cfg)
    parsed = parse_query(query)
    ids: list[tuple[str, float | None]]
    if parsed.paper_id:
        ids = [(parsed.paper_id, None)]
    else:
        from ..search import run_hybrid
        from ..search.vector import Embedder

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
