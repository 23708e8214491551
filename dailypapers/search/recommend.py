"""The For you ranking: a reader's positive papers (saved, imported, upvoted, a pasted
abstract) against a window of candidate papers, in several interests that each get a share of
the list, with "not interested" papers and their close neighbours pushed down, follows
matched by the caller, and a reason for every paper. Pure: numpy in, ids out; the caller
(services/foryou.py) reads the papers and their vectors, this module only ranks.

How a candidate is scored in an interest (a group of the positives, by their vectors):

    score = z(lexical) + dense_weight * z(closest - density_weight * density)

- lexical: the sum over the interest's papers of the candidate's tf-idf dot product with
  each (words and word pairs, search/terms.py), counted only for each paper's
  `lexical_neighbours` best candidates, less the next one's (so the rest count 0);
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

A candidate belongs to the interest where it scores best. The list takes papers from the
interests in turn, each in proportion to its weight to the power `share_power`, but a turn
passes to the best paper overall when the interest's own best trails it by more than
`share_margin`. The constants were chosen on one half of the readers of bench/recommend.py
and reported on the other half (docs/personal.md).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .terms import Bag, TermRow, TermSpace, TermStats, weigh

DIMENSIONS = 384
KINDS = {"saved": 1.0, "imported": 1.0, "upvoted": 0.6, "abstract": 1.0}


@dataclass(frozen=True)
class Tuning:
    """The ranking's constants, one object so the benchmark can try others."""

    dense_weight: float = 0.8
    density_weight: float = 1.0
    density_neighbours: int = 10
    density_sample: int = 2000  # window papers the density is measured against
    neighbours: int = 200  # each positive paper's candidates closest in meaning kept
    lexical_neighbours: int = 200  # each positive paper's lexically closest candidates kept
    common_share: float = 1.0  # terms used by more of the window's papers count for nothing
    weak_penalty: float = 0.1  # closest cosine lowered by this times (1 - weight)
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
        self.terms = TermSpace([weigh(bag, self.stats, counted=True) for bag in bags], most)
        self.density = _density(self.vectors, tuning)
        self.tuning = tuning
        self._known: dict[str, Neighbours] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def forget(self) -> None:
        """Drop the remembered Neighbours (a benchmark timing a reader from scratch)."""
        self._known.clear()

    def neighbours_of(self, positives: Sequence[Positive]) -> list[Neighbours]:
        """Each positive's Neighbours, in order; those of catalog papers are remembered.
        Computing them for many positives at once is faster than one by one."""
        found: list[Neighbours | None] = [
            self._known.get(p.arxiv_id) if p.arxiv_id else None for p in positives
        ]
        missing = [i for i, n in enumerate(found) if n is None]
        for first in range(0, len(missing), self.BATCH):
            batch = [positives[i] for i in missing[first : first + self.BATCH]]
            for i, made in zip(
                missing[first : first + self.BATCH], self._compute(batch), strict=True
            ):
                found[i] = made
                if positives[i].arxiv_id:
                    self._known[str(positives[i].arxiv_id)] = made
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
                    near[i],
                    cosines[i, near[i]],
                    float(near_floor[i]),
                    lexical_rows,
                    common[i, lexical_rows] - lexical_floor[i],
                )
            )
        return made

    def _is_counted(self, positive: Positive) -> bool:
        return positive.arxiv_id in self.counted or positive.arxiv_id in self.position


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
    count = len(vectors)
    if count == 0:
        return []
    similar = vectors @ vectors.T
    close = similar >= tuning.interest_similarity
    free = np.ones(count, dtype=bool)
    centres: list[int] = []
    while free.any():
        ungrouped = np.flatnonzero(free)
        reach = close[np.ix_(ungrouped, ungrouped)] @ weights[ungrouped]
        centre = int(ungrouped[int(np.argmax(reach))])
        centres.append(centre)
        free &= ~close[centre]
        free[centre] = False
    for _ in range(2):
        label = np.argmax(similar[:, centres], axis=1)
        sizes = np.bincount(label, minlength=len(centres))
        mass = np.bincount(label, weights=weights, minlength=len(centres))
        kept = [
            k for k in np.argsort(-mass, kind="stable") if sizes[k] >= tuning.min_interest_papers
        ]
        if not kept:
            centres = [centres[int(np.argmax(mass))]]
            break
        centres = [centres[k] for k in kept[: tuning.max_interests]]
    label = np.argmax(similar[:, centres], axis=1)
    groups = [np.flatnonzero(label == k) for k in range(len(centres))]
    weight_of = [float(weights[g].sum()) for g in groups]
    order = sorted(range(len(groups)), key=lambda k: (-weight_of[k], int(groups[k][0])))
    raw = [weight_of[k] ** tuning.share_power for k in order]
    return [
        Interest(tuple(int(i) for i in groups[k]), weight_of[k], part / sum(raw))
        for k, part in zip(order, raw, strict=True)
        if len(groups[k])
    ]


@dataclass
class Scores:
    """A reader's candidates scored: per interest (interests x candidates) the score, the
    spreads (lexical, meaning) its halves were divided by, and the lexical evidence (rows,
    values, positive index) that `closest_positives` reads."""

    interests: list[Interest]
    score: np.ndarray
    spread: np.ndarray
    evidence: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    positives: list[Positive]
    vectors: np.ndarray


def score_interests(
    window: Window, positives: Sequence[Positive], tuning: Tuning = TUNING
) -> Scores:
    """Every candidate's score in every interest of the reader (see the module's header).
    Only the first `max_positives` positives count. Needs at least one positive."""
    positives = list(positives[: tuning.max_positives])
    vectors = np.stack([p.vector for p in positives]).astype(np.float32)
    strength = np.array([p.strength for p in positives], dtype=np.float32)
    interests = find_interests(vectors, strength, tuning)
    near = window.neighbours_of(positives)
    lowered = tuning.weak_penalty * (1 - strength)
    count = len(window)
    score = np.empty((len(interests), count), dtype=np.float32)
    spread = np.empty((len(interests), 2), dtype=np.float32)
    evidence = []
    for k, interest in enumerate(interests):
        group = [near[m] for m in interest.members]
        members = np.array(interest.members)
        dense = np.full(
            count,
            max(n.floor - lowered[m] for n, m in zip(group, members, strict=True)),
            np.float32,
        )
        rows = np.concatenate([n.rows for n in group])
        sizes = np.array([len(n.rows) for n in group])
        np.maximum.at(
            dense,
            rows,
            np.concatenate([n.cosines for n in group]) - np.repeat(lowered[members], sizes),
        )
        lexical_rows = np.concatenate([n.lexical_rows for n in group])
        lexical_sizes = np.array([len(n.lexical_rows) for n in group])
        who = np.repeat(members, lexical_sizes)
        values = np.concatenate([n.lexical for n in group]) * strength[who]
        lexical = np.bincount(lexical_rows, weights=values, minlength=count)
        lexical_z, lexical_spread = _standard(lexical)
        meaning_z, meaning_spread = _standard(dense - tuning.density_weight * window.density)
        score[k] = lexical_z + tuning.dense_weight * meaning_z
        spread[k] = (lexical_spread, meaning_spread)
        evidence.append((lexical_rows, values, who))
    return Scores(interests, score, spread, evidence, positives, vectors)


def closest_positives(
    scores: Scores, window: Window, rows: np.ndarray, interest: int, tuning: Tuning = TUNING
) -> np.ndarray:
    """For candidate `rows` of `interest`, the positive (index) that brings each most of its
    score: the largest of its tf-idf excess and its cosine, each over its spread."""
    members = np.array(scores.interests[interest].members)
    lexical_spread, meaning_spread = scores.spread[interest]
    value = (
        tuning.dense_weight * (scores.vectors[members] @ window.vectors[rows].T) / meaning_spread
    )
    lexical_rows, values, who = scores.evidence[interest]
    order = np.argsort(rows)
    place = np.minimum(np.searchsorted(rows[order], lexical_rows), len(rows) - 1)
    hit = rows[order][place] == lexical_rows
    member_place = np.searchsorted(members, who[hit])
    np.add.at(value, (member_place, order[place[hit]]), values[hit] / lexical_spread)
    best: np.ndarray = members[np.argmax(value, axis=0)]
    return best


def _standard(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Values less their mean over their standard deviation (1 when they are all equal),
    and that deviation."""
    centred = values - np.float32(values.sum(dtype=np.float64) / max(len(values), 1))
    spread = math.sqrt(float(centred @ centred) / max(len(values), 1))
    spread = spread if spread > 1e-9 else 1.0
    return centred / np.float32(spread), spread


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
    streams: list[_Stream] = []
    interests: list[Interest] = []
    scored: Scores | None = None
    best = np.zeros(len(window), dtype=np.float32)
    if positives:
        scored = score_interests(window, positives, tuning)
        interests = scored.interests
        owner, best = _owners(scored.score)
        best = best - penalty
        rest = 1 - (tuning.follow_share if followed.any() else 0.0)
        open_rows = allowed & ~followed
        for k, interest in enumerate(interests):
            rows = np.flatnonzero((owner == k) & open_rows)
            streams.append(_Stream(interest.share * rest, _best_of(rows, best, limit), k))
    if followed.any():
        rows = np.flatnonzero(followed)
        order = _best_of(rows, best, limit) if positives else _by_list(rows, window, trending)
        streams.append(_Stream(tuning.follow_share if positives else 1.0, order[:limit], None))
    chosen = _merge(streams, best, limit, tuning.share_margin)
    picks = _explain(chosen, scored, window, best, follows, tuning)
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


def _owners(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate, the interest (row) where it scores best, and that score."""
    owner = np.zeros(score.shape[1], dtype=np.int64)
    best = score[0].copy()
    for k in range(1, len(score)):
        better = score[k] > best
        owner[better] = k
        best[better] = score[k][better]
    return owner, best


@dataclass
class _Stream:
    share: float
    rows: list[int]  # best first, at most `limit`
    interest: int | None  # None: the follows
    taken: int = 0
    cursor: int = 0


def _best_of(rows: np.ndarray, score: np.ndarray, limit: int) -> list[int]:
    """The `limit` best of `rows` by score, best first (ties: window order)."""
    if len(rows) > limit:
        rows = np.sort(rows[np.argpartition(-score[rows], limit - 1)[:limit]])
    return [int(r) for r in rows[np.argsort(-score[rows], kind="stable")]]


def _by_list(rows: np.ndarray, window: Window, order: Sequence[str]) -> list[int]:
    """Rows in the order of `order` (ids), the others after them in window order."""
    place = {arxiv_id: n for n, arxiv_id in enumerate(order)}
    return sorted((int(r) for r in rows), key=lambda r: (place.get(window.ids[r], len(place)), r))


def _merge(
    streams: list[_Stream], score: np.ndarray, limit: int, margin: float
) -> list[tuple[int, _Stream]]:
    """Take from the streams in proportion to their shares (the stream with the highest
    share / (2 * taken + 1) goes next, Sainte-Lague's rule), unless its best paper trails the
    best head of all by more than `margin`: then that one is taken, counted to its stream."""
    chosen: list[tuple[int, _Stream]] = []
    live = [s for s in streams if s.rows]
    while len(chosen) < limit and live:
        turn = max(live, key=lambda s: s.share / (2 * s.taken + 1))
        leader = max(live, key=lambda s: float(score[s.rows[s.cursor]]))
        if float(score[leader.rows[leader.cursor]]) - float(score[turn.rows[turn.cursor]]) > margin:
            turn = leader
        chosen.append((turn.rows[turn.cursor], turn))
        turn.cursor += 1
        turn.taken += 1
        live = [s for s in live if s.cursor < len(s.rows)]
    return chosen


def _explain(
    chosen: list[tuple[int, _Stream]],
    scored: Scores | None,
    window: Window,
    score: np.ndarray,
    follows: Mapping[str, Sequence[str]],
    tuning: Tuning,
) -> list[Pick]:
    """Picks with their reasons: the closest positive for an interest's papers (found for
    all of one interest's picks at once), the follows matched for the follows' papers."""
    closest: dict[int, int] = {}
    if scored is not None:
        by_interest: dict[int, list[int]] = {}
        for row, stream in chosen:
            if stream.interest is not None:
                by_interest.setdefault(stream.interest, []).append(row)
        for interest, rows in by_interest.items():
            found = closest_positives(scored, window, np.array(rows), interest, tuning)
            closest.update(zip(rows, (int(f) for f in found), strict=True))
    picks = []
    for row, stream in chosen:
        arxiv_id = window.ids[row]
        if stream.interest is None:
            why = Why("follow", follows=tuple(follows[arxiv_id]))
        else:
            assert scored is not None
            why = Why("paper", scored.positives[closest[row]].arxiv_id)
        picks.append(Pick(arxiv_id, float(score[row]), why, stream.interest))
    return picks


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
    "find_interests",
    "rank",
    "score_interests",
]
