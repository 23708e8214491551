"""Library import benchmark: how long a 20,000-entry BibTeX import (the largest allowed) takes
against a real catalog, stage by stage: reading the file, matching the entries (arXiv ids,
then one pass over the catalog for DOIs and title keys), and the whole import with its writes.

    .venv/bin/python bench/library_import.py [--snapshot ../shared/data/arxiv-sample/...gz]
                                             [--entries 20000] [--repeat 3]

The catalog is the 72,133-paper arXiv sample loaded once into SQLite (cached under
bench/results/). The file is written from catalog papers the way reference managers write
them: a third with an eprint (matched by id), a third with only a journal DOI when the paper
has one, the rest with only a braced title and "Family, Given" authors (matched by title), and
2% made-up references that match nothing. Nothing is fetched: every arXiv id is in the catalog.
Medians over --repeat runs, each into a fresh account's empty library; each run also counts the
entries matched to another paper than the one they were written from (`wrong`) and the real
ones left unmatched (`missed`).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"


def catalog(snapshot: Path) -> str:
    path = RESULTS / "library-catalog.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        RESULTS.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DAILYPAPERS_DATABASE_URL": url, "DAILYPAPERS_DATA_DIR": str(RESULTS)}
        command = [sys.executable, "-m", "dailypapers", "ingest", "snapshot", str(snapshot)]
        subprocess.run(command, env=env, check=True)
    return url


def bibtex(
    papers: list[tuple[str, str, list[str], list[str]]], entries: int, seed: int
) -> tuple[bytes, dict[str, str]]:
    """The file, and the paper each entry was written from (by citation key)."""
    from dailypapers.domain.citations import _balanced, split_name
    from dailypapers.domain.library import _without_affiliations

    rng = random.Random(seed)
    chosen = rng.sample(papers, min(entries, len(papers)))
    blocks = []
    sources = {}
    for index, (arxiv_id, raw_title, authors, dois) in enumerate(chosen):
        title = _balanced(raw_title)  # as the site's own BibTeX export writes a title
        names = []
        for name in authors[:8]:
            parts = split_name(_without_affiliations(name))  # arXiv's "(Affiliation)"
            given = parts.get("given", "")
            names.append(f"{parts.get('family') or parts.get('literal')}, {given}".rstrip(", "))
        fields = [f"  author = {{{' and '.join(names)}}}"]
        kind = index % 3
        if index % 50:
            sources[f"ref{index}"] = arxiv_id
        if index % 50 == 0:
            fields.append(f"  title = {{A Made-Up Reference Number {index}}}")
        elif kind == 0:
            fields += [
                f"  title = {{{title}}}",
                f"  eprint = {{{arxiv_id}}}",
                "  archivePrefix = {arXiv}",
            ]
        elif kind == 1 and dois:
            fields += [f"  title = {{{title}}}", f"  doi = {{{dois[0]}}}"]
        else:
            braced = " ".join(
                f"{{{w}}}" if w[:1].isupper() and "{" not in w and "}" not in w else w
                for w in title.split()
            )
            fields.append(f"  title = {{{braced}}}")
        blocks.append(f"@article{{ref{index},\n" + ",\n".join(fields) + ",\n  year = {2020}\n}\n")
    return "\n".join(blocks).encode(), sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot", type=Path, default=SAMPLE)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import json

    import sqlalchemy as sa

    from dailypapers.config import Config
    from dailypapers.ingest.references import read_references
    from dailypapers.services.library import import_file, match_references
    from dailypapers.storage import open_store
    from dailypapers.storage.schema import papers as table
    from dailypapers.storage.users import create_user

    store = open_store(catalog(args.snapshot))
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.arxiv_id, table.c.title, table.c.authors, table.c.dois)
        )
        papers = [(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows]
    config = Config(library_import_max_entries=args.entries)
    print(f"catalog: {len(papers):,} papers; file: {args.entries:,} BibTeX entries")
    timings: dict[str, list[float]] = {"read": [], "match": [], "import": []}
    for run in range(args.repeat):
        data, sources = bibtex(papers, args.entries, seed=run)
        started = time.perf_counter()
        parsed = read_references(
            data, None, max_bytes=config.library_import_max_bytes, max_entries=args.entries
        )
        timings["read"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with store.connect() as conn:
            outcomes = match_references(conn, parsed.references)
        timings["match"].append(time.perf_counter() - started)
        with store.begin() as conn:
            user = create_user(conn, f"bench{time.time_ns()}", f"b{time.time_ns()}@x.org", "x")
        started = time.perf_counter()
        record = import_file(store, config, user, data, "bench.bib", None, datetime.now(UTC))
        timings["import"].append(time.perf_counter() - started)
        counts = {
            s: sum(o.status == s for o in outcomes) for s in ("matched", "pending", "unmatched")
        }
        counts["wrong"] = sum(
            1 for o in outcomes if o.status == "matched" and o.arxiv_id != sources.get(o.key or "")
        )
        counts["missed"] = sum(1 for o in outcomes if o.status == "unmatched" and o.key in sources)
        print(
            f"run {run + 1}: {len(data) / 1e6:.1f} MB, {counts}, import {record.id} "
            f"({record.count('matched'):,} added); load {os.getloadavg()[0]:.1f}"
        )
    for stage, values in timings.items():
        print(f"{stage:>7}: median {statistics.median(values):.2f} s over {len(values)} runs")


if __name__ == "__main__":
    main()
