from datetime import UTC, date, datetime

import pytest

from dailypapers.ingest.arxiv_oai import parse_oai_page
from dailypapers.ingest.xmlsafe import MalformedXML, UnsafeXML

from .conftest import DATA, DEMO

OAI = DEMO / "oai"


def page(name: str):
    return parse_oai_page((OAI / name).read_bytes(), name)


def test_2025_page_has_records_and_a_token():
    result = page("oaipmh-2025--listrecords_arxivraw_page1_resumptiontoken.xml")
    assert len(result.records) == 10 and not result.problems
    assert result.resumption_token.startswith("verb%3DListRecords%26metadataPrefix%3DarXivRaw")
    first = result.records[0]
    assert first.arxiv_id == "1002.3162"
    assert first.authors == ["Mark Vogelsberger", "Simon D. M. White"]
    assert first.categories == ["astro-ph.CO"]
    assert [v.version for v in first.versions] == [1, 2]
    assert first.published_at == datetime(2010, 2, 16, 23, 18, 47, tzinfo=UTC)
    assert first.datestamp == date(2015, 5, 18)


def test_last_page_has_an_empty_token():
    result = page("oaipmh-2025--listrecords_arxivraw_page3_last_empty-token.xml")
    assert len(result.records) == 2 and result.resumption_token is None


def test_character_references_are_decoded():
    records = page("oaipmh-2025--listrecords_arxivraw_page1_resumptiontoken.xml").records
    abstracts = " ".join(r.abstract for r in records)
    assert "doesn't" in abstracts and "&#39;" not in abstracts


def test_five_versions_and_withdrawn_flag():
    paper = page("oaipmh-2025--getrecord_arxivraw_0812.4551_5-versions_title-changed.xml")
    assert [v.version for v in paper.records[0].versions] == [1, 2, 3, 4, 5]
    assert paper.records[0].latest_version == 5
    withdrawn = page("oaipmh-2025--getrecord_arxivraw_0901.3666_withdrawn.xml").records[0]
    assert [v.withdrawn for v in withdrawn.versions] == [False, False, True]
    assert withdrawn.versions[-1].size_kb == 0


def test_old_style_identifier():
    record = page("oaipmh-2025--getrecord_arxivraw_cond-mat-0703772_old-style-id.xml").records[0]
    assert record.arxiv_id == "cond-mat/0703772"


def test_legacy_page_with_two_dois_and_token():
    result = page(
        "export-oai2-legacy--listrecords_arxivraw_from-2014-10-01_with-resumptiontoken.xml"
    )
    assert result.resumption_token == "726959|1001"
    assert len(result.records) == 6
    assert any(len(r.dois) == 2 for r in result.records)


def test_large_reindented_page_streams_and_normalises():
    result = page("export-oai2-legacy--listrecords_arxivraw_large-page_387-records_reindented.xml")
    assert len(result.records) == 387 and not result.problems
    for record in result.records:
        assert "\n" not in record.title and "  " not in record.title
        assert not record.abstract.startswith(" ")
        assert all("  " not in a and "\n" not in a for a in record.authors)
    assert any(v.withdrawn for r in result.records for v in r.versions)


def test_arxiv_and_oai_dc_formats_parse():
    arxiv = page("export-oai2-legacy--listrecords_arxiv_set-physics-hep-th.xml")
    assert len(arxiv.records) == 3 and all(r.authors for r in arxiv.records)
    dc = page("export-oai2-legacy--listrecords_oai_dc_set-cs_with-resumptiontoken.xml")
    assert len(dc.records) == 5 and dc.records[0].authors


@pytest.mark.parametrize("path", sorted((DATA / "oai").glob("*error*.xml")), ids=lambda p: p.name)
def test_error_responses_give_their_code(path):
    result = parse_oai_page(path.read_bytes(), path.name)
    expected = path.name.split("error_")[1].split("_")[0].removesuffix(".xml")
    assert result.error_code == expected and not result.records


def test_truncated_page_is_malformed_with_line():
    data = (OAI / "oaipmh-2025--listrecords_arxivraw_page2_resumptiontoken.xml").read_bytes()
    with pytest.raises(MalformedXML, match="line"):
        parse_oai_page(data[: len(data) // 2])


def test_html_error_page_is_named():
    html = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"
    with pytest.raises((MalformedXML, UnsafeXML)):
        parse_oai_page(html)
    with pytest.raises(MalformedXML, match="not an OAI-PMH response"):
        parse_oai_page(b"<html><body>Service Unavailable</body></html>")
    with pytest.raises(MalformedXML, match="empty"):
        parse_oai_page(b"")


def test_entity_expansion_is_refused():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><OAI-PMH>&lol2;</OAI-PMH>'
    )
    with pytest.raises(UnsafeXML):
        parse_oai_page(bomb)
    external = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><OAI-PMH>&e;</OAI-PMH>'
    with pytest.raises(UnsafeXML):
        parse_oai_page(external)


def test_control_characters_are_stripped_and_the_page_kept():
    data = (OAI / "oaipmh-2025--getrecord_arxivraw_cond-mat-0703772_old-style-id.xml").read_bytes()
    dirty = data.replace(b"<abstract>", b"<abstract>\x0b\x1a", 1)
    result = parse_oai_page(dirty)
    assert len(result.records) == 1 and "\x0b" not in result.records[0].abstract


def _raw_record(identifier: str, body: str) -> bytes:
    return f"""<?xml version="1.0"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>
<record><header><identifier>oai:arXiv.org:{identifier}</identifier>
<datestamp>2024-01-02</datestamp></header><metadata>
<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">{body}</arXivRaw></metadata></record>
<record><header><identifier>oai:arXiv.org:2401.00002</identifier>
<datestamp>2024-01-02</datestamp></header><metadata>
<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>2401.00002</id><title>Good</title>
<version version="v1"><date>Tue, 2 Jan 2024 10:00:00 GMT</date><size>10kb</size></version>
</arXivRaw></metadata></record>
<resumptionToken/></ListRecords></OAI-PMH>""".encode()


@pytest.mark.parametrize(
    ("identifier", "body", "reason"),
    [
        ("2401.00001", "<title>No id</title>", "no arXiv id"),
        ("2401.00001", "<id>2401.00001</id><title> </title>", "no title"),
        ("2413.00001", "<id>2413.00001</id><title>T</title>", "month out of range"),
        (
            "2401.00001",
            '<id>2401.00001</id><title>T</title><version version="v1"><date>someday</date>'
            "</version>",
            "unparseable date",
        ),
    ],
)
def test_bad_record_is_skipped_and_named(identifier, body, reason):
    result = parse_oai_page(_raw_record(identifier, body), "page 7")
    assert [r.arxiv_id for r in result.records] == ["2401.00002"]
    assert len(result.problems) == 1
    assert result.problems[0].location == f"page 7: record oai:arXiv.org:{identifier}"
    assert reason in result.problems[0].reason


def test_deleted_header_becomes_a_deleted_record():
    data = b"""<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record>
    <header status="deleted"><identifier>oai:arXiv.org:2401.00009</identifier>
    <datestamp>2024-02-01</datestamp></header></record></ListRecords></OAI-PMH>"""
    record = parse_oai_page(data).records[0]
    assert record.deleted and record.arxiv_id == "2401.00009"
