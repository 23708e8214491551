"""Words and word pairs of a paper's title and abstract, weighed by tf-idf: the lexical half of
the For you ranking (search/recommend.py). Pure: text in, numpy arrays out; no index, no
database.

Why a second representation beside the MiniLM vectors: a researcher's next paper shares rare
words with the last ones (the name of a method, a dataset, an instrument, a molecule) that a
sentence model blurs into "a paper about the same field". On the author-based benchmark
(bench/recommend.py) word-pair tf-idf ranked better than MiniLM alone, and the two together
better than either (docs/personal.md has the numbers).

Terms are hashed into 2**22 buckets (CRC-32), so document frequencies fit one numpy array and
no vocabulary has to be kept; two terms share a bucket about once in four million pairs.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

BUCKETS = 1 << 22
_WORD = re.compile(r"[a-z_][a-z0-9_]+")
# English function words, and nothing of a field's vocabulary: a word pair that spans a
# dropped word ("learning of representations" -> "learning representations") still counts.
_STOP_TEXT = """a about above after again against all almost along also although am among an and
    another any are around as at be because been before being below between both but by
    can cannot could did do does doing done down during each either else enough etc even
    ever every few for from further had has have having he her here hers herself him
    himself his how however i if in into is it its itself just least less many may me
    might more most much must my myself neither no nor not now of off often on once one
    only onto or other others otherwise our ours ourselves out over own per rather same
    several she should since so some such than that the their theirs them themselves then
    there thereby therefore these they this those though through thus to together too
    toward towards under until up upon us very via was we well were what whatever when
    where whereas whether which while who whom whose why will with within without would
    yet you your yours yourself"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def count_terms(text: str) -> Counter[str]:
    """The words (two characters or more, starting with a letter, accents folded, stop words
    dropped) and the pairs of consecutive kept words of a text, with their counts.

    >>> sorted(count_terms("Diffusion models for protein design; protein design").items())
    [('design', 2), ('design protein', 1), ('diffusion', 1), ('diffusion models', 1), ('models', 1), ('models protein', 1), ('protein', 2), ('protein design', 2)]
    """
    folded = unicodedata.normalize("NFKD", text)
    if not folded.isascii():
        folded = folded.encode("ascii", "ignore").decode()
    words = [w for w in _WORD.findall(folded.lower()) if w not in STOP_WORDS]
    counts = Counter(words)
    counts.update(f"{first} {second}" for first, second in zip(words, words[1:], strict=False))
    return counts


@dataclass(frozen=True)
class Bag:
    """A document's terms as sorted unique buckets and their counts."""

    buckets: np.ndarray  # int64, sorted, unique
    counts: np.ndarray  # float32


def bag_of(text: str) -> Bag:
    """count_terms of `text`, hashed.

    >>> bag_of("protein design").counts.tolist()
    [1.0, 1.0, 1.0]
    """
    counts = count_terms(text)
    if not counts:
        return Bag(np.zeros(0, np.int64), np.zeros(0, np.float32))
    hashed = np.fromiter(
        (zlib.crc32(term.encode()) for term in counts), dtype=np.int64, count=len(counts)
    ) & (BUCKETS - 1)
    values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    buckets, inverse = np.unique(hashed, return_inverse=True)
    return Bag(buckets, np.bincount(inverse, weights=values).astype(np.float32))


class TermStats:
    """Document frequencies over a set of papers: how many use each bucket."""

    def __init__(self, bags: Iterable[Bag]) -> None:
        self.frequency = np.zeros(BUCKETS, dtype=np.int32)
        self.documents = 0
        for bag in bags:
            self.frequency[bag.buckets] += 1
            self.documents += 1

    def idf(self, buckets: np.ndarray, own: int) -> np.ndarray:
        """ln((1 + N) / (1 + df)) + 1 per bucket, 0 where no paper but the document itself
        uses the term (`own` is 1 when the document is one of the counted papers): a word
        only one paper has says nothing about which others are like it."""
        frequency = self.frequency[buckets].astype(np.float32)
        idf = np.log((1 + self.documents) / (1 + frequency)) + 1
        return np.where(frequency > own, idf, 0).astype(np.float32)


@dataclass(frozen=True)
class TermRow:
    """A weighed document: its buckets (sorted) and unit-length sublinear tf-idf weights."""

    buckets: np.ndarray
    weights: np.ndarray


def weigh(bag: Bag, stats: TermStats, counted: bool) -> TermRow:
    """(1 + log tf) * idf, unit length, terms of zero idf dropped. `counted`: whether the
    document is one of the papers `stats` counted.

    >>> stats = TermStats([bag_of("protein design"), bag_of("protein folding")])
    >>> row = weigh(bag_of("protein design"), stats, counted=True)
    >>> row.weights.tolist()
    [1.0]
    """
    idf = stats.idf(bag.buckets, 1 if counted else 0)
    weights = (1 + np.log(bag.counts)) * idf
    keep = weights > 0
    weights = weights[keep]
    norm = np.linalg.norm(weights)
    return TermRow(bag.buckets[keep], (weights / norm if norm else weights).astype(np.float32))


class TermSpace:
    """The window's weighed rows, stored by term (each term's papers and weights) so that a
    profile of a few hundred terms is scored against every paper by gathering only those
    terms' papers."""

    def __init__(self, rows: Sequence[TermRow], most: int | None = None) -> None:
        """`most`: terms used by more rows than this are left out of every dot product (the
        rows keep their length): "model" or "results" say little and cost the most."""
        self.size = len(rows)
        lengths = np.fromiter((len(r.buckets) for r in rows), dtype=np.int64, count=len(rows))
        buckets = _concat([r.buckets for r in rows], np.int64)
        weights = _concat([r.weights for r in rows], np.float32)
        document = np.repeat(np.arange(len(rows), dtype=np.int32), lengths)
        order = np.argsort(buckets, kind="stable")
        terms, starts, used = np.unique(buckets[order], return_index=True, return_counts=True)
        if most is not None:
            rare = used <= most
            keep = np.repeat(rare, used)
            terms, used = terms[rare], used[rare]
            order = order[keep]
            starts = np.concatenate([[0], np.cumsum(used)[:-1]]).astype(np.int64)
        self.terms = terms
        self.starts = np.append(starts, len(order)).astype(np.int64)
        self.documents = document[order]
        self.weights = weights[order]

    def score(self, row: TermRow) -> np.ndarray:
        """Dot products of a row with every row of the space: float32, in row order."""
        scores: np.ndarray = self.score_many([row])[0]
        return scores

    def score_many(self, rows: Sequence[TermRow]) -> np.ndarray:
        """Dot products of each of `rows` with every row of the space: a float32 matrix,
        len(rows) x size. Gathers only the postings of the rows' terms.

        >>> space = TermSpace([TermRow(np.array([1, 4]), np.array([0.6, 0.8], np.float32)),
        ...                    TermRow(np.array([4]), np.array([1.0], np.float32))])
        >>> [round(float(x), 3) for x in space.score_many([TermRow(np.array([4]), np.array([1.0], np.float32))])[0]]
        [0.8, 1.0]
        """
        out = np.zeros((len(rows), self.size), dtype=np.float32)
        if not rows or not self.size or not len(self.terms):
            return out
        lengths = np.fromiter((len(r.buckets) for r in rows), dtype=np.int64, count=len(rows))
        buckets = _concat([r.buckets for r in rows], np.int64)
        weights = _concat([r.weights for r in rows], np.float32)
        owner = np.repeat(np.arange(len(rows)), lengths)
        place = np.minimum(np.searchsorted(self.terms, buckets), len(self.terms) - 1)
        found = self.terms[place] == buckets
        place, weights, owner = place[found], weights[found], owner[found]
        starts, ends = self.starts[place], self.starts[place + 1]
        spans = ends - starts
        total = int(spans.sum())
        if not total:
            return out
        index = np.repeat(ends - spans.cumsum(), spans) + np.arange(total)
        contribution = self.weights[index] * np.repeat(weights, spans)
        key = np.repeat(owner, spans) * self.size + self.documents[index]
        summed = np.bincount(key, weights=contribution, minlength=len(rows) * self.size)
        return summed.reshape(len(rows), self.size).astype(np.float32)


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
