"""The two runtimes of the real all-MiniLM-L6-v2 model: onnxruntime on the ONNX file made from
the packaged weights gives torch's vectors; the file is cached, checked and made again when
missing or damaged; the `embedding_backend` setting picks the runtime."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dailypapers.config import ConfigError, load_config
from dailypapers.domain.records import PaperRecord
from dailypapers.ingest.demo import iter_seed_papers
from dailypapers.search import onnx_export
from dailypapers.search.vector import Embedder, default_cache_dir, embedder_for, paper_text

from .conftest import DEMO

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def onnx_embedder():
    embedder = Embedder(backend="onnx")
    assert embedder.runtime == "onnx"
    return embedder


@pytest.fixture(scope="session")
def torch_embedder():
    embedder = Embedder(backend="torch")
    assert embedder.runtime == "torch"
    return embedder


def real_texts() -> list[str]:
    """Short queries, long abstracts (cut at 128 tokens), non-ASCII and LaTeX, one word."""
    queries = [q for q, _ in json.loads((ROOT / "bench" / "judged_queries.json").read_text())]
    papers = [
        paper_text(r.title, r.abstract)
        for r in iter_seed_papers(DEMO / "seed-papers.json")
        if isinstance(r, PaperRecord)
    ]
    return [
        *queries[:12],
        *papers[:12],
        "Équations de Navier–Stokes à faible nombre de Mach: existence globale, Ω ⊂ ℝ³",
        r"A bound on $\|\nabla u\|_{L^2}$ for $\alpha$-stable Lévy processes, $O(n \log n)$",
        "量子纠错码 and Тензорные сети for 강화학습 🚀",
        "transformers",
        "   diffusion   ",
    ]


def test_onnx_gives_torch_vectors(onnx_embedder, torch_embedder):
    texts = real_texts()
    tokens = onnx_embedder._load()._tokenizer.encode_batch(texts)
    assert max(sum(t.attention_mask) for t in tokens) == 128  # long abstracts are cut
    assert min(sum(t.attention_mask) for t in tokens) == 3  # [CLS] word [SEP]
    onnx = onnx_embedder.embed(texts, batch_size=8)  # batches of mixed lengths: padding
    torch = torch_embedder.embed(texts, batch_size=8)
    cosines = np.sum(onnx * torch, axis=1)
    assert cosines.min() >= 0.9999, [texts[i][:40] for i in np.argsort(cosines)[:3]]
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    alone = np.stack([onnx_embedder.embed_query(t) for t in texts[:3] + texts[-5:]])
    assert np.sum(alone * np.concatenate([torch[:3], torch[-5:]]), axis=1).min() >= 0.9999
    # the same vectors, so the same name: catalogs embedded with torch need nothing new
    assert onnx_embedder.name == torch_embedder.name == "sentence-transformers/all-MiniLM-L6-v2@128"


def test_the_onnx_file_is_made_in_a_child_and_queries_never_import_torch(tmp_path):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dailypapers.search.vector import Embedder\n"
        f"embedder = Embedder(threads=1, cache_dir=Path({str(tmp_path)!r}))\n"
        "assert embedder.embed_query('sparse attention').shape == (384,)\n"
        "assert embedder.runtime == 'onnx'\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    made = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=900)
    assert made.returncode == 0, made.stderr.decode()[-2000:]
    assert b"converting all-MiniLM-L6-v2 to ONNX" in made.stderr
    assert len(list(tmp_path.glob("*.onnx"))) == len(list(tmp_path.glob("*.json"))) == 1
    assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind
    reused = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert reused.returncode == 0 and b"converting" not in reused.stderr


def test_the_onnx_file_is_reused_and_made_again_when_damaged(
    tmp_path, onnx_embedder, torch_embedder
):
    onnx_embedder.embed_query("warm the cache")
    made = onnx_export.ModelFiles.for_cache(default_cache_dir(), onnx_export.model_dir())
    files = onnx_export.ModelFiles.for_cache(tmp_path, onnx_export.model_dir())
    shutil.copy(made.onnx, files.onnx)
    shutil.copy(made.meta, files.meta)
    probe = "graph colouring of sparse random graphs"
    expected = torch_embedder.embed([probe])[0]

    def embed_with_a_fresh_embedder() -> np.ndarray:
        embedder = Embedder(cache_dir=tmp_path)
        vector = embedder.embed([probe])[0]
        assert embedder.runtime == "onnx" and float(vector @ expected) >= 0.9999
        return vector

    before = files.onnx.stat()
    embed_with_a_fresh_embedder()
    after = files.onnx.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # reused

    # damaged in place, same size (zeros over a few weights: onnxruntime loads it, and even
    # the probe vectors barely move, but its SHA-256 is not the recorded one)
    with files.onnx.open("r+b") as handle:
        handle.seek(files.onnx.stat().st_size // 2)
        handle.write(bytes(4096))
    embed_with_a_fresh_embedder()
    assert files.onnx.stat().st_ino != before.st_ino  # a new file renamed into place
    assert onnx_export._sha256(files.onnx) == json.loads(files.meta.read_text())["sha256"]


def test_a_changed_model_package_gets_its_own_file(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(onnx_export.model_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    (folder / "model.safetensors").write_bytes(b"x" * 10)
    key = onnx_export.cache_key(folder)
    assert key != onnx_export.cache_key(onnx_export.model_dir())
    (folder / "config.json").write_text((folder / "config.json").read_text() + " ")
    assert onnx_export.cache_key(folder) != key


def test_when_no_onnx_file_can_be_made_torch_embeds_instead(tmp_path, caplog, torch_embedder):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    embedder = Embedder(cache_dir=blocked / "models")
    vector = embedder.embed(["sparse attention"])[0]
    assert embedder.runtime == "torch" and embedder.name == torch_embedder.name
    assert float(vector @ torch_embedder.embed(["sparse attention"])[0]) >= 0.9999
    assert "using torch instead, which gives the same vectors" in caplog.text
    assert "cannot write the model cache" in caplog.text


def test_the_backend_setting_picks_the_runtime_and_keeps_the_vectors_name(tmp_path):
    default = embedder_for(load_config(environ={"DAILYPAPERS_DATA_DIR": str(tmp_path)}))
    assert default.backend == "onnx" and default.cache_dir == tmp_path.resolve() / "models"
    elsewhere = {"DAILYPAPERS_EMBEDDING_CACHE_DIR": str(tmp_path / "shared")}
    assert embedder_for(load_config(environ=elsewhere)).cache_dir == tmp_path / "shared"
    on_torch = embedder_for(
        load_config(environ={"DAILYPAPERS_EMBEDDING_BACKEND": "torch"}), threads=1
    )
    assert on_torch.backend == "torch" and on_torch.name == default.name
    assert (
        embedder_for(load_config(environ={"DAILYPAPERS_EMBEDDING_BACKEND": " ONNX"})).backend
        == "onnx"
    )
    on_gpu = embedder_for(load_config(environ={}), device="cuda")
    assert on_gpu.backend == "onnx" and on_gpu.is_installed()  # torch runs it there
    with pytest.raises(ConfigError, match="embedding_backend"):
        load_config(environ={"DAILYPAPERS_EMBEDDING_BACKEND": "tensorrt"})
    with pytest.raises(ValueError, match="unknown embedding backend"):
        Embedder(backend="onnx-int8")


def test_the_vector_index_and_onnxruntime_share_a_process(tmp_path, onnx_embedder):
    """usearch's wheel exports its own libstdc++'s locale ids; onnxruntime imported after it
    crashed the process (search/ann.py imports them in the order that works)."""
    onnx_embedder.embed_query("warm the cache")
    script = (
        "from dailypapers.web.app import create_app\n"  # everything a web worker imports
        "from dailypapers.search.ann import VectorIndex\n"
        f"assert len(VectorIndex.for_data_dir({str(tmp_path)!r}, 'm').index) == 0\n"
        "from dailypapers.search.vector import Embedder\n"
        "assert Embedder(threads=1).embed(['sparse attention']).shape == (1, 384)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr.decode()[-2000:])
