"""Keeping the search indexes current from inside `dailypapers serve`.

Every `index_interval_seconds`, and soon after a paper is submitted (`wake`), one web worker
brings the indexes up to date: the tantivy index, the embeddings of up to
EMBED_PER_ROUND new papers, and the usearch index (SQLite) once enough new vectors wait
(until then searches compare them exactly; see ann.py). A file lock in the data folder
makes sure one process at a time does this, whether a web worker or `dailypapers index`; a
worker that finds it taken skips the round. Big backfills (a fresh snapshot of a million
papers) belong to `dailypapers index` in a shell or cron: a round embeds a few hundred papers
at most, so searches in the same process stay quick.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..storage import Store

log = logging.getLogger(__name__)
EMBED_PER_ROUND = 256
VECTOR_DELTA_MAX = 2000  # vectors searched exactly before the ANN index is rewritten
VECTOR_DELTA_SECONDS = 3600.0


@contextmanager
def index_lock(data_dir: str | Path, *, wait: bool) -> Iterator[bool]:
    """Holds `<data_dir>/search/index.lock` for the block; yields False (without it) when
    `wait` is False and another process has it. The lock dies with its process."""
    folder = Path(data_dir).expanduser() / "search"
    folder.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = (folder / "index.lock").open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


@dataclass(frozen=True)
class Round:
    keyword: int
    embedded: int
    vectors: int
    seconds: float


def refresh_indexes(
    store: Store, data_dir: str, embedder: Any, *, embed_limit: int | None = EMBED_PER_ROUND
) -> Round | None:
    """One round of index upkeep, or None when another process is doing it."""
    from .ann import VectorIndex
    from .keyword import KeywordIndex
    from .vector import embed_pending

    started = time.perf_counter()
    with index_lock(data_dir, wait=False) as held:
        if not held:
            return None
        keyword = vectors = embedded = 0
        keyword = KeywordIndex.for_data_dir(data_dir).update(store)
        if embedder is not None:
            embedded = embed_pending(store, embedder, stop_after=embed_limit)
            if store.dialect == "sqlite":
                index = VectorIndex.for_data_dir(data_dir, embedder.name)
                waiting = index.pending(store)
                age = time.time() - index.saved_at if index.saved_at else float("inf")
                # Searches compare the vectors saved since the index was written exactly, so
                # rewriting the whole index file can wait for a bigger delta or an hour.
                if waiting >= VECTOR_DELTA_MAX or (waiting and age > VECTOR_DELTA_SECONDS):
                    vectors = index.update(store)
    return Round(keyword, embedded, vectors, time.perf_counter() - started)


class BackgroundIndexer:
    """A daemon thread running `refresh_indexes` every `interval` seconds and on `wake`."""

    def __init__(self, store: Store, data_dir: str, embedder: Any, interval: float) -> None:
        self.store, self.data_dir, self.embedder = store, data_dir, embedder
        self.interval = interval
        self.rounds = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="search-indexer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run a round soon (a paper was submitted)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                done = refresh_indexes(self.store, self.data_dir, self._embedder())
            except Exception:  # a bad round must not end the thread; the next one retries
                log.exception("search index round failed")
                continue
            self.rounds += 1
            if done is not None and (done.keyword or done.embedded or done.vectors):
                log.info(
                    "search indexes: %d papers re-indexed, %d embedded, %d vectors added in %.1f s",
                    done.keyword,
                    done.embedded,
                    done.vectors,
                    done.seconds,
                )

    def _embedder(self) -> Any:
        """The shared embedder, or None when the semantic extra is not installed."""
        if self.embedder is None:
            return None
        try:
            import sentence_transformers  # noqa: F401
        except ImportError:
            log.warning("semantic search is not installed: the indexer keeps keywords only")
            self.embedder = None
        return self.embedder
