"""The two runtimes that turn a batch of texts into all-MiniLM-L6-v2 vectors: onnxruntime on
the cached ONNX file (onnx_export.py makes it) with the `tokenizers` library, and
sentence-transformers on torch. Batching, caching and the choice between them are vector.py's.

Both give the same vectors (cosine >= 0.9999, tests/test_vectors.py): the same tokenizer file,
the same truncation, mean pooling over the attention mask, unit length. Both are thread-safe:
only tokenising is serialised, forward passes run side by side.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import onnx_export

if TYPE_CHECKING:
    import onnxruntime


class Encoder(Protocol):
    runtime: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, for one batch."""
        ...


class OnnxEncoder:
    """onnxruntime on the CPU, on a session of onnx_export.open_session: no torch in the
    process, and a short query in a few milliseconds."""

    runtime = "onnx"

    def __init__(self, session: onnxruntime.InferenceSession, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self._session = session
        tokenizer = Tokenizer.from_file(str(onnx_export.model_dir() / "tokenizer.json"))
        # tokenizer.json pads every text to 128 tokens; pad to the batch's longest instead, as
        # sentence-transformers does, and cut at max_tokens ([CLS] and [SEP] included).
        padding = tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]"}
        tokenizer.enable_padding(pad_id=padding["pad_id"], pad_token=padding["pad_token"])
        tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer = tokenizer
        self._tokenizer_lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        outputs = self._session.run(
            [onnx_export.OUTPUT], {"input_ids": ids, "attention_mask": mask}
        )
        return np.asarray(outputs[0], dtype=np.float32)


class TorchEncoder:
    """sentence-transformers on torch: the reference, and the runtime for GPUs."""

    runtime = "torch"

    def __init__(self, device: str, max_tokens: int, threads: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if threads:
            torch.set_num_threads(threads)  # for the whole process
        model = SentenceTransformer(str(onnx_export.model_dir()), device=device)
        model.max_seq_length = max_tokens
        model.eval()
        self._model: Any = model
        self._tokenizer_lock = threading.Lock()  # the fast tokenizer must not be shared by threads

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        model = self._model
        with self._tokenizer_lock:
            features = model.preprocess(texts)
        inputs = {
            k: v.to(model.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()
        }
        with torch.inference_mode():
            vectors = model(inputs)["sentence_embedding"]
        return np.asarray(vectors.float().cpu().numpy(), dtype=np.float32)
