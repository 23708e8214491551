"""Write dailypapers/demo/daily/newest-day.jsonl: real arXiv papers that fill the demo's newest
day, taken from the shared 72k sample (../shared/data/arxiv-sample), so a first visit's front
page shows a full day instead of the seed page's two papers.

Which papers, without choosing by hand: those the sample's crawl first listed on the seed
page's newest day, whose primary category is one the seed page's papers come from (cs.CL,
cs.CV, cs.LG, cs.AI), lowest arXiv ids first, leaving out any whose title is a seed paper's
(the twin would merge into it), until the day holds DAY_SIZE papers. Their lines are copied
as the sample has them; the demo lists them with no upvotes (votes come only from the seed's
real counts).

    .venv/bin/python scripts/demo_fill.py
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

from dailypapers.domain.twins import title_key

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
DEMO = ROOT / "dailypapers" / "demo"
OUT = DEMO / "daily" / "newest-day.jsonl"
CATEGORIES = {"cs.CL", "cs.CV", "cs.LG", "cs.AI"}
DAY_SIZE = 20


def main() -> None:
    seed = json.loads((DEMO / "seed-papers.json").read_text())
    days = [p.get("published") or seed["page_date"] for p in seed["papers"]]
    newest = max(days)
    on_newest = days.count(newest)
    seed_titles = {title_key(p["title"]) for p in seed["papers"]}
    listed = datetime.strptime(newest, "%Y-%m-%d").strftime("%d %b %Y")
    found = []
    with gzip.open(SAMPLE, "rb") as lines:
        for line in lines:
            record = json.loads(line)
            versions = record.get("versions") or []
            if not versions or versions[0]["created"][5:16] != listed:
                continue
            if record["categories"].split()[0] not in CATEGORIES:
                continue
            if title_key(record["title"]) in seed_titles:
                continue
            found.append((record["id"], line))
    found.sort()
    chosen = found[: DAY_SIZE - on_newest]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for _, line in chosen))
    print(f"{newest}: {on_newest} seed papers + {len(chosen)} from the sample -> {OUT}")


if __name__ == "__main__":
    main()
