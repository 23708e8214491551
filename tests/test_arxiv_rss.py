"""The announcement-feed parser (ingest/arxiv_rss.py) on arXiv's serializer output: both forms,
announce types, the empty feed, the error feed and bad items."""

from datetime import UTC, date, datetime

import pytest

from dailypapers.domain.records import VersionRecord
from dailypapers.ingest.arxiv_rss import AnnouncementFeedError, parse_announcements
from dailypapers.ingest.xmlsafe import MalformedXML

from .conftest import DATA

RSS = (DATA / "rss" / "rss_cs.AI_CONSTRUCTED.xml").read_bytes()
ATOM = (DATA / "rss" / "atom_cs.AI_CONSTRUCTED.xml").read_bytes()
EMPTY = (DATA / "rss" / "rss_cs.AI_empty-weekend_CONSTRUCTED.xml").read_bytes()
ERROR = (DATA / "rss" / "rss_error_bad-archive_CONSTRUCTED.xml").read_bytes()
ANNOUNCED = datetime(2025, 10, 29, 4, 0, tzinfo=UTC)  # midnight in New York


def test_rss_and_atom_give_identical_records():
    rss, atom = parse_announcements(RSS), parse_announcements(ATOM)
    assert rss.items_seen == atom.items_seen == 10 and not rss.problems and not atom.problems
    assert rss.announcements == atom.announcements
    kinds = [a.announce_type for a in rss.announcements]
    assert kinds == ["new"] * 3 + ["cross"] * 3 + ["replace"] * 2 + ["replace-cross"] * 2


def test_a_new_item_is_a_first_version_announced_that_day():
    first = parse_announcements(RSS).announcements[0].record
    assert first.arxiv_id == "2510.90002" and first.source == "arxiv-rss"
    assert first.title == "Multitask Vision-Language Prompt Tuning"
    assert first.abstract.startswith("Prompt Tuning, conditioning on task-specific")
    assert "Announce Type" not in first.abstract
    assert first.categories == ["cs.AI", "cs.CL"]
    assert first.versions == [VersionRecord(1)] and first.latest_version == 1
    assert first.published_at == first.updated_at == ANNOUNCED
    assert first.datestamp == date(2025, 10, 29)
    assert first.license == "http://creativecommons.org/licenses/by/4.0/"
    assert first.authors == [f"Placeholder Author{n}" for n in range(1, 8)]


def test_cross_and_replace_items_date_only_what_they_announce():
    by_id = {a.record.arxiv_id: a for a in parse_announcements(RSS).announcements}
    cross = by_id["2510.90001"].record
    assert by_id["2510.90001"].announce_type == "cross"
    assert cross.categories == ["cs.IR", "cs.AI", "cs.LG"]  # the primary first, as arXiv lists
    assert cross.published_at is None and cross.updated_at is None
    replaced = by_id["2408.90008"].record
    assert by_id["2408.90008"].announce_type == "replace"
    assert replaced.versions == [VersionRecord(3)] and replaced.latest_version == 3
    assert replaced.published_at is None and replaced.updated_at == ANNOUNCED
    assert replaced.dois == ["10.0000/placeholder.2025.90008"]
    assert replaced.journal_ref == "Placeholder Journal of Examples 12 (2025) 345-367"
    assert by_id["2508.90010"].announce_type == "replace-cross"


def test_the_weekend_feed_is_empty_not_an_error():
    feed = parse_announcements(EMPTY)
    assert feed.announcements == [] and feed.problems == [] and feed.items_seen == 0


def test_the_error_feed_names_the_category_and_arxivs_message():
    with pytest.raises(AnnouncementFeedError) as raised:
        parse_announcements(ERROR)
    assert raised.value.query == "foo"
    assert raised.value.message.startswith("Bad archive 'foo'.")
    assert str(raised.value).startswith("arXiv refused the feed for foo: Bad archive 'foo'.")


def test_a_bad_item_is_skipped_and_the_rest_kept():
    body = RSS.replace(b"oai:arXiv.org:2510.90003v1", b"oai:arXiv.org:2510.9003v1")
    body = body.replace(
        b"<arxiv:announce_type>cross</arxiv:announce_type>",
        b"<arxiv:announce_type>absonly</arxiv:announce_type>",
        1,
    )
    feed = parse_announcements(body, "cs.AI")
    assert feed.items_seen == 10 and len(feed.announcements) == 8
    reasons = sorted(p.reason for p in feed.problems)
    assert reasons[0].startswith("ids from 1501 and later have 5-digit sequence numbers")
    assert reasons[1] == "unknown announce type 'absonly'"
    assert str(feed.problems[0]).startswith("cs.AI: item oai:arXiv.org:")


def test_an_html_page_is_not_a_feed():
    with pytest.raises(MalformedXML):
        parse_announcements(b"<html><body>Service unavailable</body></html>")
