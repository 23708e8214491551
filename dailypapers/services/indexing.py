"""Keeping the search indexes current: one round brings the keyword index, the embeddings and
the vector index beside the database up to date with the catalog. `dailypapers index`, an
ingest run and the scheduled jobs (dailypapers/jobs/) all run the same round.

A file lock in the data folder makes sure one process at a time does this, whether a web worker
or `dailypapers index`: the others wait for it (a call without `on_wait` returns at once).
Inside `serve` the round is split: every process brings its own keyword index up to date every
`index_interval_seconds` and soon after a paper is submitted (the `keyword-index` job), and the
`embeddings` job, once for the whole site, embeds at most EMBED_PER_ROUND new papers a run and
rewrites the usearch index (SQLite) only once enough new vectors wait (until then searches
compare them exactly; see search/ann.py), so searches stay quick. Big backfills (a fresh
snapshot of a million papers) belong to `dailypapers index` in a shell or cron.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..search.backends import semantic_backend
from ..search.keyword import KeywordIndex
from ..search.vector import Embedder, embed_pending
from ..storage import Store
from ..storage.locks import file_lock

log = logging.getLogger(__name__)
EMBED_PER_ROUND = 256

# (stage, done, total): stages are "keyword index", "embeddings" and "vector index".
StageProgress = Callable[[str, int, int], None]


@contextmanager
def index_lock(data_dir: str | Path, *, wait: bool) -> Iterator[bool]:
    """Holds `<data_dir>/search/index.lock` for the block; yields False (without it) when
    `wait` is False and another process has it. The lock dies with its process."""
    folder = Path(data_dir).expanduser() / "search"
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / "index.lock", wait=wait) as held:
        yield held


@dataclass(frozen=True)
class IndexRound:
    """What one round did: papers (re)indexed by keyword and searchable now, papers embedded,
    vectors added to the index beside the database and in it (None where the database keeps
    its own index), and how long it took."""

    keyword: int
    searchable: int
    embedded: int
    vectors: int
    vectors_indexed: int | None
    seconds: float
    model: str | None = None


def update_indexes(
    store: Store,
    config: Config,
    embedder: Embedder | None,
    *,
    rebuild: bool = False,
    embed_limit: int | None = None,
    background: bool = False,
    progress: StageProgress | None = None,
    on_wait: Callable[[], None] | None = None,
    keyword: bool = True,
) -> IndexRound | None:
    """One round of index upkeep; with no `embedder`, the keyword index alone.

    `rebuild` starts the indexes beside the database again from the catalog. `background`
    rewrites the vector index only when it is due (many vectors waiting, or an hour) instead
    of every time. `keyword=False` leaves the keyword index alone (the embeddings job, which
    runs once per cluster, while each machine keeps its own keyword index). The lock: with
    `on_wait`, wait for another process's round (calling `on_wait` first); without, return
    None at once when another process holds it.
    """
    options = (rebuild, embed_limit, background, progress, keyword)
    with index_lock(config.data_dir, wait=False) as held:
        if held:
            return _round(store, config, embedder, *options)
    if on_wait is None:
        return None
    on_wait()
    with index_lock(config.data_dir, wait=True):
        return _round(store, config, embedder, *options)


def _round(
    store: Store,
    config: Config,
    embedder: Embedder | None,
    rebuild: bool,
    embed_limit: int | None,
    background: bool,
    progress: StageProgress | None,
    with_keyword: bool = True,
) -> IndexRound:
    started = time.perf_counter()

    def stage(name: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(name, done, total)

    indexed = searchable = 0
    if with_keyword:  # else not even opened: opening makes an empty index folder
        keyword = KeywordIndex.for_data_dir(config.data_dir)
        tick = stage("keyword index")
        indexed = keyword.rebuild(store, tick) if rebuild else keyword.update(store, tick)
        searchable = keyword.count()
    embedded = vectors = 0
    vectors_indexed: int | None = None
    if embedder is not None:
        embedded = embed_pending(
            store,
            embedder,
            batch_size=config.embedding_batch_size,
            stop_after=embed_limit,
            progress=stage("embeddings"),
        )
        semantic = semantic_backend(store, config.data_dir, embedder.name)
        if background:
            vectors = semantic.update_index_if_due()
        else:
            vectors = semantic.update_index(stage("vector index"), rebuild=rebuild)
        vectors_indexed = semantic.index_size()
    return IndexRound(
        keyword=indexed,
        searchable=searchable,
        embedded=embedded,
        vectors=vectors,
        vectors_indexed=vectors_indexed,
        seconds=time.perf_counter() - started,
        model=embedder.name if embedder is not None else None,
    )
