"""The two routes that talk to arXiv over HTTP: an OAI-PMH ListRecords harvest with a
checkpoint per page, and the query API with paging. Both go through PoliteClient.

OAI-PMH (ARXIV.md 1.6-1.8): each page's records and the checkpoint (next token, newest
datestamp) are committed in one transaction, so a harvest killed at any moment, even by
SIGKILL, resumes at the page it had not finished. A token the server rejects or has expired
restarts the window from the newest datestamp stored; upserts make the overlap harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import partial

import httpx

from ..domain.ids import InvalidArxivId, parse_arxiv_id
from ..domain.records import ParseProblem
from ..storage import Store
from ..storage.harvest import Checkpoint, load_checkpoint, save_checkpoint
from ..storage.papers import write_papers
from .arxiv_api import ApiPage, ArxivApiError, parse_api_feed
from .arxiv_oai import EMPTY_RESULT_CODES, OaiPage, parse_oai_page
from .http import FetchError, PoliteClient
from .run import IngestReport, ProgressFn, _no_progress, write_batches
from .xmlsafe import UnsafeXML

log = logging.getLogger(__name__)

# How many times a rejected token may restart the window without the harvest moving on.
_MAX_TOKEN_RESTARTS = 3
API_PAGE_SIZE = 100  # arXiv asks for modest pages; 2000 is the hard cap
API_IDS_PER_CALL = 50


def harvest_key(endpoint: str, set_spec: str | None, from_date: date, until: date | None) -> str:
    return f"oai|{endpoint}|{set_spec or '*'}|{from_date.isoformat()}|{until or '*'}"


def harvest_oai(
    store: Store,
    client: PoliteClient,
    endpoint: str,
    from_date: date,
    until: date | None = None,
    set_spec: str | None = None,
    *,
    metadata_prefix: str = "arXivRaw",
    progress: ProgressFn = _no_progress,
    now: datetime | None = None,
) -> IngestReport:
    """Harvest ListRecords for [from_date, until] (inclusive, by OAI datestamp) into the store.

    Rerunning the same command after a crash resumes from the saved checkpoint; rerunning it
    after it completed harvests the window again (which changes nothing if arXiv did not).
    """
    report = IngestReport("oai")
    key = harvest_key(endpoint, set_spec, from_date, until)
    started = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with store.begin() as conn:
        checkpoint = load_checkpoint(conn, key)
        if checkpoint is None or checkpoint.completed_at is not None:
            checkpoint = Checkpoint(
                key, endpoint, set_spec, from_date, until, None, None, 0, 0, started, started, None
            )
            save_checkpoint(conn, checkpoint)
        elif checkpoint.resumption_token or checkpoint.last_datestamp:
            log.warning("resuming harvest %s after page %d", key, checkpoint.pages)

    token = checkpoint.resumption_token
    window_from = checkpoint.last_datestamp or from_date
    restarts = 0
    while True:
        if token:
            params: dict[str, str | int] = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {
                "verb": "ListRecords",
                "metadataPrefix": metadata_prefix,
                "from": window_from.isoformat(),
            }
            if until:
                params["until"] = until.isoformat()
            if set_spec:
                params["set"] = set_spec
        where = f"page {checkpoint.pages + 1}"
        try:
            page = client.fetch(endpoint, params, partial(_oai_page, where=where))
        except (FetchError, UnsafeXML) as error:
            report.error = f"{endpoint}: {error}"
            return report

        if page.error_code in EMPTY_RESULT_CODES:
            log.info("OAI-PMH: no records match %s", params)
            page = OaiPage()
        elif page.error_code == "badResumptionToken" and token:
            restarts += 1
            if restarts > _MAX_TOKEN_RESTARTS:
                report.error = f"resumption token rejected {restarts} times: {page.error_message}"
                return report
            window_from = checkpoint.last_datestamp or from_date
            log.warning(
                "resumption token rejected (%s); restarting from %s",
                page.error_message,
                window_from,
            )
            token = None
            continue
        elif page.error_code:
            report.error = f"OAI-PMH error {page.error_code}: {page.error_message}"
            return report

        for problem in page.problems:
            report.skip(problem)
        report.seen += len(page.records)
        with store.begin() as conn:
            if page.records:
                report.counts.add(write_papers(conn, page.records))
            checkpoint.pages += 1
            checkpoint.records += len(page.records)
            if page.last_datestamp and (
                checkpoint.last_datestamp is None or page.last_datestamp > checkpoint.last_datestamp
            ):
                checkpoint.last_datestamp = page.last_datestamp
            checkpoint.resumption_token = page.resumption_token
            checkpoint.updated_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
            if page.resumption_token is None:
                checkpoint.completed_at = checkpoint.updated_at
            save_checkpoint(conn, checkpoint)
        restarts = 0 if page.records else restarts
        progress(
            checkpoint.records,
            None,
            f"page {checkpoint.pages}, datestamp {checkpoint.last_datestamp or '-'}",
        )
        token = page.resumption_token
        if token is None:
            return report


def _oai_page(response: httpx.Response, where: str) -> OaiPage:
    return parse_oai_page(response.content, where)


def _api_page(response: httpx.Response, where: str) -> ApiPage:
    return parse_api_feed(response.content, where)


def ingest_arxiv_api(
    store: Store,
    client: PoliteClient,
    endpoint: str,
    *,
    query: str | None = None,
    ids: Sequence[str] = (),
    max_results: int = 100,
    progress: ProgressFn = _no_progress,
) -> IngestReport:
    """Fetch papers from the arXiv query API by search query (paged) or by ids (batched)."""
    report = IngestReport("arxiv-api")
    requests: list[dict[str, str | int]] = []
    if ids:
        wanted = []
        for raw in ids:
            try:
                wanted.append(parse_arxiv_id(raw).id)
            except InvalidArxivId as error:
                report.skip(ParseProblem(f"--id {raw!r}", str(error)))
        wanted = list(dict.fromkeys(wanted))
        for start in range(0, len(wanted), API_IDS_PER_CALL):
            chunk = wanted[start : start + API_IDS_PER_CALL]
            requests.append({"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)})
        total: int | None = len(wanted)
    else:
        total = max_results
    try:
        if ids:
            for params in requests:
                page = client.fetch(
                    endpoint,
                    params,
                    lambda r: _api_page(r, "id_list"),
                    accept=frozenset({200, 400}),
                )
                write_batches(store, [*page.problems, *page.records], report, 10_000)
                missing = set(str(params["id_list"]).split(",")) - {
                    r.arxiv_id for r in page.records
                }
                for arxiv_id in sorted(missing):
                    report.skip(ParseProblem(f"id {arxiv_id}", "not found on arXiv"))
                progress(report.seen, total, f"{report.seen:,} papers")
        elif query:
            _page_query(store, client, endpoint, query, max_results, report, progress)
    except ArxivApiError as error:
        report.error = str(error)
    except (FetchError, UnsafeXML) as error:
        report.error = f"{endpoint}: {error}"
    return report


def _page_query(
    store: Store,
    client: PoliteClient,
    endpoint: str,
    query: str,
    max_results: int,
    report: IngestReport,
    progress: ProgressFn,
) -> None:
    start = 0
    empty_retries = 0
    total: int | None = None
    while start < max_results:
        size = min(API_PAGE_SIZE, max_results - start)
        params: dict[str, str | int] = {
            "search_query": query,
            "start": start,
            "max_results": size,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
        }
        page = client.fetch(
            endpoint,
            params,
            partial(_api_page, where=f"start={start}"),
            accept=frozenset({200, 400}),
        )
        if page.total_results and page.entries_seen:
            # An empty page in mid-set can claim 0 results; trust pages that have entries.
            total = page.total_results
        if page.entries_seen == 0:
            # The API sometimes returns an empty page in the middle of a result set.
            if total is not None and start < total and empty_retries < 2:
                empty_retries += 1
                log.warning("empty page at start=%d of %d; asking again", start, total)
                continue
            return
        empty_retries = 0
        write_batches(store, [*page.problems, *page.records], report, 10_000)
        start += page.entries_seen
        progress(report.seen, min(max_results, total or max_results), f"{report.seen:,} papers")
        if total is not None and start >= total:
            return
