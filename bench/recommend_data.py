"""The data of the For you benchmark (bench/recommend.py): the 72,133 papers of the arXiv
sample with their dates, categories, texts and MiniLM vectors, the tf-idf matrix of the
arxiv-sanity-lite baseline, and the readers of the author-based protocol. Everything slow is
cached under bench/results/recommend/ and reused.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sqlite3
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CACHE = RESULTS / "recommend"
SAMPLE = ROOT.parent / "shared" / "data" / "arxiv-sample" / "arxiv-metadata-sample.json.gz"
# Every paper of the sample embedded by the product (bench/search_quality.py builds it).
CATALOG = RESULTS / "eval-72133" / "catalog.db"
MODEL = "sentence-transformers/all-MiniLM-L6-v2@128"

LIBRARY_BEFORE = date(2026, 1, 1)
QUARTER_END = date(2026, 3, 31)
MIN_LIBRARY = 3
MAX_PAPERS = 60  # an author key with more papers is likely several people


@dataclass
class Corpus:
    """The papers that have a first-listing date, in sample order."""

    ids: list[str]
    days: np.ndarray  # int32: days since 1970-01-01 of the first listing (v1 `created`)
    categories: list[list[str]]  # primary first
    texts: list[str]  # title. abstract
    authors: list[list[str]]  # author keys (see author_key), possibly empty
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 384), np.float32))

    def date_of(self, index: int) -> date:
        return date.fromordinal(int(self.days[index]) + date(1970, 1, 1).toordinal())


def author_key(last: str, first: str) -> str | None:
    """Surname + full first name, accents and case folded; None for initials-only names.

    >>> author_key("Müller", "Jürgen K.")
    'muller|jurgen'
    >>> author_key("Ryne", "R. D.") is None
    True
    """
    words = first.split()
    if not words or not last.strip():
        return None
    given = words[0]
    if "." in given or len(re.sub(r"[\W\d_]", "", given)) < 2:
        return None
    return f"{_fold(last)}|{_fold(given)}"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower().strip()


def _day(created: str) -> int:
    return (parsedate_to_datetime(created).date() - date(1970, 1, 1)).days


def load_corpus() -> Corpus:
    """The sample's dated papers (cached as JSON + npy after the first read)."""
    meta, vectors = CACHE / "corpus.json.gz", CACHE / "vectors.npy"
    if meta.exists():
        with gzip.open(meta, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        corpus = Corpus(
            data["ids"],
            np.asarray(data["days"], dtype=np.int32),
            data["categories"],
            data["texts"],
            data["authors"],
        )
    else:
        corpus = _read_sample()
        CACHE.mkdir(parents=True, exist_ok=True)
        with gzip.open(meta, "wt", encoding="utf-8") as handle:
            json.dump(
                {
                    "ids": corpus.ids,
                    "days": corpus.days.tolist(),
                    "categories": corpus.categories,
                    "texts": corpus.texts,
                    "authors": corpus.authors,
                },
                handle,
            )
    if vectors.exists():
        corpus.vectors = np.load(vectors)
    else:
        corpus.vectors = _vectors(corpus)
        np.save(vectors, corpus.vectors)
    return corpus


def _read_sample() -> Corpus:
    from dailypapers.search.vector import paper_text

    ids, days, categories, texts, authors = [], [], [], [], []
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if not record["versions"]:
                continue  # no date: neither in a library nor in a week
            ids.append(record["id"])
            days.append(_day(record["versions"][0]["created"]))
            categories.append(record["categories"].split())
            texts.append(paper_text(" ".join(record["title"].split()), record["abstract"]))
            keys = (author_key(p[0], p[1]) for p in record["authors_parsed"] if len(p) >= 2)
            authors.append(sorted({k for k in keys if k}))
    return Corpus(ids, np.asarray(days, dtype=np.int32), categories, texts, authors)


def _vectors(corpus: Corpus) -> np.ndarray:
    """The stored vectors of the 72k catalog, read-only; papers it lacks are embedded with
    the product's Embedder (all of them, about 30-60 minutes on 2 cores, when the catalog of
    bench/search_quality.py has not been built)."""
    found: dict[str, np.ndarray] = {}
    if CATALOG.exists():
        with sqlite3.connect(f"file:{CATALOG}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT arxiv_id, embedding FROM paper_vectors WHERE model = ?", (MODEL,)
            )
            found = {i: np.frombuffer(blob, dtype="<f4") for i, blob in rows}
    vectors = np.zeros((len(corpus.ids), 384), dtype=np.float32)
    missing = []
    for row, arxiv_id in enumerate(corpus.ids):
        if arxiv_id in found:
            vectors[row] = found[arxiv_id]
        else:
            missing.append(row)
    if missing:
        from dailypapers.search.vector import Embedder

        print(f"embedding {len(missing):,} papers missing from {CATALOG} ...", flush=True)
        embedder = Embedder(max_tokens=128)
        assert embedder.name == MODEL
        step = 512
        for first in range(0, len(missing), step):
            rows = missing[first : first + step]
            vectors[rows] = embedder.embed([corpus.texts[r] for r in rows])
            print(f"\r  {first + len(rows):,}/{len(missing):,}", end="", flush=True)
        print(flush=True)
    return vectors


def load_tfidf(corpus: Corpus) -> Any:
    """arxiv-sanity-lite's features: word uni- and bigrams, sublinear tf, l2 rows, up to
    20,000 terms, over title and abstract only (its settings, our code)."""
    import scipy.sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    path = CACHE / "tfidf.npz"
    if path.exists():
        return scipy.sparse.load_npz(path).tocsr()
    vectorizer = TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        sublinear_tf=True,
        max_df=0.1,
        min_df=5,
        dtype=np.float32,
    )
    matrix = vectorizer.fit_transform(corpus.texts).tocsr()
    scipy.sparse.save_npz(path, matrix)
    return matrix


@dataclass
class Reader:
    key: str  # the author key: never a feature, only the protocol's bookkeeping
    library: np.ndarray  # corpus rows listed before 2026-01-01, oldest first
    weeks: dict[int, np.ndarray]  # ISO week of 2026 -> the reader's rows listed that week
    half: str  # "tune" or "report"


def week_of(corpus: Corpus) -> np.ndarray:
    """The ISO week (1-13) of 2026 of each paper listed in Q1 2026 (from 2026-01-01 to the
    Sunday of week 13, 2026-03-29), 0 for every other paper."""
    first = (LIBRARY_BEFORE - date(1970, 1, 1)).days
    monday_w1 = (date(2025, 12, 29) - date(1970, 1, 1)).days
    weeks = (corpus.days - monday_w1) // 7 + 1
    inside = (corpus.days >= first) & (weeks >= 1) & (weeks <= 13)
    return np.where(inside, weeks, 0).astype(np.int32)


def find_readers(corpus: Corpus) -> list[Reader]:
    """Authors with at least MIN_LIBRARY papers before 2026 and at least one in a week of
    Q1 2026; keys with more than MAX_PAPERS papers dropped. Each reader belongs for good to
    one half, by a hash of the key, so tuning never sees the readers that are reported."""
    weeks = week_of(corpus)
    cutoff = (LIBRARY_BEFORE - date(1970, 1, 1)).days
    rows_of: dict[str, list[int]] = defaultdict(list)
    for row, keys in enumerate(corpus.authors):
        for key in keys:
            rows_of[key].append(row)
    readers = []
    for key, rows in sorted(rows_of.items()):
        if len(rows) > MAX_PAPERS:
            continue
        library = sorted((r for r in rows if corpus.days[r] < cutoff), key=lambda r: corpus.days[r])
        if len(library) < MIN_LIBRARY:
            continue
        wanted: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            if weeks[r]:
                wanted[int(weeks[r])].append(r)
        if not wanted:
            continue
        digest = hashlib.sha1(key.encode()).digest()[0]
        readers.append(
            Reader(
                key,
                np.asarray(library, dtype=np.int64),
                {w: np.asarray(v, dtype=np.int64) for w, v in sorted(wanted.items())},
                "tune" if digest % 2 == 0 else "report",
            )
        )
    return readers


def load_bags(corpus: Corpus) -> list[Any]:
    """terms.bag_of of every paper (the product's tokeniser), cached as two flat arrays."""
    from dailypapers.search.terms import Bag, bag_of

    path = CACHE / "bags.npz"
    if not path.exists():
        bags = [bag_of(text) for text in corpus.texts]
        lengths = np.array([len(b.buckets) for b in bags], dtype=np.int64)
        np.savez(
            path,
            lengths=lengths,
            buckets=np.concatenate([b.buckets for b in bags]),
            counts=np.concatenate([b.counts for b in bags]),
        )
    data = np.load(path)
    ends = np.cumsum(data["lengths"])
    starts = ends - data["lengths"]
    buckets, counts = data["buckets"], data["counts"]
    return [Bag(buckets[s:e], counts[s:e]) for s, e in zip(starts, ends, strict=True)]
