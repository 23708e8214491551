"""The announcement route: fetch arXiv's daily feeds for some categories and write what they
announce, counting new papers, cross-lists and replacements. It is the fast path for today's
papers; the OAI-PMH harvest (ingest/harvest.py) stays the complete one.

Each feed is written in one transaction, so a run that fails leaves whole feeds or nothing.
arXiv cuts a feed at 2000 items, and cuts the `new` ones first (arxiv-feed's database.py sorts
replacements ahead of the limit), so a feed that comes back full is asked for again as two
feeds, each with half of its categories.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import httpx

from ..storage import Store
from ..storage.papers import paper_standing, write_papers
from .arxiv_rss import AnnouncementFeed, AnnouncementFeedError, parse_announcements
from .http import FetchError, PoliteClient
from .run import IngestReport, ProgressFn, _no_progress
from .xmlsafe import UnsafeXML

log = logging.getLogger(__name__)

FEED_LIMIT = 2000  # arxiv-feed's result_limit
# An archive (`math`, `hep-th`) or a category (`cs.AI`, `astro-ph.CO`, `q-fin.PM`; arXiv
# takes the part after the dot in any case).
_CATEGORY = re.compile(r"^[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]{2,}(?:-[a-z]+)?)?$")


@dataclass
class AnnouncementReport(IngestReport):
    """An IngestReport with what the announcements did to known papers: `cross_listed` papers
    gained a category, `replaced` papers a newer version. `counts.new` are papers the catalog
    lacked, whatever the announce type; `updated` counts the other changes."""

    route: str = "rss"
    cross_listed: int = 0
    replaced: int = 0
    feeds: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def updated(self) -> int:
        return self.counts.updated - self.cross_listed - self.replaced

    @property
    def errors(self) -> int:
        return sum(self.skipped.values()) + (1 if self.error else 0)

    def as_counts(self) -> dict[str, int]:
        """The outcome as plain counts, for a job's record."""
        return {
            "new": self.counts.new,
            "cross_listed": self.cross_listed,
            "replaced": self.replaced,
            "updated": self.updated,
            "unchanged": self.counts.unchanged,
            "errors": self.errors,
        }

    def summary(self) -> str:
        c = self.counts
        skipped = sum(self.skipped.values())
        text = (
            f"{self.route}: {self.feeds:,} feeds, {self.seen:,} announcements: {c.new:,} new, "
            f"{self.cross_listed:,} cross-listed, {self.replaced:,} replaced, "
            f"{self.updated:,} updated, {c.unchanged:,} unchanged, {skipped:,} skipped"
        )
        if self.skipped:
            text += " (" + ", ".join(f"{k}: {n:,}" for k, n in self.skipped.most_common()) + ")"
        for warning in self.warnings:
            text += f"; WARNING: {warning}"
        if self.error:
            text += f"; FAILED: {self.error}"
        return text


def check_categories(categories: Sequence[str] | str) -> list[str]:
    """The categories as given, split at spaces, commas and `+` (as a setting or arXiv's own
    URL writes them), repeats dropped; ValueError naming the first that is not an arXiv
    archive or category name.

    >>> check_categories(["cs.AI", "math", "cs.AI"])
    ['cs.AI', 'math']
    >>> check_categories("cs.AI+cs.CL, stat.ML")
    ['cs.AI', 'cs.CL', 'stat.ML']
    """
    given = [categories] if isinstance(categories, str) else list(categories)
    wanted = list(dict.fromkeys(p for c in given for p in re.split(r"[\s,+]+", c) if p))
    if not wanted:
        raise ValueError("no categories given")
    for category in wanted:
        if not _CATEGORY.match(category):
            raise ValueError(f"{category!r} is not an arXiv category (like cs.AI or math)")
    return wanted


def feed_url(endpoint: str, categories: Sequence[str]) -> str:
    """`https://rss.arxiv.org/rss` + [cs.AI, cs.CL] -> `https://rss.arxiv.org/rss/cs.AI+cs.CL`."""
    return f"{endpoint.rstrip('/')}/{'+'.join(categories)}"


def _parse(response: httpx.Response, where: str) -> AnnouncementFeed:
    return parse_announcements(response.content, where)


def harvest_feeds(
    store: Store,
    client: PoliteClient,
    endpoint: str,
    categories: Sequence[str] | str,
    *,
    feed_limit: int = FEED_LIMIT,
    progress: ProgressFn = _no_progress,
) -> AnnouncementReport:
    """Fetch the announcement feed of `categories` (one request, `+`-joined) from `endpoint`
    and write its papers. An empty feed (weekends, holidays) is a clean run with no papers.

    A feed holding `feed_limit` items or more is fetched again in halves of its categories; a
    single category at the limit is written with a warning in the report. arXiv's error feed
    (an unknown category) stops the run with arXiv's message in `error`, as do HTTP failures.
    """
    report = AnnouncementReport()
    try:
        pending = [check_categories(categories)]
    except ValueError as error:
        report.error = str(error)
        return report
    while pending:
        group = pending.pop(0)
        url = feed_url(endpoint, group)
        try:
            feed = client.fetch(url, {}, partial(_parse, where=url), accept=frozenset({200, 400}))
        except AnnouncementFeedError as error:
            report.error = str(error)
            return report
        except (FetchError, UnsafeXML) as error:
            report.error = f"{url}: {error}"
            return report
        report.feeds += 1
        if feed.items_seen >= feed_limit:
            if len(group) > 1:
                half = len(group) // 2
                log.info("%s holds %d items, arXiv's limit: asking in halves", url, feed_limit)
                pending[:0] = [group[:half], group[half:]]
                continue
            report.warnings.append(
                f"the {group[0]} feed holds {feed.items_seen:,} items, arXiv's limit: some "
                "announcements are missing (the OAI-PMH harvest brings them)"
            )
        _write_feed(store, feed, report)
        progress(report.seen, None, f"{report.feeds:,} feeds")
    return report


def _write_feed(store: Store, feed: AnnouncementFeed, report: AnnouncementReport) -> None:
    for problem in feed.problems:
        report.skip(problem)
    records = [a.record for a in feed.announcements]
    if not records:
        return
    report.seen += len(records)
    with store.begin() as conn:
        before = paper_standing(conn, [r.arxiv_id for r in records])
        counts = write_papers(conn, records)
        after = paper_standing(conn, [i for i in counts.changed if i in before])
    report.counts.add(counts)
    for arxiv_id, (version, categories) in after.items():
        old_version, old_categories = before[arxiv_id]
        if version > old_version:
            report.replaced += 1
        elif set(categories) - set(old_categories):
            report.cross_listed += 1
