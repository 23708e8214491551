"""Embedding speed (issue 10): one query's latency and the throughput of `dailypapers index`,
torch against onnxruntime (fp32, and an int8 experiment), on real arXiv text at 128 tokens.

    .venv/bin/python bench/embed.py [--papers 2000] [--repeat 3] [--backends torch onnx int8]

Latency: the 60 judged queries (bench/judged_queries.json), each embedded alone through
`embed_query` without its cache, on one thread as the web app runs it, after a warm-up pass;
p50 and p99 over every timing of every repeat. Throughput: the first `--papers` papers of
the arXiv sample (title + ". " + abstract, as `paper_text` makes them), embedded the way
`embed_pending` does (chunks of PER_READ batches, each chunk sorted by length), for several
batch sizes and thread counts; papers/s per repeat (wall clock, and per second of the
process's CPU time), the median reported. Agreement: the smallest and mean cosine between
each backend's vectors and torch's, papers and queries.

`int8` is not a backend of dailypapers: it is the ONNX file with int8 weights (onnxruntime's
dynamic quantisation, per output channel), made here under bench/results/ and run by the
same encoder. It is faster, but its vectors are not the model's: on bench/search_quality.py (then bench/search_eval.py)
(`--backend int8`) it lost 0.018 semantic MRR@10, more than the 0.005 it was allowed.

Each backend runs in a fresh process for each repeat (so the onnx process never imports
torch, and peak RSS is the backend's own), and repeats interleave the backends, so the load of
a shared machine falls on all of them alike. The 1-minute load average is recorded around
every run: quote medians, and distrust numbers taken under load. Results go to
bench/results/embed.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
TOKENS = 128
# (batch size, threads): the index job's default batch at 1 and 2 threads, and smaller and
# larger batches on every core.
CONFIGS = [(64, 2), (16, 2), (128, 2), (64, 1)]


def paper_texts(count: int) -> list[str]:
    from dailypapers.search.vector import paper_text

    texts = []
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            texts.append(paper_text(" ".join(record["title"].split()), record["abstract"]))
            if len(texts) == count:
                break
    return texts


def queries() -> list[str]:
    return [q for q, _ in json.loads((ROOT / "bench" / "judged_queries.json").read_text())]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


def _memory_mb(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak) of this process, in MB."""
    status = Path("/proc/self/status").read_text()
    return round(int(re.search(rf"{field}:\s+(\d+)", status).group(1)) / 1024)  # type: ignore[union-attr]


def int8_embedder(threads: int, query_cache: int = 1024) -> Any:
    """An Embedder running the cached ONNX file with int8 weights (made here once), its
    vectors named `...@128+int8`: they are not the model's."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from dailypapers.search import onnx_export
    from dailypapers.search.encoders import OnnxEncoder
    from dailypapers.search.vector import Embedder, default_cache_dir

    onnx_export.open_session(default_cache_dir(), 1)  # the fp32 file, made when missing
    fp32 = onnx_export.ModelFiles.for_cache(default_cache_dir(), onnx_export.model_dir())
    int8 = RESULTS / f"{fp32.onnx.stem}-int8.onnx"
    if not int8.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        made = int8.with_suffix(".tmp")
        quantize_dynamic(fp32.onnx, made, weight_type=QuantType.QInt8, per_channel=True)
        made.rename(int8)
    embedder = Embedder(max_tokens=TOKENS, threads=threads, query_cache=query_cache)
    embedder._model = OnnxEncoder(onnx_export.new_session(int8, threads), TOKENS)
    embedder.name += "+int8"
    return embedder


def embedder_for(backend: str, threads: int, query_cache: int = 1024) -> Any:
    from dailypapers.search.vector import Embedder

    if backend == "int8":
        return int8_embedder(threads, query_cache)
    return Embedder(max_tokens=TOKENS, threads=threads, query_cache=query_cache, backend=backend)


def measure(backend: str, papers: int, rounds: int, configs: list[tuple[int, int]]) -> dict:  # type: ignore[type-arg]
    """One backend in this process: load time, query latency, throughput per config."""
    from dailypapers.search.vector import PER_READ

    texts = paper_texts(papers)
    asked = queries()
    start = time.perf_counter()
    single = embedder_for(backend, threads=1, query_cache=0)
    single.embed_query(asked[0])
    result: dict[str, Any] = {"backend": backend, "runtime": single.runtime, "model": single.name}
    result["load_s"] = round(time.perf_counter() - start, 2)
    for text in asked:  # warm-up
        single.embed_query(text)
    samples = []
    for _ in range(rounds):
        for text in asked:
            start = time.perf_counter()
            single.embed_query(text)
            samples.append(time.perf_counter() - start)
    result["query_samples"] = samples
    result["rss_after_queries_mb"] = _memory_mb("VmRSS")  # what a searching process holds
    result["query_vectors"] = single.embed(asked).tolist()
    throughput, per_cpu_second = {}, {}
    embedders = {1: single}
    for batch, threads in configs:
        if backend == "torch":  # one model; torch's thread count is the process's
            import torch

            torch.set_num_threads(threads)
            embedder = single
        else:  # an onnxruntime session has its own thread pool
            if threads not in embedders:
                embedders[threads] = embedder_for(backend, threads)
            embedder = embedders[threads]
        embedder.embed(texts[:batch], batch)  # warm-up at this shape
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        start, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(texts), batch * PER_READ):  # as embed_pending reads them
            chunk = texts[first : first + batch * PER_READ]
            vectors[first : first + len(chunk)] = embedder.embed(chunk, batch)
        key = f"batch {batch}, {threads} threads"
        throughput[key] = round(len(texts) / (time.perf_counter() - start), 1)
        # Papers per second of this process's CPU time: what the run would reach with its
        # threads' cores to itself (threads that spin while waiting count too), so a number
        # that a loaded machine bends less than the wall-clock one.
        per_cpu_second[key] = round(len(texts) / (time.process_time() - cpu), 1)
        print(f"    {backend} {key}: {throughput[key]} papers/s, {per_cpu_second[key]} per CPU-second", file=sys.stderr, flush=True)  # fmt: skip
        if (batch, threads) == configs[0]:
            np.save(RESULTS / f"embed-vectors-{backend}.npy", vectors)
    result["papers_per_s"] = throughput
    result["papers_per_cpu_s"] = per_cpu_second
    result["peak_rss_mb"] = _memory_mb("VmHWM")
    return result


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def summarise(runs: dict[str, list[dict]], papers: int) -> dict:  # type: ignore[type-arg]
    """Medians over repeats, percentiles over all latency samples, cosines against torch."""
    summary: dict[str, Any] = {}
    torch_papers = RESULTS / "embed-vectors-torch.npy"
    for backend, repeats in runs.items():
        samples = [s for r in repeats for s in r["query_samples"]]
        configs = repeats[0]["papers_per_s"]
        entry: dict[str, Any] = {
            "runtime": repeats[0]["runtime"],
            "model": repeats[0]["model"],
            "query": _percentiles(samples),
            "query_p50_ms_per_repeat": [
                _percentiles(r["query_samples"])["p50_ms"] for r in repeats
            ],
            "papers_per_s": {
                c: statistics.median(r["papers_per_s"][c] for r in repeats) for c in configs
            },
            "papers_per_s_per_repeat": {
                c: [r["papers_per_s"][c] for r in repeats] for c in configs
            },
            "papers_per_cpu_s": {
                c: statistics.median(r["papers_per_cpu_s"][c] for r in repeats) for c in configs
            },
            "load_s": statistics.median(r["load_s"] for r in repeats),
            "rss_after_queries_mb": statistics.median(r["rss_after_queries_mb"] for r in repeats),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in repeats),
            "load_average": [r["load_average"] for r in repeats],
        }
        if backend != "torch" and "torch" in runs and torch_papers.exists():
            theirs = np.load(RESULTS / f"embed-vectors-{backend}.npy")
            cosines = np.sum(theirs * np.load(torch_papers), axis=1)
            query_cosines = np.sum(
                np.array(repeats[0]["query_vectors"]) * np.array(runs["torch"][0]["query_vectors"]),
                axis=1,
            )
            entry["cosine_vs_torch"] = {
                f"papers ({papers})": {"min": float(cosines.min()), "mean": float(cosines.mean())},
                f"queries ({len(query_cosines)})": {
                    "min": float(query_cosines.min()),
                    "mean": float(query_cosines.mean()),
                },
            }
        summary[backend] = entry
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="latency passes over the queries")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "int8"])
    parser.add_argument(
        "--configs",
        nargs="+",
        default=[f"{b}x{t}" for b, t in CONFIGS],
        help="BATCHxTHREADS throughput settings; the first one's vectors are compared",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--out", type=Path, default=RESULTS / "embed.json")
    args = parser.parse_args()
    configs = [(int(b), int(t)) for b, t in (c.split("x") for c in args.configs)]
    if args.worker:
        print(json.dumps(measure(args.worker, args.papers, args.rounds, configs)))
        return
    if not SAMPLE.exists():
        sys.exit(f"needs the arXiv sample at {SAMPLE}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} CPUs; {uptime}", flush=True)
    runs: dict[str, list[dict]] = {b: [] for b in args.backends}  # type: ignore[type-arg]
    for repeat in range(args.repeat):
        for backend in args.backends:
            before = _load()
            print(f"repeat {repeat + 1}/{args.repeat}: {backend} (load {before})", flush=True)
            child = subprocess.run(
                [sys.executable, __file__, "--worker", backend, "--papers", str(args.papers),
                 "--rounds", str(args.rounds), "--configs", *args.configs],
                stdout=subprocess.PIPE, text=True, check=True,
            )  # fmt: skip
            run = json.loads(child.stdout.splitlines()[-1])
            run["load_average"] = [before, _load()]
            runs[backend].append(run)
    results = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "uptime_before": uptime},
        "tokens": TOKENS,
        "papers": args.papers,
        "repeats": args.repeat,
        "backends": summarise(runs, args.papers),
    }
    results["machine"]["uptime_after"] = subprocess.run(
        ["uptime"], capture_output=True, text=True
    ).stdout.strip()
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results["backends"], indent=2))
    print()
    print(
        f"{'backend':<10} {'query p50':>10} {'query p99':>10}  papers/s (median of {args.repeat})"
    )
    for backend, entry in results["backends"].items():
        rates = ", ".join(
            f"{c}: {v} ({entry['papers_per_cpu_s'][c]} per CPU-s)"
            for c, v in entry["papers_per_s"].items()
        )
        print(
            f"{backend:<10} {entry['query']['p50_ms']:>8} ms {entry['query']['p99_ms']:>8} ms  "
            f"{rates}"
        )
    print(f"load: {uptime} -> {results['machine']['uptime_after']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
