"""The approximate nearest-neighbour index beside a SQLite catalog: usearch HNSW (cosine, f16
storage, M=16, ef_add 128, ef_search 512; bench/search.py measures its recall) over the stored
vectors of one model.

The database stays the source of truth: `update` adds the vectors saved since the last run
(a watermark on paper_vectors.created_at; a paper's old vector is removed first), `rebuild`
starts again from all of them. Keys are 63-bit digests of the arXiv id.

On disk, one folder per model holds generations: `vectors.<n>.usearch` (the graph),
`keys.<n>.npy` (sorted keys) and `ids.<n>.npy` (the arXiv id of each key), and `index.json`
naming the current generation and its watermark. A save writes a new generation and then
replaces `index.json`, so readers never see half a save. Searching processes memory-map the
current generation (`VectorIndex.reader`), so several web workers share one copy in the page
cache, and notice a newer generation by the change of `index.json`.
PostgreSQL does not need any of this: pgvector's HNSW index answers there (search/backends.py
chooses).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..domain.papers import NO_FILTER, PaperFilter
from ..storage import Store
from ..storage.vectors import (
    DIMENSIONS,
    count_vectors_since,
    nearest,
    saved_since,
    vectors_since,
    visible_among,
)

if TYPE_CHECKING:
    from usearch.index import Index

_BATCH = 5000
LOOK_BACK = timedelta(seconds=60)
SAVE_EVERY_SECONDS = 60.0
# Search breadth. bench/search.py at 1M papers, Recall@10 against exact search: ef 64 0.78,
# 128 0.90, 256 0.95, 512 0.97 (2.1 ms per search), 1024 0.97.
EF_SEARCH = 512
ANN_MAX_CANDIDATES = 20_000
DELTA_EXACT_MAX = 20_000  # newer vectors compared exactly at each search, at most
_META = "index.json"


def vector_key(arxiv_id: str) -> int:
    return int.from_bytes(hashlib.sha1(arxiv_id.encode()).digest()[:8], "big") >> 1  # noqa: S324


def _usearch_index() -> type[Index]:
    """usearch's Index, imported after onnxruntime (when it is installed). The usearch 2.26
    wheel carries its own libstdc++ and exports its locale ids to the whole process:
    onnxruntime (1.30) imported after it crashes the process in its C++ set-up (a segfault);
    imported before it, both work. The embedder imports onnxruntime only on its first query,
    so this is the one place that can order them."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


def _new_index() -> Index:
    return _usearch_index()(
        ndim=DIMENSIONS,
        metric="cos",
        dtype="f16",
        connectivity=16,
        expansion_add=128,
        expansion_search=EF_SEARCH,
    )


def _folder(data_dir: str | Path, model: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-").lower()
    return Path(data_dir).expanduser() / "search" / "vectors" / slug


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((folder / _META).read_text()))
    except FileNotFoundError:
        return None


def _until(meta: dict[str, Any] | None) -> tuple[datetime, str] | None:
    until = meta.get("until") if meta else None
    return (datetime.fromisoformat(until[0]), until[1]) if until else None


class VectorIndex:
    """The index of one model's vectors for building (`update`, `rebuild`): the current
    generation is loaded into memory only when there is something to add."""

    def __init__(self, folder: Path, model: str) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.model = model
        meta = _read_meta(folder)
        self.watermark = _until(meta)
        self.generation = int(meta["generation"]) if meta else 0
        self.saved_at = (folder / _META).stat().st_mtime if meta else None
        self._index: Index | None = None
        self._saved_count = int(meta.get("count", 0)) if meta else 0
        self.ids: dict[int, str] = {}

    @property
    def index(self) -> Index:
        if self._index is None:
            self._index = _new_index()
            if self.saved_at is not None:
                self._index.load(str(self.folder / f"vectors.{self.generation}.usearch"))
                keys = np.load(self.folder / f"keys.{self.generation}.npy")
                ids = np.char.decode(np.load(self.folder / f"ids.{self.generation}.npy"))
                self.ids = dict(zip(keys.tolist(), ids.tolist(), strict=True))
        return self._index

    def pending(self, store: Store) -> int:
        """How many vectors were saved since the last update (without loading the index)."""
        return self._count_since(store, self.watermark)

    @classmethod
    def for_data_dir(cls, data_dir: str | Path, model: str) -> VectorIndex:
        return cls(_folder(data_dir, model), model)

    @staticmethod
    def reader(data_dir: str | Path, model: str) -> IndexReader | None:
        """This process's memory-mapped view of the current generation (None before the
        first build); reopened when a newer generation has been saved."""
        return IndexReader.current(_folder(data_dir, model))

    def __len__(self) -> int:
        return self._saved_count if self._index is None else len(self._index)

    def rebuild(self, store: Store, progress: Callable[[int, int], None] | None = None) -> int:
        generation = self.generation
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self._index, self.ids, self.watermark = _new_index(), {}, None
        self.saved_at = None
        self.generation = generation  # keep counting up: a reader's cache key must change
        return self.update(store, progress)

    def update(self, store: Store, progress: Callable[[int, int], None] | None = None) -> int:
        """Add the vectors saved since the last update (a paper's previous vector is removed
        first); returns how many. A new generation is saved at most every
        SAVE_EVERY_SECONDS and at the end, so a killed run redoes at most that much work."""
        cursor = self.watermark
        now = datetime.now(UTC).replace(tzinfo=None)
        if cursor is not None and now - cursor[0] < LOOK_BACK:
            # A vector stamped just before the watermark may not have been committed when the
            # last run read: while the watermark is recent, read the last minute again.
            cursor = (cursor[0] - LOOK_BACK, "")
        total = self._count_since(store, cursor)
        done, unsaved, saved_at = 0, 0, time.monotonic()
        while True:
            with store.connect() as conn:
                rows = vectors_since(conn, self.model, cursor, _BATCH)
            if not rows:
                break
            index = self.index  # loads the saved generation (and self.ids) on first use
            keys = [vector_key(arxiv_id) for arxiv_id, _, _ in rows]
            for key in keys:
                if key in self.ids:
                    index.remove(key)
            vectors = np.stack([vector for _, vector, _ in rows])
            self.index.add(np.array(keys, dtype=np.uint64), vectors)
            self.ids.update({key: row[0] for key, row in zip(keys, rows, strict=True)})
            cursor = (rows[-1][2], rows[-1][0])
            if self.watermark is None or cursor > self.watermark:
                self.watermark = cursor
            done += len(rows)
            unsaved += len(rows)
            if progress:
                progress(done, max(total, done))
            if time.monotonic() - saved_at > SAVE_EVERY_SECONDS:
                self._save()
                unsaved, saved_at = 0, time.monotonic()
        if unsaved or _read_meta(self.folder) is None:
            self._save()
        return done

    def _count_since(self, store: Store, cursor: tuple[datetime, str] | None) -> int:
        with store.connect() as conn:
            return count_vectors_since(conn, self.model, cursor)

    def _save(self) -> None:
        generation = self.generation + 1
        keys = np.array(sorted(self.ids), dtype=np.uint64)
        ids = np.array([self.ids[k].encode() for k in keys.tolist()], dtype=np.bytes_)
        if not len(ids):
            ids = np.zeros(0, dtype="S1")
        self.index.save(str(self.folder / f"vectors.{generation}.usearch"))
        np.save(self.folder / f"keys.{generation}.npy", keys)
        np.save(self.folder / f"ids.{generation}.npy", ids)
        until = [self.watermark[0].isoformat(), self.watermark[1]] if self.watermark else None
        temporary = self.folder / (_META + ".tmp")
        temporary.write_text(
            json.dumps({"generation": generation, "until": until, "count": len(self.index)})
        )
        os.replace(temporary, self.folder / _META)
        self.generation, self.saved_at = generation, time.time()
        for old in self.folder.iterdir():  # readers keep their mapped files open until done
            match = re.fullmatch(r"(?:vectors|keys|ids)\.(\d+)\.(?:usearch|npy)", old.name)
            if match and int(match.group(1)) != generation:
                old.unlink(missing_ok=True)

    def search(
        self, vector: np.ndarray, count: int, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """(arxiv_id, cosine similarity), closest first; `exclude` left out."""
        return _search(
            self.index,
            lambda keys: [self.ids.get(k) for k in keys.tolist()],
            vector,
            count,
            exclude,
        )


class IndexReader:
    """A memory-mapped generation of the index, shared by the threads of one process."""

    _open: dict[Path, IndexReader] = {}
    _lock = threading.Lock()

    def __init__(self, folder: Path, stamp: tuple[int, int], meta: dict[str, Any]) -> None:
        generation = int(meta["generation"])
        self.stamp = stamp
        self.until = _until(meta)
        self.index = _new_index()
        self.index.view(str(folder / f"vectors.{generation}.usearch"))
        self.index.expansion_search = EF_SEARCH  # type: ignore[misc]  # it has a setter
        self.keys = np.load(folder / f"keys.{generation}.npy", mmap_mode="r")
        self.ids = np.load(folder / f"ids.{generation}.npy", mmap_mode="r")

    @classmethod
    def current(cls, folder: Path) -> IndexReader | None:
        try:
            info = (folder / _META).stat()
        except FileNotFoundError:
            return None
        stamp = (info.st_mtime_ns, info.st_ino)
        reader = cls._open.get(folder)
        if reader is not None and reader.stamp == stamp:
            return reader
        with cls._lock:
            reader = cls._open.get(folder)
            if reader is None or reader.stamp != stamp:
                meta = _read_meta(folder)
                if meta is None:
                    return None
                try:
                    reader = cls(folder, stamp, meta)
                except FileNotFoundError:  # a newer save replaced it while we read
                    return cls._open.get(folder)
                cls._open[folder] = reader
        return reader

    def __len__(self) -> int:
        return len(self.index)

    def _ids(self, keys: np.ndarray) -> list[str | None]:
        """The arXiv ids of these keys (None for a key it does not know), in one lookup."""
        if not len(self.keys):
            return [None] * len(keys)
        positions = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        known = np.asarray(self.keys[positions]) == keys
        names = self.ids[positions]
        return [bytes(n).decode() if k else None for n, k in zip(names, known, strict=True)]

    def search(
        self, vector: np.ndarray, count: int, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """(arxiv_id, cosine similarity), closest first; `exclude` left out."""
        return _search(self.index, self._ids, vector, count, exclude)


def _search(
    index: Index,
    ids_of: Callable[[np.ndarray], list[str | None]],
    vector: np.ndarray,
    count: int,
    exclude: Sequence[str],
) -> list[tuple[str, float]]:
    if len(index) == 0:
        return []
    matches = index.search(
        np.asarray(vector, dtype=np.float32), min(count + len(exclude), len(index))
    )
    keys = np.asarray(matches.keys, dtype=np.uint64)
    found = []
    for arxiv_id, distance in zip(ids_of(keys), matches.distances.tolist(), strict=True):
        if arxiv_id is not None and arxiv_id not in exclude:
            found.append((arxiv_id, 1.0 - float(distance)))
    return found[:count]


def semantic_neighbours(
    store: Store,
    data_dir: str,
    model: str,
    vector: np.ndarray,
    limit: int,
    exclude: Sequence[str] = (),
    *,
    where: PaperFilter = NO_FILTER,
) -> list[tuple[str, float]]:
    """Nearest stored vectors, closest first, filter applied: from the usearch index when one
    has been built (over-fetching, then filtering in SQL, and scanning exactly when too few
    candidates pass the filter), else by scanning the stored vectors exactly."""
    index = VectorIndex.reader(data_dir, model)
    if index is not None and len(index) and index.until is not None:
        # Vectors saved since the index was written (the delta: a day's new papers, a new
        # version) are compared exactly and replace what the index holds for them. A delta
        # too big to compare at each search (a backfill under way) waits for the next index
        # update instead.
        fresh: list[tuple[str, float]] = []
        with store.connect() as conn:
            changed = saved_since(conn, model, index.until, DELTA_EXACT_MAX) or set()
            if changed:
                fresh = nearest(conn, vector, model, limit, exclude, where=where, since=index.until)
        # The filter (and hidden papers) are applied to the candidates: ask for a few more
        # than needed, and four times more again while too few pass, up to a cap beyond
        # which an exact scan of the papers passing the filter is cheaper.
        asked = (limit * 4 if where else limit + 10) + len(changed)
        while asked <= ANN_MAX_CANDIDATES:
            candidates = index.search(vector, asked, exclude)
            with store.connect() as conn:
                allowed = visible_among(conn, [i for i, _ in candidates], where)
            found = [(i, s) for i, s in candidates if i in allowed and i not in changed]
            if len(found) + len(fresh) >= limit or len(candidates) < asked:
                return sorted(found + fresh, key=lambda pair: -pair[1])[:limit]
            asked *= 4
    with store.connect() as conn:
        return nearest(conn, vector, model, limit, exclude, where=where)
