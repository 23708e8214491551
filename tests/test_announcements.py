"""The announcement route end to end: arXiv's feeds served from a local HTTP server, written into
a real catalog on both databases, merged with what other routes brought."""

from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dailypapers.cli import cli
from dailypapers.config import Config, ConfigError, load_config
from dailypapers.domain.records import PaperRecord, VersionRecord
from dailypapers.ingest.announcements import harvest_feeds
from dailypapers.ingest.arxiv_rss import parse_announcements
from dailypapers.ingest.http import PoliteClient
from dailypapers.services.arxiv import harvest_announcements
from dailypapers.storage import schema
from dailypapers.storage.papers import get_paper, write_papers

from .httpfixture import PayloadServer, Reply
from .test_arxiv_rss import ANNOUNCED, EMPTY, ERROR, RSS

FEED_IDS = [a.record.arxiv_id for a in parse_announcements(RSS).announcements]


def feeds(routes):
    """A server answering `/rss/<query>` from `routes` (query -> (body, status)); 404 else."""

    def handler(path, _params):
        body, status = routes.get(path.removeprefix("/rss/"), (b"no such feed", 404))
        return Reply(body, status=status)

    return PayloadServer(handler)


def polite():
    return PoliteClient(
        delay=0, timeout=5, retries=1, backoff_base=0.05, backoff_max=1, user_agent="tests"
    )


def harvest(store, server, categories=("cs.AI",), **kwargs):
    config = Config(arxiv_rss_endpoint=server.url + "/rss")
    with polite() as client:
        return harvest_announcements(store, config, categories, client=client, **kwargs)


def oai_record(arxiv_id, versions, categories, title="A title", datestamp=date(2025, 10, 28)):
    dated = [
        VersionRecord(n, datetime(2025, 10, n, 16, 0, tzinfo=UTC), 100 + n)
        for n in range(1, versions + 1)
    ]
    return PaperRecord(
        arxiv_id,
        title,
        "An abstract as OAI-PMH gives it.",
        source="oai",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=categories,
        versions=dated,
        comments="12 pages",
        published_at=dated[0].submitted_at,
        updated_at=dated[-1].submitted_at,
        datestamp=datestamp,
        latest_version=versions,
    )


def rows_of(store, arxiv_id):
    with store.connect() as conn:
        query = sa.select(sa.func.count()).where(schema.papers.c.arxiv_id == arxiv_id)
        return conn.execute(query).scalar_one()


def test_a_feed_writes_its_papers_once(store):
    with feeds({"cs.AI": (RSS, 200)}) as server:
        report = harvest(store, server)
        again = harvest(store, server)
    assert report.clean and report.feeds == 1 and report.seen == 10
    assert report.as_counts() == {
        "new": 10,
        "cross_listed": 0,
        "replaced": 0,
        "updated": 0,
        "unchanged": 0,
        "errors": 0,
    }
    assert again.clean and again.counts.new == 0 and again.counts.unchanged == 10
    assert [r.path for r in server.requests] == ["/rss/cs.AI", "/rss/cs.AI"]
    with store.connect() as conn:
        paper = get_paper(conn, "2510.90002")
    assert paper.latest_version == 1 and paper.categories == ["cs.AI", "cs.CL"]
    assert paper.published_at == ANNOUNCED.replace(tzinfo=None)
    assert paper.source == "arxiv-rss" and paper.primary_category == "cs.AI"


def test_replace_updates_a_known_paper_and_keeps_one_row(store):
    with store.begin() as conn:
        write_papers(conn, [oai_record("2408.90008", 2, ["cs.AI"], title="Old title")])
    with feeds({"cs.AI": (RSS, 200)}) as server:
        report = harvest(store, server)
    assert report.clean and report.replaced == 1 and report.counts.new == 9
    with store.connect() as conn:
        paper = get_paper(conn, "2408.90008")
    assert rows_of(store, "2408.90008") == 1
    assert paper.latest_version == 3 and paper.title.startswith("UnifiedMLLM: Enabling Unified")
    assert paper.abstract != "An abstract as OAI-PMH gives it."
    assert [v.version for v in paper.versions] == [1, 2, 3]
    assert paper.versions[0].submitted_at == datetime(2025, 10, 1, 16, 0)  # kept from OAI-PMH
    assert paper.versions[2].submitted_at is None  # the feed names no submission time
    assert paper.published_at == datetime(2025, 10, 1, 16, 0)
    assert paper.updated_at == ANNOUNCED.replace(tzinfo=None)
    assert paper.comments == "12 pages"  # a gap the feed leaves, filled by what was stored
    assert paper.categories == ["cs.AI", "cs.CV"]


def test_cross_adds_the_category_to_a_known_paper(store):
    with store.begin() as conn:
        write_papers(conn, [oai_record("2510.90001", 1, ["cs.IR", "cs.LG"])])
    with feeds({"cs.AI": (RSS, 200)}) as server:
        report = harvest(store, server)
    assert report.clean and report.cross_listed == 1 and report.replaced == 0
    with store.connect() as conn:
        paper = get_paper(conn, "2510.90001")
        primary = conn.execute(
            sa.select(schema.paper_categories.c.category).where(
                schema.paper_categories.c.arxiv_id == "2510.90001",
                schema.paper_categories.c.is_primary.is_(True),
            )
        ).scalar_one()
    assert paper.categories == ["cs.IR", "cs.AI", "cs.LG"] and primary == "cs.IR"
    assert paper.latest_version == 1 and paper.published_at == datetime(2025, 10, 1, 16, 0)


def test_a_cross_listed_paper_the_catalog_lacks_gets_only_what_the_feed_says(store):
    with feeds({"cs.AI": (RSS, 200)}) as server:
        harvest(store, server)
    with store.connect() as conn:
        paper = get_paper(conn, "2510.90006")
    assert paper.categories == ["eess.AS", "cs.AI", "cs.CL", "cs.SD"]
    assert paper.published_at is None and paper.updated_at is None and paper.comments is None
    assert [(v.version, v.submitted_at) for v in paper.versions] == [(1, None)]


def test_the_error_feed_stops_the_run_naming_the_category(store):
    with feeds({"foo": (ERROR, 400)}) as server:
        report = harvest(store, server, ["foo"])
    assert (
        report.error
        == "arXiv refused the feed for foo: Bad archive 'foo'. Valid archive names are: ..."
    )
    assert report.errors == 1 and report.seen == 0 and len(server.requests) == 1


def test_an_empty_feed_is_a_clean_run_of_nothing(store):
    with feeds({"cs.AI+cs.CL": (EMPTY, 200)}) as server:
        report = harvest(store, server, ["cs.AI", "cs.CL"])
    assert report.clean and report.seen == 0 and report.feeds == 1
    assert report.as_counts()["new"] == 0


def test_a_full_feed_is_asked_for_again_in_halves(store):
    routes = {"cs.AI+cs.CL": (RSS, 200), "cs.AI": (RSS, 200), "cs.CL": (EMPTY, 200)}
    with feeds(routes) as server, polite() as client:
        report = harvest_feeds(
            store, client, server.url + "/rss", ["cs.AI", "cs.CL"], feed_limit=10
        )
    assert [r.path for r in server.requests] == ["/rss/cs.AI+cs.CL", "/rss/cs.AI", "/rss/cs.CL"]
    assert report.counts.new == 10 and report.feeds == 3
    assert report.warnings == [
        "the cs.AI feed holds 10 items, arXiv's limit: some announcements are missing "
        "(the OAI-PMH harvest brings them)"
    ]


def oai_page(datestamp="2025-10-29"):
    """An arXivRaw ListRecords page for the feed's papers, as OAI-PMH would describe them
    after the announcement: every version dated, the raw author line, comments."""
    records = []
    for announcement in parse_announcements(RSS).announcements:
        paper = announcement.record
        versions = "".join(
            f'<version version="v{n}"><date>Mon, 0{n} Sep 2025 10:00:00 GMT</date>'
            f"<size>{100 + n}kb</size></version>"
            for n in range(1, (paper.latest_version or 1) + 1)
        )
        records.append(
            f"<record><header><identifier>oai:arXiv.org:{paper.arxiv_id}</identifier>"
            f"<datestamp>{datestamp}</datestamp></header><metadata>"
            '<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
            f"<id>{paper.arxiv_id}</id><submitter>Ada Lovelace</submitter>{versions}"
            f"<title>{escape(paper.title)}</title>"
            "<authors>Ada Lovelace and Alan Turing</authors>"
            f"<categories>{' '.join(paper.categories)}</categories>"
            "<comments>9 pages</comments>"
            f"<abstract>{escape(paper.abstract)}</abstract></arXivRaw></metadata></record>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        + "".join(records)
        + "<resumptionToken/></ListRecords></OAI-PMH>"
    ).encode()


def test_the_cli_reads_the_feed_and_oai_harvest_afterwards_keeps_one_row_each(store, database_url):
    page = oai_page()

    def handler(path, _params):
        if path == "/rss/cs.AI":
            return Reply(RSS)
        if path == "/oai":
            return Reply(page)
        return Reply(b"no such feed", status=404)

    env = {"DAILYPAPERS_DATABASE_URL": database_url, "DAILYPAPERS_REQUEST_DELAY": "0"}
    with PayloadServer(handler) as server:
        env["DAILYPAPERS_ARXIV_RSS_ENDPOINT"] = server.url + "/rss"
        result = CliRunner().invoke(cli, ["ingest", "rss", "cs.AI"], env=env)
        assert result.exit_code == 0, result.output
        assert (
            "rss: 1 feeds, 10 announcements: 10 new, 0 cross-listed, 0 replaced, 0 updated, "
            "0 unchanged, 0 skipped" in result.output
        )
        oai = CliRunner().invoke(
            cli,
            ["ingest", "oai", "--from", "2025-10-29", "--endpoint", server.url + "/oai"],
            env=env,
        )
        assert oai.exit_code == 0, oai.output
        assert "10 records: 0 new, 10 updated" in oai.output
    with store.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(schema.papers)).scalar_one()
        papers = {i: get_paper(conn, i) for i in FEED_IDS}
    assert total == 10 and all(rows_of(store, i) == 1 for i in FEED_IDS)
    replaced = papers["2408.90008"]
    assert replaced.latest_version == 3 and [v.version for v in replaced.versions] == [1, 2, 3]
    assert all(v.submitted_at is not None for v in replaced.versions)
    for paper in papers.values():  # OAI-PMH, ranked higher on the same day, now describes them
        assert paper.source == "oai" and paper.authors == ["Ada Lovelace", "Alan Turing"]
        assert paper.published_at == datetime(2025, 9, 1, 10, 0)
    assert papers["2510.90001"].categories == ["cs.IR", "cs.AI", "cs.LG"]


def test_the_cli_refuses_a_malformed_category_and_fails_on_the_error_feed(database_url):
    env = {"DAILYPAPERS_DATABASE_URL": database_url, "DAILYPAPERS_REQUEST_DELAY": "0"}
    bad = CliRunner().invoke(cli, ["ingest", "rss", "cs AI"], env=env)
    assert bad.exit_code == 2 and "is not an arXiv category" in bad.output
    with feeds({"foo": (ERROR, 400)}) as server:
        env["DAILYPAPERS_ARXIV_RSS_ENDPOINT"] = server.url + "/rss"
        failed = CliRunner().invoke(cli, ["ingest", "rss", "foo"], env=env)
    assert failed.exit_code == 1
    assert "FAILED: arXiv refused the feed for foo: Bad archive 'foo'" in failed.output


def test_the_summary_counts_each_kind_as_docs_sources_shows(store):
    already = parse_announcements(RSS).announcements[0].record  # 2510.90002, as the feed says
    with store.begin() as conn:
        write_papers(
            conn,
            [
                oai_record("2510.90001", 1, ["cs.IR", "cs.LG"]),
                oai_record("2408.90008", 2, ["cs.AI"]),
                already,
            ],
        )
    with feeds({"cs.AI": (RSS, 200)}) as server:
        report = harvest(store, server)
    assert report.summary() == (
        "rss: 1 feeds, 10 announcements: 7 new, 1 cross-listed, 1 replaced, 0 updated, "
        "1 unchanged, 0 skipped"
    )


def test_the_announcements_job_reads_the_configured_feeds(store):
    from dailypapers.jobs.registry import BY_NAME, JobContext, JobFailed

    job = BY_NAME["announcements"]
    changed = []
    context = JobContext(period_start=datetime.now(UTC), catalog_changed=lambda: changed.append(1))
    with feeds({"cs.AI": (RSS, 200), "foo": (ERROR, 400)}) as server:
        config = load_config(environ={}).with_overrides(
            arxiv_rss_endpoint=server.url + "/rss", request_delay=0.0
        )
        assert config.announcement_categories == "cs"  # the harvest's default set
        config = config.with_overrides(announcement_categories="cs.AI")
        counts = job.run(store, config, context)
        assert counts["new"] == len(FEED_IDS) and counts["errors"] == 0 and changed == [1]
        assert job.run(store, config, context)["new"] == 0  # the same feed again: nothing new
        with pytest.raises(JobFailed, match="arXiv refused the feed for foo"):
            job.run(store, config.with_overrides(announcement_categories="foo"), context)
    assert job.off_reason(config.with_overrides(announcement_categories="")) == (
        "announcement_categories is empty"
    )
    with pytest.raises(ConfigError, match="'cs/AI' is not an arXiv category"):
        load_config(environ={"DAILYPAPERS_ANNOUNCEMENT_CATEGORIES": "cs.AI cs/AI"})
