"""The For you ranking's arithmetic (search/recommend.py, search/terms.py) without a database:
tf-idf dot products against brute force, interests, the shares of the list, follows,
exclusions, "not interested", and `compose` giving exactly the lists `rank` gives. Vectors here
are random stand-ins: what these tests check does not depend on what the vectors mean (the
real model is in tests/test_foryou.py)."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dailypapers.search import recommend as rc
from dailypapers.search.terms import Bag, TermRow, TermSpace, TermStats, bag_of, weigh

WORDS = [f"w{i}" for i in range(60)]


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector, axis=-1, keepdims=True)).astype(np.float32)


def topic_papers(rng, centre: np.ndarray, count: int, spread: float = 0.03) -> np.ndarray:
    # 0.03 per dimension: papers of a topic have a cosine of about 0.7, other topics about 0
    return unit(centre + spread * rng.standard_normal((count, 384)))


def text(rng, words: list[str], length: int = 30) -> str:
    return " ".join(rng.choice(words, length))


@st.composite
def term_rows(draw):
    count = draw(st.integers(1, 12))
    rows = []
    for _ in range(count):
        buckets = sorted(set(draw(st.lists(st.integers(0, 40), min_size=0, max_size=10))))
        weights = draw(st.lists(st.floats(0.01, 1.0), min_size=len(buckets), max_size=len(buckets)))
        rows.append(TermRow(np.array(buckets, np.int64), np.array(weights, np.float32)))
    return rows


@settings(max_examples=60, deadline=None)
@given(term_rows(), term_rows(), st.one_of(st.none(), st.integers(1, 5)))
def test_term_space_scores_are_dot_products(window_rows, queries, most):
    space = TermSpace(window_rows, most)
    dense = np.zeros((len(window_rows), 41), np.float32)
    for i, row in enumerate(window_rows):
        dense[i, row.buckets] = row.weights
    if most is not None:  # terms used by more rows than `most` count for nothing
        dense[:, (dense > 0).sum(axis=0) > most] = 0
    for query, scores in zip(queries, space.score_many(queries), strict=True):
        wanted = np.zeros(41, np.float32)
        wanted[query.buckets] = query.weights
        assert np.allclose(scores, dense @ wanted, atol=1e-5)


def test_tf_idf_rows_are_unit_length_and_drop_words_no_other_paper_has():
    bags = [bag_of("graph neural networks for molecules"), bag_of("graph neural networks")]
    stats = TermStats(bags)
    row = weigh(bags[0], stats, counted=True)
    assert abs(float(np.linalg.norm(row.weights)) - 1) < 1e-6
    assert len(row.buckets) == len(bags[1].buckets)  # "molecules", "networks molecules" dropped
    outside = weigh(bag_of("molecules"), stats, counted=False)
    assert len(outside.buckets) == 1  # one counted paper uses it: kept


def test_interests_are_topics_and_small_groups_join_the_closest():
    rng = np.random.default_rng(1)
    a, b, c = unit(rng.standard_normal((3, 384)))
    vectors = np.concatenate(
        [topic_papers(rng, a, 6, 0.05), topic_papers(rng, b, 3, 0.05), unit(c + 0 * a)[None]]
    )
    found = rc.find_interests(vectors, np.ones(len(vectors)))
    assert [len(i.members) for i in found] == [7, 3] or [len(i.members) for i in found] == [6, 4]
    assert set(found[0].members) >= set(range(6))
    assert sum(i.share for i in found) == pytest.approx(1.0)
    assert found[0].share > found[1].share  # heavier, but not by its full weight (power 0.5)
    assert found[0].share / found[1].share < found[0].weight / found[1].weight
    capped = rc.find_interests(vectors, np.ones(len(vectors)), replace(rc.TUNING, max_interests=1))
    assert [len(i.members) for i in capped] == [10]
    assert rc.find_interests(np.zeros((0, 384), np.float32), np.ones(0)) == []


@pytest.fixture(scope="module")
def world():
    """A window of 300 papers in three topics (with their own words) and readers of them."""
    rng = np.random.default_rng(7)
    centres = unit(rng.standard_normal((3, 384)))
    vocab = [[f"t{k}w{i}" for i in range(40)] + WORDS for k in range(3)]
    ids, vectors, bags, topic = [], [], [], []
    for n in range(300):
        k = n % 3
        ids.append(f"2603.{n:05d}")
        vectors.append(topic_papers(rng, centres[k], 1)[0])
        bags.append(bag_of(text(rng, vocab[k])))
        topic.append(k)
    window = rc.Window(ids, np.array(vectors), bags)
    library = {}
    for k in range(3):
        library[k] = [
            rc.Positive(f"2501.{k}{n:04d}", v, bag_of(text(rng, vocab[k])), "saved")
            for n, v in enumerate(topic_papers(rng, centres[k], 6))
        ]
    return window, library, np.array(topic), rng


def test_a_reader_of_two_topics_gets_both_and_each_paper_its_closest(world):
    window, library, topic, _ = world
    positives = library[0] + library[1][:2]
    ranking = rc.rank(window, positives, limit=10)
    assert [len(i.members) for i in ranking.interests] == [6, 2]
    got = [topic[window.position[p.arxiv_id]] for p in ranking.picks]
    assert 0 in got and 1 in got and 2 not in got
    assert got.count(0) > got.count(1)
    for pick, k in zip(ranking.picks, got, strict=True):
        assert pick.why.kind == "paper" and pick.interest is not None
        closest = next(p for p in positives if p.arxiv_id == pick.why.arxiv_id)
        assert closest in library[k]
    scores = [p.score for p in ranking.picks]
    assert scores[0] == max(scores)


def test_not_interested_removes_the_paper_and_pushes_its_neighbours_down(world):
    window, library, topic, _ = world
    before = rc.rank(window, library[0], limit=100)
    first = before.picks[0].arxiv_id
    row = window.position[first]
    after = rc.rank(
        window, library[0], dismissed=window.vectors[row][None], dismissed_ids=[first], limit=100
    )
    ids = [p.arxiv_id for p in after.picks]
    assert first not in ids and len(ids) == 100
    assert after.demoted > 0
    near = window.vectors @ window.vectors[row]
    listed = [p.arxiv_id for p in before.picks]
    closest = sorted(listed[1:], key=lambda i: -near[window.position[i]])[:5]
    assert all(near[window.position[i]] > rc.TUNING.dismiss_similarity for i in closest)
    moved = [ids.index(i) - listed.index(i) if i in ids else 100 for i in closest]
    assert sum(moved) / len(moved) > 3, moved


def test_follows_get_their_share_and_trending_fills_what_is_left(world):
    window, library, topic, _ = world
    followed = {window.ids[n]: ["cat: t2"] for n in range(2, 300, 3)[:5]}  # topic 2 papers
    ranking = rc.rank(window, library[0], follows=followed, limit=12)
    kinds = [p.why.kind for p in ranking.picks]
    assert kinds.count("follow") == 3  # a quarter of 12
    assert all(p.why.follows == ("cat: t2",) for p in ranking.picks if p.why.kind == "follow")
    only_follows = rc.rank(window, [], follows=followed, trending=window.ids[::-1], limit=8)
    assert [p.why.kind for p in only_follows.picks] == ["follow"] * 5 + ["trending"] * 3
    trending = rc.rank(window, [], trending=["nope", window.ids[4], window.ids[9]], limit=5)
    assert [(p.arxiv_id, p.why.kind) for p in trending.picks] == [
        (window.ids[4], "trending"),
        (window.ids[9], "trending"),
    ]


def test_excluded_papers_and_the_positives_themselves_never_appear(world):
    window, library, _, _ = world
    inside = rc.Positive(
        window.ids[0], window.vectors[0], Bag(np.zeros(0, np.int64), np.zeros(0, np.float32))
    )
    first = rc.rank(window, [*library[0], inside], limit=20)
    shown = {p.arxiv_id for p in first.picks}
    assert window.ids[0] not in shown
    again = rc.rank(window, [*library[0], inside], exclude=shown, limit=20)
    assert not shown & {p.arxiv_id for p in again.picks}
    assert len(again.picks) == 20


def test_compose_gives_exactly_the_lists_rank_gives(world):
    window, library, _, rng = world
    everyone = library[0] + library[1] + library[2]
    readers = []
    for _ in range(70):
        size = int(rng.integers(0, 12))
        readers.append([everyone[i] for i in rng.choice(len(everyone), size, replace=False)])
    many = rc.compose(window, readers, limit=7, block=16)
    forked = rc.compose(window, readers, limit=7, block=16, processes=2)
    assert [[p.arxiv_id for p in r.picks] for r in forked] == [
        [p.arxiv_id for p in r.picks] for r in many
    ]
    for positives, composed in zip(readers, many, strict=True):
        alone = rc.rank(window, positives, limit=7)
        assert [(p.arxiv_id, p.why, p.interest) for p in composed.picks] == [
            (p.arxiv_id, p.why, p.interest) for p in alone.picks
        ]
        assert composed.interests == alone.interests


def test_bad_input_is_refused_and_empty_input_gives_nothing():
    with pytest.raises(ValueError, match="one vector and one bag"):
        rc.Window(["a", "b"], np.zeros((1, 384), np.float32), [Counter()])
    empty = rc.Window([], np.zeros((0, 384), np.float32), [])
    assert rc.rank(empty, [], limit=5).picks == []
    assert rc.compose(empty, [[]], limit=5)[0].picks == []


def test_the_list_is_scored_on_the_whole_profile_and_each_ten_shown_best_first(world):
    window, library, topic, _ = world
    positives = library[0] + library[1][:2]
    ranking = rc.rank(window, positives, limit=20)
    scored = rc.score_interests(window, positives)
    whole = scored.score[scored.whole[0]]
    assert scored.whole[0] == len(ranking.interests)  # a unit after the two interests
    for pick in ranking.picks:
        assert pick.score == pytest.approx(float(whole[window.position[pick.arxiv_id]]))
    for first in (0, 10):
        block = ranking.picks[first : first + 10]
        scores = [p.score for p in block]
        assert scores == sorted(scores, reverse=True)
        got = [topic[window.position[p.arxiv_id]] for p in block]
        assert 0 in got and 1 in got  # the shares hold in every ten
    alone = replace(rc.TUNING, whole_weight=0.0, sort_block=0)
    apart = rc.rank(window, positives, limit=20, tuning=alone)
    units = rc.score_interests(window, positives, alone)
    assert units.whole[0] == 0  # no whole unit: each interest scores alone
    for pick in apart.picks:
        row = window.position[pick.arxiv_id]
        assert pick.score == pytest.approx(float(units.score[pick.interest, row]))


def test_a_paper_in_its_fields_common_words_loses_to_one_as_close_in_rarer_words():
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(200)]
    ids = ["generic", "specific"]
    texts = [
        "alpha beta gamma common one common two common three",
        "alpha beta gamma rare one rare two rare three",
    ]
    for i in range(12):  # the generic paper's other words are those of 12 more papers
        ids.append(f"same{i}")
        texts.append("common one common two common three " + text(rng, words, 8))
    ids.append("twin")
    texts.append("rare one rare two rare three")
    for i in range(140):  # 155 papers: enough for the word density (150 for 10 neighbours)
        ids.append(f"other{i}")
        texts.append(text(rng, words, 12))
    vectors = unit(rng.standard_normal((len(ids), 384)))
    vectors[1] = vectors[0]  # the meaning half cannot tell them apart
    bags = [bag_of(t) for t in texts]
    reader = [rc.Positive("p", unit(rng.standard_normal(384)), bag_of("alpha beta gamma delta"))]
    plain = replace(rc.TUNING, lexical_density=0.0)
    before = rc.rank(rc.Window(ids, vectors, bags, tuning=plain), reader, limit=2)
    assert [p.arxiv_id for p in before.picks] == ["generic", "specific"]
    window = rc.Window(ids, vectors, bags)
    after = rc.rank(window, reader, limit=2)
    assert [p.arxiv_id for p in after.picks] == ["specific", "generic"]
    # the word density: the mean dot product with the ten papers closest in words
    rows = [weigh(b, window.stats, counted=True) for b in bags]
    space = TermSpace(rows, int(rc.TUNING.common_share * len(ids)))
    dots = space.score_many(rows)
    np.fill_diagonal(dots, -1)
    expected = np.sort(dots, axis=1)[:, -10:].mean(axis=1)
    assert np.allclose(window.lexical_density, expected, atol=1e-5)
    assert window.lexical_density[0] > 2 * window.lexical_density[1]
    # a smaller window has no word density: there the nearest papers are the whole field
    small = rc.Window(ids[:149], vectors[:149], bags[:149])
    assert not small.lexical_density.any()
    assert [p.arxiv_id for p in rc.rank(small, reader, limit=2).picks] == ["generic", "specific"]
