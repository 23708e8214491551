"""The For you ranking: a reader's positive papers (saved, imported, upvoted, a pasted
abstract) against a window of candidate papers, in several interests that each get a share of
the list, with "not interested" papers and their close neighbours pushed down, follows
matched by the caller, and a reason for every paper. Pure: numpy in, ids out; the caller
(services/foryou.py) reads the papers and their vectors, this module only ranks.

How a candidate is scored in an interest (a group of the positives, by their vectors), and
in the "whole" (all the reader's positives as one group):

    score = z(lexical / (1 + lexical_density * words))
            + dense_weight * z(closest - density_weight * density)

- lexical: the sum over the group's papers of the candidate's tf-idf dot product with
  each (words and word pairs, search/terms.py), counted only for each paper's
  `lexical_neighbours` best candidates, less the next one's (so the rest count 0);
- words: the candidate's mean tf-idf dot product with its nearest papers of the window in
  words, over the window's mean: a paper in the words of every paper of its field would
  otherwise match every profile of that field;
- closest: the highest MiniLM cosine to one of the interest's papers (a little less for an
  upvote, a weaker signal than a saved paper), floored at each paper's `neighbours`-th best
  candidate;
- density: the mean cosine of the candidate to its nearest papers of the window. A paper
  close to everything (a survey, a generic abstract) would otherwise lead every list;
- z(): standardised over the window's candidates, so the two halves weigh alike for every
  reader and an interest's best papers stand out whatever its size.

Both halves need only each positive paper's short neighbour lists (Neighbours), which a
Window computes once per paper and shares between readers: composing many readers' lists
costs little more per reader than sorting a few thousand numbers.

A candidate belongs to the interest where it scores best; its score in the list is its
score in the whole (`whole_weight` 1): a paper near two interests is worth more than one near
one, and a small interest's z-scores are not noisier than a large one's. Each interest's
stream holds its papers by that score. The list takes papers from the streams in turn, each
in proportion to its weight to the power `share_power`, but a turn passes to the best paper
overall when the interest's own best trails it by more than `share_margin` in the interests'
own scores (so a small interest keeps its turns). Then each `sort_block` picks in a row are
shown best first (the follows' papers keeping their places): the shares hold within every
ten papers, and the best of them leads. The
constants were chosen on the tune half of the readers of bench/recommend.py and reported on
the other half (docs/benchmarks.md, "For you: quality and speed").
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from .terms import Bag, TermRow, TermSpace, TermStats, weigh

DIMENSIONS = 384
KINDS = {"saved": 1.0, "imported": 1.0, "upvoted": 0.6, "abstract": 1.0}
DENSE_ENOUGH = 15  # a window's papers per density neighbour for the word density to count


@dataclass(frozen=True)
class Tuning:
    """The ranking's constants, one object so the benchmark can try others."""

    dense_weight: float = 0.8
    density_weight: float = 1.0
    density_neighbours: int = 10
    density_sample: int = 2000  # window papers the density is measured against
    neighbours: int = 200  # each positive paper's candidates closest in meaning kept
    lexical_neighbours: int = 200  # each positive paper's lexically closest candidates kept
    common_share: float = 0.2  # terms used by more of the window's papers count for nothing
    weak_penalty: float = 0.1  # closest cosine lowered by this times (1 - weight)
    lexical_density: float = 1.0  # lexical half over 1 + this times the word density
    whole_weight: float = 1.0  # a pick's score: this much from all the positives as one
    sort_block: int = 10  # each this many picks in a row (shares kept) shown best first
    max_positives: int = 1000  # the first ones given (the caller puts the newest first)
    interest_similarity: float = 0.35  # cosine to an interest's centre paper to belong
    max_interests: int = 6
    min_interest_papers: int = 2
    share_power: float = 0.5
    share_margin: float = 0.5
    follow_share: float = 0.25
    dismiss_similarity: float = 0.6  # cosine from which a dismissed paper's neighbours drop
    dismiss_penalty: float = 3.0


TUNING = Tuning()


@dataclass(frozen=True)
class Positive:
    """A paper that tells what the reader likes. `arxiv_id` is None for a pasted abstract."""

    arxiv_id: str | None
    vector: np.ndarray  # unit length, 384 floats
    bag: Bag  # terms.bag_of(title + abstract)
    kind: str = "saved"
    weight: float | None = None  # None: KINDS[kind]

    @property
    def strength(self) -> float:
        return KINDS[self.kind] if self.weight is None else self.weight


@dataclass(frozen=True)
class Why:
    """Why a paper is in the list: the positive paper it is closest to ("paper", with its id,
    None for a pasted abstract), the follows it matched ("follow"), or "trending"."""

    kind: str
    arxiv_id: str | None = None
    follows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pick:
    arxiv_id: str
    score: float
    why: Why
    interest: int | None  # index into Ranking.interests; None for follows and trending


@dataclass(frozen=True)
class Interest:
    """One group of the positives: their indices (into the positives ranked), its weight
    (their strengths summed) and its share of the list."""

    members: tuple[int, ...]
    weight: float
    share: float


@dataclass(frozen=True)
class Ranking:
    picks: list[Pick]
    interests: list[Interest]
    demoted: int  # candidates pushed down by "not interested"


@dataclass(frozen=True)
class Neighbours:
    """One positive paper against a window: the candidates closest in meaning (rows with
    their cosines) and the cosine every other candidate is floored at; the candidates with
    the most tf-idf in common (rows, with how far their dot product exceeds the best one
    left out)."""

    rows: np.ndarray
    cosines: np.ndarray
    floor: float
    lexical_rows: np.ndarray
    lexical: np.ndarray


class Window:
    """The candidates of a ranking, prepared once and shared by every reader ranked on them:
    their vectors, their tf-idf rows, their density, and each positive paper's Neighbours
    (`neighbours_of`), kept for the next reader who has the same paper.

    `vectors` are unit-length float32 rows in `ids` order; `bags` are terms.bag_of each
    paper's title and abstract; `stats` the document frequencies the tf-idf weights come
    from: they must count the window's papers (TermStats(bags) when not given), and
    `counted` names the other papers they counted."""

    BATCH = 64  # positives whose Neighbours are computed together

    def __init__(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        bags: Sequence[Bag],
        stats: TermStats | None = None,
        counted: Collection[str] = (),
        tuning: Tuning = TUNING,
    ) -> None:
        if len(ids) != len(vectors) or len(ids) != len(bags):
            raise ValueError("a window needs one vector and one bag of terms per paper")
        self.ids = list(ids)
        self.position = {arxiv_id: row for row, arxiv_id in enumerate(self.ids)}
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, DIMENSIONS)
        self.stats = stats if stats is not None else TermStats(bags)
        self.counted = set(counted)
        most = max(1, int(tuning.common_share * len(bags)))
        rows = [weigh(bag, self.stats, counted=True) for bag in bags]
        self.terms = TermSpace(rows, most)
        self.density = _density(self.vectors, tuning)
        # In a window of fewer than DENSE_ENOUGH times density_neighbours papers a paper's
        # nearest papers in words are its whole field, not its near-duplicates: a field's
        # papers would lose to everything else (a pasted abstract on proteins would open
        # with other fields' papers), so the word density counts for nothing there.
        self.lexical_density = (
            _lexical_density(self.terms, rows, tuning)
            if tuning.lexical_density and len(rows) >= DENSE_ENOUGH * tuning.density_neighbours
            else np.zeros(len(rows), dtype=np.float32)
        )
        self.tuning = tuning
        self._known: dict[str, Neighbours] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def forget(self) -> None:
        """Drop the remembered Neighbours (a benchmark timing a reader from scratch)."""
        self._known.clear()

    def neighbours_of(self, positives: Sequence[Positive], processes: int = 1) -> list[Neighbours]:
        """Each positive's Neighbours, in order; those of catalog papers are remembered.
        Computing them for many positives at once is faster than one by one; `processes`
        above 1 computes batches in that many forked processes (Linux; for batch jobs)."""
        found: list[Neighbours | None] = [
            self._known.get(p.arxiv_id) if p.arxiv_id else None for p in positives
        ]
        missing = [i for i, n in enumerate(found) if n is None]
        batches = [
            [positives[i] for i in missing[first : first + self.BATCH]]
            for first in range(0, len(missing), self.BATCH)
        ]
        if processes > 1 and len(batches) > 1:
            global _SHARED_BATCHES
            _SHARED_BATCHES = (self, batches)
            try:
                with multiprocessing.get_context("fork").Pool(processes) as pool:
                    done = pool.map(_compute_batch, range(len(batches)), chunksize=8)
            finally:
                _SHARED_BATCHES = None
        else:
            done = [self._compute(batch) for batch in batches]
        made = [n for batch in done for n in batch]
        for i, neighbours in zip(missing, made, strict=True):
            found[i] = neighbours
            if positives[i].arxiv_id:
                self._known[str(positives[i].arxiv_id)] = neighbours
        return [n for n in found if n is not None]

    def _compute(self, batch: Sequence[Positive]) -> list[Neighbours]:
        vectors = np.stack([p.vector for p in batch]).astype(np.float32)
        cosines = vectors @ self.vectors.T  # positives x candidates
        rows = [weigh(p.bag, self.stats, counted=self._is_counted(p)) for p in batch]
        common = self.terms.score_many(rows)
        near, near_floor = _top_rows(cosines, self.tuning.neighbours)
        lexical, lexical_floor = _top_rows(common, self.tuning.lexical_neighbours)
        made = []
        for i in range(len(batch)):
            lexical_rows = lexical[i][common[i, lexical[i]] > lexical_floor[i]]
            made.append(
                Neighbours(
                    near[i].astype(np.int32),
                    cosines[i, near[i]],
                    float(near_floor[i]),
                    lexical_rows.astype(np.int32),
                    common[i, lexical_rows] - lexical_floor[i],
                )
            )
        return made

    def _is_counted(self, positive: Positive) -> bool:
        return positive.arxiv_id in self.counted or positive.arxiv_id in self.position


# What forked workers of Window.neighbours_of read (inherited, never pickled).
_SHARED_BATCHES: tuple[Window, list[list[Positive]]] | None = None


def _compute_batch(index: int) -> list[Neighbours]:
    assert _SHARED_BATCHES is not None
    window, batches = _SHARED_BATCHES
    return window._compute(batches[index])


def _top_rows(values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `values` (positives x candidates): the columns of its `count` highest
    values, ascending, and the value every other column is at most (the best one left out,
    or the lowest kept when none is left out)."""
    width = values.shape[1]
    if count >= width:
        columns = np.broadcast_to(np.arange(width), values.shape)
        floor = values.min(axis=1) if width else np.zeros(len(values), np.float32)
        return np.array(columns), np.minimum(floor, 0) if width else floor
    chosen = np.argpartition(-values, count, axis=1)[:, : count + 1]
    picked = np.take_along_axis(values, chosen, axis=1)
    cut = np.argmin(picked, axis=1)
    floor = picked[np.arange(len(values)), cut]
    keep = np.ones(chosen.shape, dtype=bool)
    keep[np.arange(len(values)), cut] = False
    columns = np.sort(chosen[keep].reshape(len(values), count), axis=1)
    return columns, floor


def _density(vectors: np.ndarray, tuning: Tuning) -> np.ndarray:
    """Each paper's mean cosine to its nearest papers of the window (itself left out),
    measured against an evenly spaced sample of the window when it is large."""
    count = len(vectors)
    if count < 2:
        return np.zeros(count, dtype=np.float32)
    step = max(1, math.ceil(count / tuning.density_sample))
    sample = np.arange(0, count, step)
    nearest = min(tuning.density_neighbours, len(sample) - 1)
    density = np.empty(count, dtype=np.float32)
    for first in range(0, count, 2048):
        block = vectors[first : first + 2048] @ vectors[sample].T
        rows = np.arange(first, first + len(block))
        own = np.minimum(np.searchsorted(sample, rows), len(sample) - 1)
        is_own = sample[own] == rows
        block[is_own, own[is_own]] = -2.0  # not its own neighbour
        top = np.partition(block, len(sample) - nearest, axis=1)[:, len(sample) - nearest :]
        density[first : first + len(block)] = top.mean(axis=1)
    return density


def _lexical_density(terms: TermSpace, rows: list[TermRow], tuning: Tuning) -> np.ndarray:
    """Each paper's mean tf-idf dot product with its `density_neighbours` closest papers of
    the window in words (itself left out): the lexical twin of `_density`. A paper written
    in the words every paper of its field uses shares many terms with every profile; on the
    benchmark's tune half, dividing the lexical half by 1 + this (over the window's mean)
    ranked better (docs/benchmarks.md)."""
    count = len(rows)
    out = np.zeros(count, dtype=np.float32)
    nearest = min(tuning.density_neighbours, count - 1)
    if nearest < 1:
        return out
    for first in range(0, count, 256):
        block = terms.score_many(rows[first : first + 256])
        block[np.arange(len(block)), np.arange(first, first + len(block))] = -1  # itself
        top = np.partition(block, count - nearest, axis=1)[:, count - nearest :]
        out[first : first + len(block)] = top.mean(axis=1)
    return out


def find_interests(
    vectors: np.ndarray, weights: np.ndarray, tuning: Tuning = TUNING
) -> list[Interest]:
    """Groups of the positives around centre papers. The centre of each next group is the
    paper with the most (weighted) ungrouped papers within `interest_similarity` cosine; they
    form its group. Then every paper joins the centre it is closest to; a group of fewer than
    `min_interest_papers` papers gives up its centre, and only the `max_interests` heaviest
    centres stay. Heaviest first, each with its share of the list.

    >>> v = np.array([[1, 0], [0.96, 0.28], [0, 1], [0.28, 0.96]], np.float32)
    >>> [i.members for i in find_interests(v, np.ones(4))]
    [(0, 1), (2, 3)]
    """
    if len(vectors) == 0:
        return []
    return _interests_block([np.asarray(vectors, np.float32)], [np.asarray(weights)], tuning)[0]


def _interests_block(
    vectors: Sequence[np.ndarray], weights: Sequence[np.ndarray], tuning: Tuning
) -> list[list[Interest]]:
    """find_interests for several readers at once (each reader's papers padded to the
    longest): the same steps, on arrays with one row per reader."""
    readers, longest = len(vectors), max(len(v) for v in vectors)
    dims = vectors[0].shape[1]
    padded = np.zeros((readers, longest, dims), dtype=np.float32)
    mass = np.zeros((readers, longest), dtype=np.float64)
    valid = np.zeros((readers, longest), dtype=bool)
    for r, (v, w) in enumerate(zip(vectors, weights, strict=True)):
        padded[r, : len(v)] = v
        mass[r, : len(v)] = w
        valid[r, : len(v)] = True
    similar = padded @ padded.transpose(0, 2, 1)
    close = (similar >= tuning.interest_similarity) & valid[:, :, None] & valid[:, None, :]
    closeness = close.astype(np.float64)
    free = valid.copy()
    centres = np.full((readers, longest), -1, dtype=np.int64)
    found = np.zeros(readers, dtype=np.int64)
    every = np.arange(readers)
    while free.any():
        active = free.any(axis=1)
        reach = np.einsum("rij,rj->ri", closeness, mass * free)
        centre = np.argmax(np.where(free, reach, -np.inf), axis=1)
        picked = every[active]
        centres[picked, found[picked]] = centre[picked]
        found[picked] += 1
        free[picked] &= ~close[picked, centre[picked]]
        free[picked, centre[picked]] = False
    for _ in range(2):
        width = int(found.max())
        label, sizes, weight = _label(similar, valid, mass, centres[:, :width])
        order = np.argsort(-weight, axis=1, kind="stable")
        large = np.take_along_axis(sizes >= tuning.min_interest_papers, order, axis=1)
        keep = large & (np.cumsum(large, axis=1) <= tuning.max_interests)
        kept = np.take_along_axis(centres[:, :width], order, axis=1)
        heaviest = centres[every, np.argmax(weight, axis=1)]
        centres = np.full((readers, longest), -1, dtype=np.int64)
        for r in range(readers):
            chosen = kept[r][keep[r]]
            if not len(chosen):
                chosen = heaviest[r : r + 1]
            centres[r, : len(chosen)] = chosen
        found = (centres >= 0).sum(axis=1)
    width = int(found.max())
    label, _, weight = _label(similar, valid, mass, centres[:, :width])
    out = []
    for r in range(readers):
        count = int(valid[r].sum())
        groups = [np.flatnonzero(label[r, :count] == k) for k in range(int(found[r]))]
        weights_r = [float(weight[r, k]) for k in range(len(groups))]
        order_r = sorted(
            (k for k in range(len(groups)) if len(groups[k])),
            key=lambda k: (-weights_r[k], int(groups[k][0])),
        )
        raw = [weights_r[k] ** tuning.share_power for k in order_r]
        out.append(
            [
                Interest(tuple(int(i) for i in groups[k]), weights_r[k], part / sum(raw))
                for k, part in zip(order_r, raw, strict=True)
            ]
        )
    return out


def _label(
    similar: np.ndarray, valid: np.ndarray, mass: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each paper's closest centre (readers x papers), and per centre (readers x centres)
    how many papers and how much weight joined it."""
    readers, width = centres.shape
    toward = np.take_along_axis(similar, np.maximum(centres, 0)[:, None, :], axis=2)
    toward = np.where(centres[:, None, :] >= 0, toward, -np.inf)
    label = np.argmax(toward, axis=2)
    slot = (np.arange(readers)[:, None] * width + label)[valid]
    sizes = np.bincount(slot, minlength=readers * width).reshape(readers, width)
    weight = np.bincount(slot, weights=mass[valid], minlength=readers * width)
    return label, sizes, weight.reshape(readers, width)


@dataclass
class Scores:
    """Readers' candidates scored, one row per (reader, interest) "unit": the score, the
    spreads (lexical, meaning) its halves were divided by; per reader the row of its first
    unit; per positive (all the readers' in a row) its unit, its floored cosine and its place
    among the unit's positives; and the evidence `closest_positives` reads: the neighbour
    lists' entries, each a key (unit * candidates + row), a positive and a value, for the
    cosines and for the tf-idf excesses."""

    interests: list[list[Interest]]
    score: np.ndarray
    spread: np.ndarray
    first_unit: np.ndarray
    whole: np.ndarray
    unit_members: list[np.ndarray]
    positives: list[Positive]
    floor: np.ndarray
    slot: np.ndarray
    dense: tuple[np.ndarray, np.ndarray, np.ndarray]
    lexical: tuple[np.ndarray, np.ndarray, np.ndarray]


def score_interests(
    window: Window, positives: Sequence[Positive], tuning: Tuning = TUNING
) -> Scores:
    """Every candidate's score in every interest of the reader (see the module's header).
    Only the first `max_positives` positives count. Needs at least one positive."""
    return _score_block(window, [positives], tuning)


def _score_block(window: Window, readers: Sequence[Sequence[Positive]], tuning: Tuning) -> Scores:
    kept = [list(p[: tuning.max_positives]) for p in readers]
    flat = [p for positives in kept for p in positives]
    starts = np.cumsum([0] + [len(p) for p in kept])
    vectors = np.stack([p.vector for p in flat]).astype(np.float32)
    strength = np.array([p.strength for p in flat], dtype=np.float32)
    interests = _interests_block(
        [vectors[starts[r] : starts[r + 1]] for r in range(len(kept))],
        [strength[starts[r] : starts[r + 1]].astype(np.float64) for r in range(len(kept))],
        tuning,
    )
    near = window.neighbours_of(flat)
    lowered = (tuning.weak_penalty * (1 - strength)).astype(np.float32)
    unit_members: list[np.ndarray] = []  # each unit's positives: interests, then the whole
    first_unit: list[int] = []
    whole: list[int] = []
    for r, groups in enumerate(interests):
        first_unit.append(len(unit_members))
        for interest in groups:
            unit_members.append(starts[r] + np.array(interest.members, dtype=np.int64))
        whole.append(first_unit[-1])  # one interest: the whole is that interest
        if len(groups) > 1 and tuning.whole_weight:
            whole[-1] = len(unit_members)
            unit_members.append(np.arange(starts[r], starts[r + 1], dtype=np.int64))
    count, units = len(window), len(unit_members)
    members = np.concatenate(unit_members)
    member_unit = np.repeat(np.arange(units), [len(m) for m in unit_members])
    floors = np.array([near[p].floor for p in members], dtype=np.float32) - lowered[members]
    first_member = np.cumsum([0] + [len(m) for m in unit_members])[:-1]
    dense = np.repeat(np.maximum.reduceat(floors, first_member), count)
    sizes = np.array([len(near[p].rows) for p in members])
    keys = np.repeat(member_unit * count, sizes) + np.concatenate([near[p].rows for p in members])
    values = np.concatenate([near[p].cosines for p in members]) - np.repeat(lowered[members], sizes)
    np.maximum.at(dense, keys, values)
    dense_who = np.repeat(members, sizes)
    lexical_sizes = np.array([len(near[p].lexical_rows) for p in members])
    lexical_keys = np.repeat(member_unit * count, lexical_sizes) + np.concatenate(
        [near[p].lexical_rows for p in members]
    )
    who = np.repeat(members, lexical_sizes)
    lexical_values = np.concatenate([near[p].lexical for p in members]) * strength[who]
    lexical = np.bincount(lexical_keys, weights=lexical_values, minlength=units * count)
    meaning = dense.reshape(units, count)
    meaning -= np.float32(tuning.density_weight) * window.density
    lexical_rows = lexical.reshape(units, count).astype(np.float32)
    if tuning.lexical_density and window.lexical_density.any():
        generic = window.lexical_density / window.lexical_density.mean()
        lexical_rows /= (1 + np.float32(tuning.lexical_density) * generic)[None, :]
    lexical_mean, lexical_spread = _moments(lexical_rows)
    meaning_mean, meaning_spread = _moments(meaning)
    # z(lexical) + dense_weight * z(meaning), in place
    weight = (tuning.dense_weight / meaning_spread).astype(np.float32)
    lexical_rows *= (1 / lexical_spread).astype(np.float32)[:, None]
    meaning *= weight[:, None]
    lexical_rows += meaning
    lexical_rows -= (lexical_mean / lexical_spread + meaning_mean * weight).astype(np.float32)[
        :, None
    ]
    slot = np.zeros(len(flat), dtype=np.int64)
    floor = np.zeros(len(flat), dtype=np.float32)
    in_interest = np.ones(len(members), dtype=bool)
    for r in range(len(interests)):  # the whole units' places are not kept
        if whole[r] != first_unit[r]:
            begin = first_member[whole[r]]
            in_interest[begin : begin + len(unit_members[whole[r]])] = False
    places = np.arange(len(members)) - np.repeat(first_member, [len(m) for m in unit_members])
    slot[members[in_interest]] = places[in_interest]
    floor[members[in_interest]] = floors[in_interest]
    return Scores(
        interests,
        lexical_rows,
        np.stack([lexical_spread, meaning_spread], axis=1),
        np.array(first_unit, dtype=np.int64),
        np.array(whole, dtype=np.int64),
        unit_members,
        flat,
        floor,
        slot,
        (keys, dense_who, values),
        (lexical_keys, who, lexical_values),
    )


def _moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean and standard deviation (1 for a constant row), in float32 arithmetic
    row by row (the same for a row alone or among others)."""
    width = np.float32(max(values.shape[1], 1))
    mean = values.sum(axis=1) / width
    square = np.einsum("ij,ij->i", values, values) / width
    spread = np.sqrt(np.maximum(square - mean * mean, 0))
    return mean, np.where(spread > 1e-6, spread, np.float32(1.0)).astype(np.float32)


def closest_positives(
    scores: Scores, window: Window, units: np.ndarray, rows: np.ndarray, tuning: Tuning = TUNING
) -> np.ndarray:
    """For each (unit, candidate row) pair, the positive (index into scores.positives) that
    brings the candidate most of its score in that unit: the largest sum of its cosine (as
    the unit's meaning half counts it, floored) and its tf-idf excess, each over the unit's
    spread of that half. Ties go to the positive given first."""
    if not len(units):
        return np.zeros(0, dtype=np.int64)
    widest = max(len(scores.unit_members[u]) for u in units)
    table = np.full((len(units), widest), -1, dtype=np.int64)
    for i, u in enumerate(units):
        table[i, : len(scores.unit_members[u])] = scores.unit_members[u]
    spread = scores.spread[units].astype(np.float32)
    weight = np.float32(tuning.dense_weight)
    meaning = np.where(table >= 0, scores.floor[np.maximum(table, 0)], -np.inf).astype(np.float32)
    lexical = np.zeros(table.shape, dtype=np.float32)
    place = np.full(len(scores.score) * len(window), -1, dtype=np.int32)
    place[units * len(window) + rows] = np.arange(len(units))
    for evidence, target in ((scores.dense, meaning), (scores.lexical, lexical)):
        keys, who, values = evidence
        pick = place[keys]
        found = pick >= 0
        target[pick[found], scores.slot[who[found]]] = values[found]
    value = weight * meaning / spread[:, 1:2] + lexical / spread[:, 0:1]
    best: np.ndarray = table[np.arange(len(units)), np.argmax(value, axis=1)]
    return best


def rank(
    window: Window,
    positives: Sequence[Positive],
    *,
    dismissed: np.ndarray | None = None,
    dismissed_ids: Collection[str] = (),
    follows: Mapping[str, Sequence[str]] | None = None,
    trending: Sequence[str] = (),
    exclude: Collection[str] = (),
    limit: int = 50,
    tuning: Tuning | None = None,
) -> Ranking:
    """The reader's list: at most `limit` candidates of `window`, best first, each with why.

    `dismissed` holds the unit vectors of papers marked "not interested" (`dismissed_ids`
    their ids): those papers leave the list, and candidates within `dismiss_similarity`
    cosine of one lose up to `dismiss_penalty`. `follows` maps candidate ids to the labels of
    the follows they match (the caller matches); they form one more stream, with
    `follow_share` of the list. `trending` (ids, best first) fills what is left, and is the
    whole list for a reader with neither positives nor follows. `exclude` (papers already
    shown) and the positives themselves never appear. `tuning` defaults to the window's (the
    window's own constants, its density and neighbour lists, stay). An empty window gives
    no picks.
    """
    tuning = tuning or window.tuning
    follows = follows or {}
    if not len(window) or limit <= 0:
        return Ranking([], [], 0)
    allowed = np.ones(len(window), dtype=bool)
    banned = [*exclude, *dismissed_ids, *(p.arxiv_id for p in positives if p.arxiv_id)]
    allowed[[window.position[i] for i in banned if i in window.position]] = False
    penalty = _dismiss_penalty(window, dismissed, tuning)
    demoted = int(((penalty > 0) & allowed).sum())
    followed = np.zeros(len(window), dtype=bool)
    followed[
        [window.position[i] for i, labels in follows.items() if labels and i in window.position]
    ] = True
    followed &= allowed
    interests: list[Interest] = []
    picks: list[Pick] = []
    if positives:
        scored = _score_block(window, [positives], tuning)
        interests = scored.interests[0]
        lists = _lists(window, scored, allowed[None], penalty[None], followed[None], limit, tuning)
        picks = [
            replace(p, why=Why("follow", follows=tuple(follows[p.arxiv_id])))
            if p.why.kind == "follow"
            else p
            for p in lists.picks(0, window, scored.positives)
        ]
    elif followed.any():
        order = _by_list(np.flatnonzero(followed), window, trending)[:limit]
        picks = [
            Pick(window.ids[r], 0.0, Why("follow", follows=tuple(follows[window.ids[r]])), None)
            for r in order
        ]
    if len(picks) < limit:
        taken = {p.arxiv_id for p in picks}
        for arxiv_id in trending:
            row = window.position.get(arxiv_id)
            if row is None or arxiv_id in taken or not allowed[row]:
                continue
            picks.append(Pick(arxiv_id, 0.0, Why("trending"), None))
            taken.add(arxiv_id)
            if len(picks) == limit:
                break
    return Ranking(picks, interests, demoted)


def compose(
    window: Window,
    readers: Sequence[Sequence[Positive]],
    *,
    limit: int = 10,
    block: int = 128,
    processes: int = 1,
) -> list[Ranking]:
    """rank() for many readers who have positives and nothing else (no dismissals, follows,
    exclusions or trending fill): the same lists, computed `block` readers at a time (small
    enough for the arrays to stay in the CPU's cache), in two threads, or in `processes`
    forked processes (Linux; for batch jobs, not a web server). The Neighbours of all their
    papers are computed first, each paper once. A reader without positives gets an empty
    list, as from rank()."""
    tuning = window.tuning
    distinct = {id(p): p for positives in readers for p in positives[: tuning.max_positives]}
    window.neighbours_of(list(distinct.values()), processes)
    spans = [(first, min(first + block, len(readers))) for first in range(0, len(readers), block)]
    if processes > 1 and len(spans) > 1:
        global _SHARED
        _SHARED = (window, readers, limit, tuning)
        try:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                chunk = max(1, len(spans) // (4 * processes))
                done = pool.map(_compose_span, spans, chunksize=chunk)
        finally:
            _SHARED = None
    elif len(spans) > 1:  # two threads: the array work lets go of the GIL
        with ThreadPoolExecutor(2, thread_name_prefix="compose") as threads:
            done = list(
                threads.map(lambda span: _compose_span(span, window, readers, limit, tuning), spans)
            )
    else:
        done = [_compose_span(span, window, readers, limit, tuning) for span in spans]
    out: list[Ranking] = []
    for (first, last), block_done in zip(spans, done, strict=True):
        out.extend(_rankings(window, readers[first:last], block_done, tuning))
    return out


# What forked workers of compose() read (inherited, never pickled).
_SHARED: tuple[Window, Sequence[Sequence[Positive]], int, Tuning] | None = None


def _compose_span(
    span: tuple[int, int],
    window: Window | None = None,
    readers: Sequence[Sequence[Positive]] | None = None,
    limit: int = 0,
    tuning: Tuning | None = None,
) -> tuple[list[int], list[list[Interest]], _Lists | None]:
    if window is None:  # in a forked worker
        assert _SHARED is not None
        window, readers, limit, tuning = _SHARED
    assert readers is not None and tuning is not None
    return _compose_block(window, readers[span[0] : span[1]], limit, tuning)


def _compose_block(
    window: Window, chunk: Sequence[Sequence[Positive]], limit: int, tuning: Tuning
) -> tuple[list[int], list[list[Interest]], _Lists | None]:
    """The lists of a block of readers, as arrays: which readers had positives, their
    interests, their picks (turned into Rankings by `_rankings`, in the calling process)."""
    filled = [r for r in range(len(chunk)) if chunk[r]]
    if not filled or not len(window) or limit <= 0:
        return [], [], None
    scored = _score_block(window, [chunk[r] for r in filled], tuning)
    allowed = np.ones((len(filled), len(window)), dtype=bool)
    for n, r in enumerate(filled):
        allowed[
            n, [window.position[p.arxiv_id] for p in chunk[r] if p.arxiv_id in window.position]
        ] = False
    return filled, scored.interests, _lists(window, scored, allowed, None, None, limit, tuning)


def _rankings(
    window: Window,
    chunk: Sequence[Sequence[Positive]],
    done: tuple[list[int], list[list[Interest]], _Lists | None],
    tuning: Tuning,
) -> list[Ranking]:
    filled, interests, lists = done
    out = [Ranking([], [], 0) for _ in chunk]
    if lists is None:
        return out
    positives = [p for r in filled for p in chunk[r][: tuning.max_positives]]
    for n, r in enumerate(filled):
        out[r] = Ranking(lists.picks(n, window, positives), interests[n], 0)
    return out


def _lists(
    window: Window,
    scored: Scores,
    allowed: np.ndarray,
    penalty: np.ndarray | None,
    followed: np.ndarray | None,
    limit: int,
    tuning: Tuning,
) -> _Lists:
    """Each reader's picks from their scored units: a candidate belongs to the interest where
    it scores best; each interest's stream holds its best papers among the reader's
    `limit * (interests + 1)` best; the follows' papers form one more stream; the streams
    are merged by shares (see `_merge`); each pick gets its closest positive."""
    readers, count = len(allowed), len(window)
    widest = max(len(i) for i in scored.interests)
    counts = np.array([len(i) for i in scored.interests])
    owner = np.zeros((readers, count), dtype=np.int64)
    best = scored.score[scored.first_unit].copy()
    for k in range(1, widest):
        more = np.flatnonzero(counts > k)
        other = scored.score[scored.first_unit[more] + k]
        better = other > best[more]
        owner[more] = np.where(better, k, owner[more])
        best[more] = np.where(better, other, best[more])
    if penalty is not None:
        best -= penalty
    own = best  # each candidate's score in its own interest: what the shares compare
    if tuning.whole_weight:
        best = best * np.float32(1 - tuning.whole_weight)
        best += np.float32(tuning.whole_weight) * scored.score[scored.whole]
        if penalty is not None:
            best -= np.float32(tuning.whole_weight) * penalty
    follow = followed if followed is not None else np.zeros(allowed.shape, dtype=bool)
    open_rows = allowed & ~follow
    streams = widest + 1
    rows = np.full((readers, streams, limit), -1, dtype=np.int64)
    share = np.zeros((readers, streams), dtype=np.float64)
    for k in range(widest):  # each interest's best `limit` (ties: lower row first)
        who = np.flatnonzero(counts > k)
        masked = np.where(open_rows[who] & (owner[who] == k), best[who], -np.inf)
        rows[who, k] = _best_rows(masked, limit)
    rest = np.where(follow.any(axis=1), 1 - tuning.follow_share, 1.0)
    for r in range(readers):
        for k, interest in enumerate(scored.interests[r]):
            share[r, k] = interest.share * rest[r]
    for reader in np.flatnonzero(follow.any(axis=1)):
        chosen = np.flatnonzero(follow[reader])
        chosen = chosen[np.lexsort((chosen, -best[reader, chosen]))][:limit]
        rows[reader, widest, : len(chosen)] = chosen
        share[reader, widest] = tuning.follow_share
    firm = np.zeros(share.shape, dtype=bool)
    firm[:, widest] = True  # the follows asked for: their turns are never passed on
    picked, stream = _merge(rows, share, firm, own, limit, tuning.share_margin)
    if tuning.sort_block:
        value = np.where(
            picked >= 0, np.take_along_axis(best, np.maximum(picked, 0), axis=1), -np.inf
        )
        for first in range(0, limit, tuning.sort_block):
            part = slice(first, min(first + tuning.sort_block, limit))
            # The follows' papers keep the places their shares gave them (scored against the
            # reader's papers, they would all sink to the end of the block); the other picks
            # are sorted among the remaining places.
            fixed = stream[:, part] == widest
            group = np.where(fixed, 2, np.where(picked[:, part] >= 0, 0, 1))  # ran out: 1
            order = np.lexsort((-value[:, part], group), axis=1)
            places = np.argsort(fixed, axis=1, kind="stable")
            for lists in (picked, stream):
                moved = np.empty_like(lists[:, part])
                np.put_along_axis(
                    moved, places, np.take_along_axis(lists[:, part], order, axis=1), axis=1
                )
                lists[:, part] = moved
    reader_of, slot = np.nonzero((picked >= 0) & (stream < widest))
    units = scored.first_unit[reader_of] + stream[reader_of, slot]
    closest = np.full(picked.shape, -1, dtype=np.int64)
    closest[reader_of, slot] = closest_positives(
        scored, window, units, picked[reader_of, slot], tuning
    )
    score = np.take_along_axis(best, np.maximum(picked, 0), axis=1)
    stream = np.where(stream == widest, -1, stream)  # -1: the follows
    return _Lists(picked, stream, score, closest)


def _best_rows(values: np.ndarray, count: int) -> np.ndarray:
    """Per row of `values`: the columns of its `count` highest finite values, best first
    (ties: lower column first), -1 padded."""
    width = values.shape[1]
    depth = min(count, width)
    top = (
        np.argpartition(-values, depth - 1, axis=1)[:, :depth]
        if depth < width
        else np.tile(np.arange(width), (len(values), 1))
    )
    top = np.sort(top, axis=1)
    order = np.argsort(-np.take_along_axis(values, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    out = np.full((len(values), count), -1, dtype=np.int64)
    out[:, :depth] = np.where(np.isfinite(np.take_along_axis(values, top, axis=1)), top, -1)
    return out


@dataclass
class _Lists:
    """Readers' picks as arrays (readers x limit, -1 where a reader ran out): the candidate
    rows, their interest (-1: the follows), their scores, their closest positives (indices
    into the positives scored, -1 for the follows)."""

    picked: np.ndarray
    stream: np.ndarray
    score: np.ndarray
    closest: np.ndarray

    def picks(self, reader: int, window: Window, positives: Sequence[Positive]) -> list[Pick]:
        out = []
        for slot in range(self.picked.shape[1]):
            row = int(self.picked[reader, slot])
            if row < 0:
                break
            interest = int(self.stream[reader, slot])
            why = (
                Why("paper", positives[int(self.closest[reader, slot])].arxiv_id)
                if interest >= 0
                else Why("follow")
            )
            score = float(self.score[reader, slot])
            out.append(Pick(window.ids[row], score, why, interest if interest >= 0 else None))
        return out


def _merge(
    rows: np.ndarray,
    share: np.ndarray,
    firm: np.ndarray,
    score: np.ndarray,
    limit: int,
    margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Merge each reader's streams (readers x streams x best-first rows, -1 padded) into
    `limit` picks: the stream with the highest share / (2 * taken + 1) goes next
    (Sainte-Lague's rule), unless its head trails the best head of all by more than
    `margin` (and the stream is not `firm`); then that head is taken, counted to its own
    stream. The picked rows and their
    streams, readers x limit, -1 where a reader ran out."""
    readers, streams, _ = rows.shape
    every = np.arange(readers)
    length = (rows >= 0).sum(axis=2)
    cursor = np.zeros((readers, streams), dtype=np.int64)
    taken = np.zeros((readers, streams), dtype=np.float64)
    picked = np.full((readers, limit), -1, dtype=np.int64)
    stream = np.full((readers, limit), -1, dtype=np.int64)
    for step in range(limit):
        live = cursor < length
        if not live.any():
            break
        heads = np.take_along_axis(rows, np.minimum(cursor, rows.shape[2] - 1)[:, :, None], axis=2)[
            :, :, 0
        ]
        head_score = np.where(
            live, score[every[:, None], np.maximum(heads, 0)].astype(np.float64), -np.inf
        )
        turn = np.argmax(np.where(live, share / (2 * taken + 1), -np.inf), axis=1)
        leader = np.argmax(head_score, axis=1)
        behind = (head_score[every, leader] - head_score[every, turn] > margin) & ~firm[every, turn]
        turn = np.where(behind, leader, turn)
        active = live.any(axis=1)
        who = every[active]
        picked[who, step] = heads[who, turn[who]]
        stream[who, step] = turn[who]
        cursor[who, turn[who]] += 1
        taken[who, turn[who]] += 1
    return picked, stream


def _by_list(rows: np.ndarray, window: Window, order: Sequence[str]) -> list[int]:
    """Rows in the order of `order` (ids), the others after them in window order."""
    place = {arxiv_id: n for n, arxiv_id in enumerate(order)}
    return sorted((int(r) for r in rows), key=lambda r: (place.get(window.ids[r], len(place)), r))


def _dismiss_penalty(window: Window, dismissed: np.ndarray | None, tuning: Tuning) -> np.ndarray:
    """How far each candidate drops for its closeness to a dismissed paper: nothing below
    `dismiss_similarity` cosine, rising linearly to `dismiss_penalty` at cosine 1."""
    if dismissed is None or not len(dismissed):
        return np.zeros(len(window), dtype=np.float32)
    matrix = np.asarray(dismissed, dtype=np.float32).reshape(-1, DIMENSIONS)
    near = (window.vectors @ matrix.T).max(axis=1)
    start = tuning.dismiss_similarity
    fall: np.ndarray = np.clip((near - start) / (1 - start), 0, 1) * tuning.dismiss_penalty
    return fall.astype(np.float32)


__all__ = [
    "KINDS",
    "TUNING",
    "Interest",
    "Neighbours",
    "Pick",
    "Positive",
    "Ranking",
    "Scores",
    "TermRow",
    "Tuning",
    "Why",
    "Window",
    "closest_positives",
    "compose",
    "find_interests",
    "rank",
    "score_interests",
]
