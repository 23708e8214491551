"""Thumbnail rendering benchmark: the time to turn a PDF like arXiv's into a 400 px WebP of its
first page, the download excluded (issue 13's target: under 300 ms a paper).

    .venv/bin/python bench/thumbnails.py [--papers 40] [--seed 1]

The PDFs are made here (tests/pdfs.py): 8 to 20 pages of text, each with a photo-like
picture of 240 to 560 px stored as JPEG (noise, which compresses as badly as photographs), so their sizes
spread around arXiv's typical 0.5-3 MB. Two timings per paper: PDFium in this process
(`render_first_page`), and what the backfill pays, batches of ten through the child process
(`render_files`: the start of the child, reading the file and writing the image included).
Prints the PDF sizes and the median and p95 milliseconds per paper, and writes
bench/results/thumbnails.json with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from dailypapers.ingest.pdf_render import (  # noqa: E402
    RenderLimits,
    image_format,
    render_files,
    render_first_page,
)
from tests.pdfs import make_pdf  # noqa: E402

BATCH = 10  # as services/thumbnails.py


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(_p95(values) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def make_corpus(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    corpus = []
    for number in range(count):
        side = rng.randint(240, 560)
        corpus.append(
            make_pdf(rng.randint(8, 20), image=(side, side * 2 // 3), seed=seed * 1000 + number)
        )
    return corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=40, help="PDFs to render")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the made-up PDFs")
    args = parser.parse_args()
    load_before = os.getloadavg()
    corpus = make_corpus(args.papers, args.seed)
    sizes = [len(pdf) for pdf in corpus]
    limits = RenderLimits(format=image_format())

    in_process = []
    image_sizes = []
    for pdf in corpus:
        start = time.perf_counter()
        image, _width, _height = render_first_page(pdf, limits)
        in_process.append(time.perf_counter() - start)
        image_sizes.append(len(image))

    through_child = []
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        names = []
        for index, pdf in enumerate(corpus):
            (folder / f"{index}.pdf").write_bytes(pdf)
            names.append(f"{index}.pdf")
        for start_at in range(0, len(names), BATCH):
            batch = names[start_at : start_at + BATCH]
            start = time.perf_counter()
            outcomes = render_files(folder, batch, limits)
            elapsed = time.perf_counter() - start
            assert all(hasattr(outcomes[name], "width") for name in batch), outcomes
            through_child += [elapsed / len(batch)] * len(batch)

    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "papers": args.papers,
        "format": limits.format,
        "width_px": limits.width,
        "pdf_bytes": {
            "median": int(statistics.median(sizes)),
            "min": min(sizes),
            "max": max(sizes),
        },
        "image_bytes_median": int(statistics.median(image_sizes)),
        "render_in_process": _summary(in_process),
        "render_per_paper_in_batches_of_10": _summary(through_child),
        "target_ms": 300,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "thumbnails.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
