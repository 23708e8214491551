"""The bundled demo catalog (dailypapers/demo/): the seed Daily Papers page plus real arXiv
payloads, loaded through the same parsers and writer as live ingest, offline."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from ..domain.ids import local_paper_id
from ..domain.records import DailyEntry, PaperRecord, ParseProblem
from ..storage import Store
from .arxiv_api import parse_api_feed
from .arxiv_bulk import iter_snapshot
from .arxiv_oai import parse_oai_page
from .run import IngestReport, ProgressFn, _no_progress, write_batches
from .text import normalize_abstract, normalize_title, parse_day, parse_iso_datetime

DEMO_DIR = Path(str(resources.files("dailypapers") / "demo"))


def _count(value: object) -> int | None:
    """A positive whole number of authors, else None (absent, zero, text, a fraction)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def iter_seed_papers(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """The seed page's papers as records with local ids, each on the daily list of its date
    (the page's date when the paper has none) with the upvotes it had."""
    page = json.loads(path.read_bytes())
    page_day = parse_day(page.get("page_date"))
    for index, item in enumerate(page.get("papers", [])):
        where = f"{path.name}[{index}]"
        title = normalize_title(item.get("title"))
        if not title:
            yield ParseProblem(where, "paper has no title")
            continue
        day = parse_day(item.get("published")) or page_day
        if day is None:
            yield ParseProblem(where, "paper has no date")
            continue
        organization = item.get("organization") or None
        yield PaperRecord(
            arxiv_id=local_paper_id(title),
            title=title,
            abstract=normalize_abstract(item.get("summary")),
            source="demo",
            published_at=parse_iso_datetime(day.isoformat()),
            organization=organization,
            daily=DailyEntry(
                day=day,
                submitter_name="Demo curator",
                submitter_username="demo",
                upvotes=int(item.get("upvotes") or 0),
                organization=organization,
                author_count=_count(item.get("num_authors")),
            ),
        )


def iter_day_fill(path: Path) -> Iterator[PaperRecord | ParseProblem]:
    """Real arXiv papers (snapshot lines, scripts/demo_fill.py) that fill the seed page's
    newest day: each listed on the day arXiv first listed it, by the demo curator, with no
    upvotes (the demo's votes are only the seed page's real counts)."""
    with open(path, "rb") as lines:
        for item in iter_snapshot(lines, path.name):
            first = item.versions[0].submitted_at if isinstance(item, PaperRecord) else None
            if isinstance(item, ParseProblem) or first is None:
                yield item
                continue
            day = first.date()
            entry = DailyEntry(day=day, submitter_name="Demo curator", submitter_username="demo")
            yield dataclasses.replace(item, daily=entry)


def iter_demo(folder: Path = DEMO_DIR) -> Iterator[PaperRecord | ParseProblem]:
    yield from iter_seed_papers(folder / "seed-papers.json")
    for path in sorted((folder / "daily").glob("*.jsonl")):
        yield from iter_day_fill(path)
    for path in sorted((folder / "oai").glob("*.xml")):
        page = parse_oai_page(path.read_bytes(), path.name)
        yield from page.problems
        yield from page.records
    for path in sorted((folder / "api").glob("*.xml")):
        feed = parse_api_feed(path.read_bytes(), path.name)
        yield from feed.problems
        yield from feed.records
    for snapshot in sorted(folder.glob("*.jsonl")):
        with open(snapshot, "rb") as lines:
            yield from iter_snapshot(lines, snapshot.name)


def load_demo(store: Store, *, progress: ProgressFn = _no_progress) -> IngestReport:
    """Load the demo catalog; a second load changes nothing."""
    report = IngestReport("demo")
    write_batches(
        store,
        iter_demo(),
        report,
        500,
        lambda: progress(report.seen, None, f"{report.seen:,} records"),
    )
    return report
