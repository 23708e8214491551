"""The keyword leg: BM25 over one field holding title, abstract and authors (English
stemming), plus a light title boost, in a tantivy index kept beside the database
(`<data_dir>/search/keyword`).

Why one field: summing a BM25 per field (title, abstract, authors: the first design) let a
paper matching two query words in a short title outrank the one matching most of them in its
abstract. On the independent queries' tune half (bench/search_quality.py (then bench/search_eval.py)) one field with a title
boost of 0.3 scored MRR@10 0.96 at 5k papers and 0.79 at 72k, against 0.81 and 0.57 for the
summed fields; on the judged queries it held 0.95 at 5k and rose from 0.81 to 0.84 at 72k.

The database stays the source of truth: `rebuild` makes the index from it, `update` re-indexes
papers changed since the last run (a watermark on `papers.modified_at`, so an interrupted run
just does the rest next time). User input never reaches tantivy's query syntax: queries are
built from ParsedQuery's word lists, which hold only word characters.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tantivy

from ..domain.papers import NO_FILTER, PaperFilter
from ..domain.query import ParsedQuery
from ..storage import Store
from ..storage.papers import changed_papers, count_changed, count_papers
from ..storage.twins import merged_since

# Where a query's words are looked for, with their boosts (see the module docstring).
WORD_FIELDS = {"text": 1.0, "title": 0.3}
# Version of the index's fields: an index written with another is rebuilt, not trusted.
# 3 added `published` (Unix seconds), for windows of publication time (a Following page).
SCHEMA_VERSION = 3
_BATCH = 2000
# Function words left out of the keyword leg's queries (kept when a query has nothing else).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "more",
        "most",
        "not",
        "of",
        "on",
        "or",
        "our",
        "over",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "under",
        "up",
        "using",
        "via",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
    ]
)
# A passage (a pasted abstract) is searched for its most distinctive words only: every word
# of a 200-word abstract in one disjunction took 10-50 ms at 72k papers (and grows with the
# catalog), while the rarest words alone find the same papers (docs/search.md).
MAX_QUERY_TERMS = 32
COMMIT_EVERY = 50_000  # a commit writes a segment: fewer, bigger ones build faster
_META = "dailypapers-index.json"
REINDEX_OVERLAP = timedelta(seconds=60)


# The analysis of tantivy's "en_stem" tokenizer, to find a word's indexed term.
_ANALYZER = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("arxiv_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("text", tokenizer_name="en_stem")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("abstract", tokenizer_name="en_stem")
    builder.add_text_field("authors", tokenizer_name="default")
    builder.add_text_field("categories", tokenizer_name="raw")
    builder.add_integer_field("year", indexed=True, fast=True)
    builder.add_integer_field("has_code", indexed=True, fast=True)
    builder.add_integer_field("published", indexed=True, fast=True)
    return builder.build()


@dataclass(frozen=True)
class KeywordHit:
    arxiv_id: str
    score: float


def _empty_folder(folder: Path) -> None:
    """Makes `folder` an empty folder. tantivy's own threads (a merge finishing, the files
    of a dropped writer being collected) may write into it while it is being removed, which
    leaves it half-removed: remove what is left again before giving up."""
    for _attempt in range(5):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            break
        time.sleep(0.05)
    else:
        shutil.rmtree(folder)  # still there: fail with the reason
    folder.mkdir(parents=True)


class KeywordIndex:
    """A tantivy index of the catalog. Open one per process; searching is thread-safe."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        if (folder / _META).is_file() and _schema_of(folder) != SCHEMA_VERSION:
            # Written with other fields (an upgrade): start empty; the next update builds it
            # again from the database, and searches use the fallback meanwhile.
            _empty_folder(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(_schema(), path=str(folder), reuse=True)

    @classmethod
    def for_data_dir(cls, data_dir: str | Path) -> KeywordIndex:
        return cls(Path(data_dir).expanduser() / "search" / "keyword")

    # --- building --------------------------------------------------------------------------

    @property
    def watermark(self) -> datetime | None:
        meta = self.folder / _META
        if not meta.is_file():
            return None
        value = json.loads(meta.read_text()).get("indexed_until")
        return datetime.fromisoformat(value) if value else None

    def _set_watermark(self, value: datetime | None) -> None:
        text = json.dumps(
            {"indexed_until": value.isoformat() if value else None, "schema": SCHEMA_VERSION}
        )
        temporary = self.folder / (_META + ".tmp")
        temporary.write_text(text)
        temporary.replace(self.folder / _META)

    def rebuild(self, store: Store, progress: Callable[[int, int], None] | None = None) -> int:
        """Drop everything and index every visible paper; returns how many were indexed."""
        _empty_folder(self.folder)
        self.index = tantivy.Index(_schema(), path=str(self.folder), reuse=False)
        return self.update(store, progress, fresh=True)

    def update(
        self,
        store: Store,
        progress: Callable[[int, int], None] | None = None,
        *,
        fresh: bool = False,
    ) -> int:
        """Re-index the papers changed since the last update (all of them the first time).

        Every COMMIT_EVERY papers are committed with the watermark after them, so a killed
        run resumes from its last commit. Hidden papers are removed, and so are local papers
        merged into their arXiv twins (storage/twins.py). An index holding more
        papers than the catalog has was made from another catalog and is rebuilt. Returns
        the number of papers (re)indexed.
        """
        since = self.watermark
        now = datetime.now(UTC).replace(tzinfo=None)
        if since is not None and now - since < REINDEX_OVERLAP:
            # Papers are stamped when their transaction writes them, to the second. While the
            # newest indexed change is recent, a transaction stamped just before it may not
            # have committed yet (or share its second): look back a little. Re-indexing a
            # paper twice is harmless; an old watermark needs no look-back.
            since -= REINDEX_OVERLAP
        with store.connect() as conn:
            total = count_changed(conn, since)
            # Local papers merged into their arXiv twins since: their rows are gone.
            merged = merged_since(conn, since) if since is not None and not fresh else []
        done = uncommitted = 0
        newest: datetime | None = None
        writer = self.index.writer(heap_size=128_000_000, num_threads=1)
        try:
            for merged_id in merged:
                writer.delete_documents_by_term("arxiv_id", merged_id)
            for rows in _changed_rows(store, since):
                for row in rows:
                    if not fresh:  # a new index has nothing to replace
                        writer.delete_documents_by_term("arxiv_id", row["arxiv_id"])
                    if not row["hidden"]:
                        writer.add_document(_document(row))
                newest = max(r["modified_at"] for r in rows)
                done += len(rows)
                uncommitted += len(rows)
                if uncommitted >= COMMIT_EVERY:
                    writer.commit()
                    self._set_watermark(newest)
                    uncommitted = 0
                if progress:
                    progress(done, int(total))
            if uncommitted or merged:
                writer.commit()
                if newest is not None:
                    self._set_watermark(newest)
        finally:
            writer.wait_merging_threads()
            self.index.reload()
        with store.connect() as conn:
            catalog_size = count_papers(conn)
        if not fresh and self.count() > catalog_size:
            # More documents than the catalog has papers: the index was made from another
            # catalog (the database file was replaced, the data folder kept). Start again.
            return self.rebuild(store, progress)
        return done

    # --- searching -------------------------------------------------------------------------

    def search(
        self, query: ParsedQuery, *, limit: int = 20, where: PaperFilter = NO_FILTER
    ) -> list[KeywordHit]:
        """Best matches first (BM25 with field boosts), passing the query's filters and
        `where`'s (ParsedQuery.filter); [] when the query has no terms."""
        searcher = self.index.searcher()
        if len(set(query.words)) > MAX_QUERY_TERMS:
            query = replace(query, words=self._distinctive(searcher, query.words))
        text = build_query_text(query, where)
        if not text:
            return []
        # Every clause names its field and boost (build_query_text); the default field only
        # serves the match-all of a filter-only query.
        parsed, _errors = self.index.parse_query_lenient(text, ["text"])
        result = searcher.search(parsed, limit=limit, count=False)
        hits = []
        for score, address in result.hits:
            document = searcher.doc(address)
            hits.append(KeywordHit(document["arxiv_id"][0], float(score)))
        return hits

    @staticmethod
    def _distinctive(searcher: tantivy.Searcher, words: list[str]) -> list[str]:
        """The MAX_QUERY_TERMS words of a passage that the fewest papers contain (stop words
        and words no paper has left out), in the passage's order."""
        frequency: dict[str, int] = {}
        for word in words:
            if word in frequency or word in STOP_WORDS:
                continue
            stems = _ANALYZER.analyze(word)
            count = searcher.doc_freq("text", stems[0]) if len(stems) == 1 else 0
            if count:
                frequency[word] = count
        kept = set(sorted(frequency, key=lambda w: frequency[w])[:MAX_QUERY_TERMS])
        return [w for w in frequency if w in kept] or words[:MAX_QUERY_TERMS]

    def count(self) -> int:
        return int(self.index.searcher().num_docs)


def build_query_text(query: ParsedQuery, also: PaperFilter = NO_FILTER) -> str:
    """tantivy query syntax from a ParsedQuery and the filters a page adds. Words hold only
    word characters, so the result is always valid; filters become required clauses."""
    where = query.filter(also)
    clauses: list[str] = []
    if query.words:
        # One flat disjunction of field terms (tantivy skips blocks of a flat union that
        # cannot reach the top; nested per-word unions it scores exhaustively), without the
        # function words every abstract has: 4x faster at 1M papers, same ranking otherwise.
        words = [w for w in query.words if w not in STOP_WORDS] or query.words
        clauses.append(
            " ".join(
                f"{field}:{word}" + (f"^{boost:g}" if boost != 1 else "")
                for word in words
                for field, boost in WORD_FIELDS.items()
            )
        )
    for phrase in query.phrases:
        quoted = '"' + " ".join(phrase) + '"'
        clauses.append(f"+(title:{quoted} abstract:{quoted})")
    for author in query.authors:
        clauses.append(f"+authors:{author}")
    if where.categories:
        clauses.append("+(" + " ".join(f'categories:"{c}"' for c in where.categories) + ")")
    if where.years:
        clauses.append(f"+year:[{where.years[0]} TO {where.years[1]}]")
    if where.has_code:
        clauses.append("+has_code:1")
    if where.published:
        start, end = (unix_seconds(moment) for moment in where.published)
        clauses.append(f"+published:[{start} TO {end}}}")  # the end left out
    if not (query.words or query.phrases or query.authors):
        if not (where.categories or where.years or where.published):
            return ""
        clauses.append("*")  # filters alone: every paper they allow
    for word in query.excluded_words:
        clauses.append(f"-title:{word} -abstract:{word} -authors:{word}")
    for phrase in query.excluded_phrases:
        quoted = '"' + " ".join(phrase) + '"'
        clauses.append(f"-title:{quoted} -abstract:{quoted}")
    return " ".join(clauses)


def unix_seconds(moment: datetime) -> int:
    """A stored time (naive UTC) as the index keeps it: whole seconds since 1970."""
    return (
        int(moment.replace(tzinfo=UTC).timestamp())
        if moment.tzinfo is None
        else int(moment.timestamp())
    )


def index_built(data_dir: str | Path) -> bool:
    """Whether `<data_dir>` holds a keyword index with this code's fields that an update has
    filled (what readiness asks): unlike opening a KeywordIndex, this creates and empties
    nothing."""
    folder = Path(data_dir).expanduser() / "search" / "keyword"
    if not (folder / _META).is_file() or _schema_of(folder) != SCHEMA_VERSION:
        return False
    try:
        return bool(json.loads((folder / _META).read_text()).get("indexed_until"))
    except (OSError, ValueError):
        return False


def _schema_of(folder: Path) -> int:
    """The field version an index folder was written with (1 before versions were kept)."""
    try:
        return int(json.loads((folder / _META).read_text()).get("schema", 1))
    except (OSError, ValueError):
        return 1


def _changed_rows(store: Store, since: datetime | None) -> Iterator[list[dict[str, Any]]]:
    """Changed papers in batches, oldest change first (so the watermark only moves forward)."""
    last: tuple[datetime, str] | None = None
    while True:
        with store.connect() as conn:
            rows = changed_papers(conn, since, last, _BATCH)
        if not rows:
            return
        last = (rows[-1]["modified_at"], rows[-1]["arxiv_id"])
        yield rows


def _document(row: dict[str, Any]) -> tantivy.Document:
    document = tantivy.Document()
    document.add_text("arxiv_id", row["arxiv_id"])
    authors = " ; ".join(row["authors"])
    document.add_text("text", f"{row['title']}\n{row['abstract']}\n{authors}")
    document.add_text("title", row["title"])
    document.add_text("abstract", row["abstract"])
    document.add_text("authors", " ; ".join(row["authors"]))
    for category in row["categories"]:
        document.add_text("categories", category)
    if row["published_at"] is not None:
        document.add_integer("year", row["published_at"].year)
        document.add_integer("published", unix_seconds(row["published_at"]))
    document.add_integer("has_code", 1 if row["has_code"] else 0)
    return document
