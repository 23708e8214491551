"""A reader's library: save and remove papers, list and search them, import a reference
manager's export as a cold start, and export the library as BibTeX or CSL-JSON. The web pages,
the JSON API and the CLI all call these.

An import reads the whole file first (ingest/references.py: a malformed file is refused
before anything is written), matches every entry (domain/library.py's rule, storage's
lookups), then writes the matched papers and the import's report in one transaction. Entries
naming an arXiv id the catalog lacks are left "pending": `fetch_import` asks arXiv for them
through the polite client, adds those it finds and settles the report. The site runs it on an
ImportFetcher thread, so the upload answers at once; the CLI runs it inline. A lease on the
import row lets another process take over an import whose fetcher died.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import Config
from ..domain.citations import to_bibtex, to_csl_json
from ..domain.errors import NotFound
from ..domain.ids import InvalidArxivId, parse_paper_id
from ..domain.library import (
    DONE,
    FETCHED,
    FETCHING,
    IMPORTED,
    MATCHED,
    PENDING,
    SAVED,
    UNMATCHED,
    Candidate,
    LibraryImport,
    LibraryItem,
    Outcome,
    Reference,
    choose_by_title,
)
from ..domain.papers import Paper
from ..domain.people import User
from ..domain.query import parse_query
from ..ingest.harvest import API_IDS_PER_CALL, ingest_arxiv_api
from ..ingest.http import PoliteClient
from ..ingest.references import read_references
from ..ingest.run import ProgressFn, _no_progress
from ..storage import Store
from ..storage.library import (
    Connection,
    add_items,
    aliases_of,
    candidates,
    catalog_state,
    claim_import,
    count_items,
    create_import,
    find_by_doi_and_title,
    finish_import,
    get_import,
    item_of,
    list_items,
    recent_imports,
    remove_item,
    renew_lease,
    saved_among,
    set_report,
    unfinished_imports,
)
from .arxiv import polite_client
from .limits import Budget, charge
from .userdata import restore_sections

log = logging.getLogger(__name__)

PAGE_SIZE = 50
# How long a fetcher holds an import without renewing: a batch of ids from arXiv takes
# seconds, its retries minutes at most (backoff_max); past this, another process takes over.
LEASE = timedelta(minutes=15)
_TITLE_SHOWN = 300


def _stored(moment: datetime, *, exact: bool = False) -> datetime:
    """A time as the database keeps it: naive UTC, to the second (`exact`: to the
    microsecond, so that two saves within one second keep their order)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment if exact else moment.replace(microsecond=0)


def _paper_id(raw: str) -> str:
    try:
        return parse_paper_id(raw)
    except InvalidArxivId:
        raise NotFound(f"Paper {raw[:60]!r} not found") from None


# --- save, remove, list --------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """A paper in the library after a save: `new` when this save added it."""

    arxiv_id: str
    new: bool
    added_at: datetime
    how: str


def save(
    store: Store, user: User, raw_id: str, now: datetime, budget: Budget | None = None
) -> Saved:
    """Put a catalog paper (any id form; a merged local id means its arXiv twin) in the
    reader's library; saving it again changes nothing. NotFound for a paper the catalog does
    not show. `budget` is counted in the same transaction."""
    arxiv_id = _paper_id(raw_id)
    with store.begin() as conn:
        charge(conn, budget)
        arxiv_id = aliases_of(conn, [arxiv_id]).get(arxiv_id, arxiv_id)
        if catalog_state(conn, [arxiv_id]).get(arxiv_id, True):
            raise NotFound(f"No paper {arxiv_id} in this catalog.")
        new = bool(add_items(conn, user.id, [(arxiv_id, _stored(now, exact=True), SAVED, None)]))
        kept = item_of(conn, user.id, arxiv_id)
    assert kept is not None
    return Saved(arxiv_id, new, kept[0], kept[1])


def remove(store: Store, user: User, raw_id: str, budget: Budget | None = None) -> tuple[str, bool]:
    """Take a paper out of the reader's library: (its id, whether it was there)."""
    arxiv_id = _paper_id(raw_id)
    with store.begin() as conn:
        charge(conn, budget)
        arxiv_id = aliases_of(conn, [arxiv_id]).get(arxiv_id, arxiv_id)
        return arxiv_id, remove_item(conn, user.id, arxiv_id)


def saved_papers(store: Store, user: User | None, arxiv_ids: Sequence[str]) -> set[str]:
    """Which of these papers the reader keeps (none for a visitor)."""
    if user is None or not arxiv_ids:
        return set()
    with store.connect() as conn:
        return saved_among(conn, user.id, arxiv_ids)


@dataclass
class LibraryPage:
    items: list[LibraryItem]
    total: int
    page: int
    pages: int
    query: str
    imports: list[LibraryImport]


def library_page(store: Store, user: User, text: str, page: int) -> LibraryPage:
    """One page of the reader's library, newest first, narrowed by a search in the site's
    query language (domain/query.py) over the saved papers' titles, abstracts and authors;
    with the reader's latest imports."""
    query = parse_query(text) if text.strip() else None
    with store.connect() as conn:
        total = count_items(conn, user.id, query)
        offset = (page - 1) * PAGE_SIZE
        items = list_items(conn, user.id, query, offset=offset, limit=PAGE_SIZE)
        imports = recent_imports(conn, user.id)
    pages = max(1, -(-total // PAGE_SIZE))
    return LibraryPage(items, total, page, pages, text, imports)


def library_papers(store: Store, user: User) -> list[Paper]:
    """The whole library, newest first (for an export)."""
    with store.connect() as conn:
        return [item.paper for item in list_items(conn, user.id, limit=None)]


def export_bibtex(store: Store, user: User, page_url: Callable[[str], str]) -> str:
    return to_bibtex(library_papers(store, user), page_url)


def export_csl_json(
    store: Store, user: User, page_url: Callable[[str], str]
) -> list[dict[str, Any]]:
    return to_csl_json(library_papers(store, user), page_url)


def own_import(store: Store, user: User, import_id: int) -> LibraryImport:
    """One of the reader's imports; NotFound for anyone else's (or none)."""
    record = None
    if 0 < import_id <= 2**31 - 1:  # the column's range: past it, no row and no query
        with store.connect() as conn:
            record = get_import(conn, import_id)
    if record is None or record.user_id != user.id:
        raise NotFound("No such import.")
    return record


# --- import --------------------------------------------------------------------------------


def import_file(
    store: Store,
    config: Config,
    user: User,
    data: bytes,
    filename: str,
    fmt: str | None,
    now: datetime,
) -> LibraryImport:
    """Import a reference file into the reader's library (see the module docstring); returns
    the import as recorded, "fetching" when arXiv must be asked for some entries (then hand
    it to `fetch_import`). Raises TooLarge past the limits and ReferenceFileError (a
    BadParameter naming the line) for a malformed file; nothing is written then."""
    parsed = read_references(
        data,
        fmt,
        max_bytes=config.library_import_max_bytes,
        max_entries=config.library_import_max_entries,
    )
    with store.connect() as conn:
        outcomes = match_references(conn, parsed.references)
    stamp = _stored(now)
    with store.begin() as conn:
        notes = restore_sections(conn, user, parsed.document) if parsed.document else []
        _confirm_matches(conn, outcomes)
        status = FETCHING if any(o.status == PENDING for o in outcomes) else DONE
        import_id = create_import(conn, user.id, stamp, status, parsed.format, filename, [])
        rows = []
        for reference, outcome in zip(parsed.references, outcomes, strict=True):
            if outcome.status == MATCHED and outcome.arxiv_id:
                added = (
                    _stored(reference.added_at, exact=True) if reference.added_at else stamp
                )  # as exported
                rows.append((outcome.arxiv_id, added, reference.how or IMPORTED, import_id))
        _add_and_mark(conn, user.id, rows, outcomes)
        if status == DONE:
            finish_import(conn, import_id, outcomes, notes, stamp)
        else:
            set_report(conn, import_id, outcomes, notes)
        record = get_import(conn, import_id)
    assert record is not None
    return record


def _add_and_mark(
    conn: Connection,
    user_id: int,
    rows: Sequence[tuple[str, datetime, str, int | None]],
    outcomes: list[Outcome],
) -> None:
    """Add the rows (first of each paper) and mark the outcomes of papers already kept."""
    first = list({row[0]: row for row in reversed(rows)}.values())[::-1]
    before = saved_among(conn, user_id, [row[0] for row in first])
    add_items(conn, user_id, [row for row in first if row[0] not in before])
    for outcome in outcomes:
        if outcome.status in (MATCHED, FETCHED) and outcome.arxiv_id in before:
            outcome.already = True


def _confirm_matches(conn: Connection, outcomes: list[Outcome]) -> None:
    """Inside the write: a matched local paper may have merged into its arXiv twin since the
    match was made (follow the alias), or a paper vanished (then unmatched)."""
    ids = [o.arxiv_id for o in outcomes if o.status == MATCHED and o.arxiv_id]
    aliases = aliases_of(conn, ids)
    state = catalog_state(conn, [aliases.get(i, i) for i in ids])
    for outcome in outcomes:
        if outcome.status != MATCHED or not outcome.arxiv_id:
            continue
        outcome.arxiv_id = aliases.get(outcome.arxiv_id, outcome.arxiv_id)
        if state.get(outcome.arxiv_id, True):
            outcome.status, outcome.reason = UNMATCHED, "the paper left the catalog meanwhile"


def _outcome(reference: Reference, status: str, **values: Any) -> Outcome:
    title = reference.title[:_TITLE_SHOWN] if reference.title else None
    return Outcome(reference.position, status, title=title, key=reference.key, **values)


def match_references(conn: Connection, references: list[Reference]) -> list[Outcome]:
    """What each reference is in the catalog (domain/library.py's rule): MATCHED with the
    paper and how, PENDING for an arXiv id to fetch, UNMATCHED with the reason; one outcome
    per reference, in order. A paper named twice is matched twice (it is added once)."""
    ids = [r.arxiv_id for r in references if r.arxiv_id]
    aliases = aliases_of(conn, ids)
    state = catalog_state(conn, [aliases.get(i, i) for i in ids])
    outcomes: list[Outcome | None] = []
    rest: list[int] = []
    for index, reference in enumerate(references):
        arxiv_id = reference.arxiv_id
        if arxiv_id is not None:
            arxiv_id = aliases.get(arxiv_id, arxiv_id)
            if arxiv_id in state:
                if state[arxiv_id]:
                    outcomes.append(
                        _outcome(
                            reference,
                            UNMATCHED,
                            arxiv_id=arxiv_id,
                            reason=f"{arxiv_id} was removed from arXiv (hidden in this catalog)",
                        )
                    )
                else:
                    outcomes.append(_outcome(reference, MATCHED, arxiv_id=arxiv_id, by="arXiv id"))
                continue
            if not arxiv_id.startswith("local-"):
                outcomes.append(_outcome(reference, PENDING, arxiv_id=arxiv_id))
                continue
        outcomes.append(None)
        rest.append(index)
    _match_by_doi_and_title(conn, references, rest, outcomes)
    return [o for o in outcomes if o is not None]


def _match_by_doi_and_title(
    conn: Connection,
    references: list[Reference],
    rest: list[int],
    outcomes: list[Outcome | None],
) -> None:
    """DOI, then title with the first author settling ties, for the references at `rest`."""
    dois = {doi for i in rest for doi in references[i].dois}
    wanted = {key for i in rest for key in references[i].title_keys()}
    by_doi, by_key = find_by_doi_and_title(conn, dois, wanted)
    known = candidates(conn, [arxiv_id for found in by_key.values() for arxiv_id in found])
    for index in rest:
        reference = references[index]
        keys = reference.title_keys()
        ids = dict.fromkeys(i for key in keys for i in by_key.get(key, []))
        found = [known[i] for i in ids if i in known]
        doi_hits = list(dict.fromkeys(a for doi in reference.dois for a in by_doi.get(doi, [])))
        if len(doi_hits) > 1:  # one DOI on several papers (an erratum): the title decides
            titled = [a for a in doi_hits if a in {c.arxiv_id for c in found}]
            doi_hits = titled if len(titled) == 1 else doi_hits
        if len(doi_hits) == 1:
            outcomes[index] = _outcome(reference, MATCHED, arxiv_id=doi_hits[0], by="DOI")
            continue
        if not keys:
            why = "no arXiv id, DOI or title found in this catalog"
            if doi_hits:
                why = f"its DOI is listed by {len(doi_hits)} papers and it has no title"
            outcomes[index] = _unmatched(reference, why)
            continue
        arxiv_id, how = choose_by_title(reference, _ordered(found))
        if arxiv_id is None:
            outcomes[index] = _unmatched(reference, how)
        else:
            outcomes[index] = _outcome(reference, MATCHED, arxiv_id=arxiv_id, by=how)


def _ordered(found: list[Candidate]) -> list[Candidate]:
    return sorted(found, key=lambda candidate: candidate.arxiv_id)


def _unmatched(reference: Reference, why: str) -> Outcome:
    if reference.arxiv_problem:
        why = f"{reference.arxiv_problem}; and {why}"
    elif not reference.title and not reference.dois:
        why = "it has no arXiv id, DOI or title"
    return _outcome(reference, UNMATCHED, reason=why)


# --- fetching what the catalog lacks -------------------------------------------------------


def fetch_import(
    store: Store,
    config: Config,
    import_id: int,
    client: PoliteClient,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: ProgressFn = _no_progress,
    should_stop: Callable[[], bool] = lambda: False,
) -> LibraryImport | None:
    """Ask arXiv for the pending papers of a "fetching" import, add those it has to the
    library and settle the report; returns the finished import, or None when another
    fetcher holds it, it is done, or `should_stop` said to stop (the lease then runs out and
    a later fetcher takes over). Batches of API_IDS_PER_CALL ids, one request each, spaced
    by the client's delay."""
    now = _stored(clock())
    with store.begin(counted=False) as conn:
        if not claim_import(conn, import_id, now, now + LEASE):
            return None
        record = get_import(conn, import_id)
    assert record is not None
    pending = record.pending_ids
    failed: dict[str, str] = {}
    for start in range(0, len(pending), API_IDS_PER_CALL):
        if should_stop():
            return None
        chunk = pending[start : start + API_IDS_PER_CALL]
        report = ingest_arxiv_api(store, client, config.arxiv_api_endpoint, ids=chunk)
        if report.error:
            failed.update(dict.fromkeys(chunk, report.error))
        progress(start + len(chunk), len(pending), f"{start + len(chunk):,} asked of arXiv")
        with store.begin(counted=False) as conn:
            renew_lease(conn, import_id, _stored(clock()) + LEASE)
    return _settle(store, record, failed, _stored(clock()))


def _settle(
    store: Store, record: LibraryImport, failed: dict[str, str], now: datetime
) -> LibraryImport:
    with store.begin() as conn:
        state = catalog_state(conn, record.pending_ids)
        rows = []
        for outcome in record.outcomes:
            if outcome.status != PENDING or not outcome.arxiv_id:
                continue
            if state.get(outcome.arxiv_id) is False:
                outcome.status = FETCHED
                rows.append((outcome.arxiv_id, record.created_at, IMPORTED, record.id))
            elif outcome.arxiv_id in failed:
                outcome.status = UNMATCHED
                outcome.reason = (
                    f"arXiv did not answer ({failed[outcome.arxiv_id]}); import the file again "
                    "later"
                )
            else:
                outcome.status, outcome.reason = UNMATCHED, "arXiv has no paper with this id"
        _add_and_mark(conn, record.user_id, rows, record.outcomes)
        finish_import(conn, record.id, record.outcomes, record.notes, now)
        done = get_import(conn, record.id)
    assert done is not None
    return done


class ImportFetcher:
    """The site's fetcher: one thread per process, started when an import is handed over
    and ending when none waits, taking imports one at a time through one polite client (so
    arXiv sees one request every `request_delay` seconds however many readers import)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_fetched: Callable[[], None] | None = None,
    ) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.on_fetched = on_fetched
        self._queue: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def submit(self, import_id: int) -> None:
        """Fetch this import's pending papers soon."""
        with self._lock:
            self._queue.put(import_id)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="library-fetcher", daemon=True
                )
                self._thread.start()

    def resume(self) -> int:
        """Hand over every unfinished import nobody holds (a process that died left them);
        returns how many."""
        with self.store.connect() as conn:
            found = unfinished_imports(conn, _stored(self.clock()))
        for import_id in found:
            self.submit(import_id)
        return len(found)

    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current batch; what is left resumes in a later process."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        with polite_client(self.config) as client:
            while not self._stop.is_set():
                with self._lock:
                    try:
                        import_id = self._queue.get_nowait()
                    except queue.Empty:
                        self._thread = None
                        return
                try:
                    done = fetch_import(
                        self.store,
                        self.config,
                        import_id,
                        client,
                        clock=self.clock,
                        should_stop=self._stop.is_set,
                    )
                except Exception:  # the lease runs out and a later fetcher retries it
                    log.exception("library import %d: fetching from arXiv failed", import_id)
                    continue
                if done is not None and done.count(FETCHED) and self.on_fetched is not None:
                    self.on_fetched()
        with self._lock:
            self._thread = None
