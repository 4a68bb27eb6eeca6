"""The batch sampler (lib.sampling.apply.pick_many) picks, row by row, the token `pick_next` picks: the same knobs,
context and seeded generator give the same token, so a continuation's text does not depend on whether its rows
were drawn one by one or as one array. The oracle for the draw itself is NumPy's own Generator.choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lib.sampling.apply import draw, pick_many, pick_next
from lib.sampling.knobs import Knobs

KNOBS = [None, Knobs(temperature=0.8), Knobs(temperature=1.0), Knobs(temperature=0.001), Knobs(temperature=3.0),
         Knobs(temperature=0), Knobs(temperature=0, repetition_penalty=1.3), Knobs(temperature=0.7, top_k=5),
         Knobs(temperature=0.9, top_p=0.9), Knobs(temperature=1.1, repetition_penalty=1.2)]


def rows(seed: int, count: int, vocab: int, dtype=np.float32) -> np.ndarray:
    generator = np.random.default_rng(seed)
    scores = generator.standard_normal((count, vocab)) * generator.uniform(0.5, 6, (count, 1))
    return scores.astype(dtype)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 70), st.sampled_from([7, 50, 4096]))
def test_each_row_gets_the_token_pick_next_gives_it(seed, count, vocab):
    scores = rows(seed, count, vocab)
    knobs = [KNOBS[(seed + b) % len(KNOBS)] for b in range(count)]
    contexts = [[(seed + b) % vocab, 3 % vocab] for b in range(count)]
    alone = [pick_next(scores[b], knobs[b], contexts[b], np.random.default_rng(seed + b)) for b in range(count)]
    together = pick_many(scores, knobs, contexts, [np.random.default_rng(seed + b) for b in range(count)])
    assert together == alone


def test_rows_of_float64_scores_go_the_long_way_with_the_same_tokens():
    scores = rows(3, 9, 300, np.float64)
    knobs = [Knobs(temperature=0.8)] * 9
    alone = [pick_next(scores[b], knobs[b], [], np.random.default_rng(b)) for b in range(9)]
    assert pick_many(scores, knobs, [[]] * 9, [np.random.default_rng(b) for b in range(9)]) == alone


def test_each_generator_advances_as_one_draw_of_its_own():
    """After pick_many, every row's generator is where one choice() would leave it (the next text's draws too)."""
    scores = rows(5, 20, 4096)
    mine, theirs = [np.random.default_rng(b) for b in range(20)], [np.random.default_rng(b) for b in range(20)]
    pick_many(scores, [Knobs(temperature=0.8)] * 20, [[]] * 20, mine)
    for b in range(20):
        pick_next(scores[b], Knobs(temperature=0.8), [], theirs[b])
    assert [g.random() for g in mine] == [g.random() for g in theirs]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.floats(0.0, 0.9))
def test_draw_is_generator_choice(seed, vocab, zero_share):
    """NumPy's Generator.choice(p=...) over the non-zero entries, as lib.sampling.apply.sample calls it."""
    generator = np.random.default_rng(seed)
    probs = generator.random((8, vocab)) ** 4
    probs[generator.random((8, vocab)) < zero_share] = 0.0
    probs[:, generator.integers(vocab)] += 1e-3  # at least one possible token per row
    probs /= probs.sum(axis=1, keepdims=True)
    got = draw(probs, [np.random.default_rng(seed + r) for r in range(8)])
    for r, token in enumerate(got):
        possible = np.flatnonzero(probs[r])
        expected = possible[np.random.default_rng(seed + r).choice(possible.size, p=probs[r][possible] / probs[r].sum())]
        assert token == expected


def test_a_draw_on_a_boundary_takes_the_next_token_as_choice_does():
    """u exactly on a cumulative boundary: choice() searches from the right, so it takes the later token."""
    class Fixed:
        def random(self):
            return 0.5

    assert draw(np.array([[0.25, 0.25, 0.5]]), [Fixed()]) == [2]
    assert draw(np.array([[0.25, 0.0, 0.25, 0.0, 0.5]]), [Fixed()]) == [4]


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 4096))
def test_a_draw_on_any_divided_boundary_is_the_search_choice_makes(seed, vocab):
    """u exactly on one of the divided sums cdf[j] / cdf[-1], where comparing the sums with u * cdf[-1] can land one
    off: the token is still the one choice()'s own search (cdf /= cdf[-1], searchsorted from the right) finds."""
    generator = np.random.default_rng(seed)
    probs = generator.random((1, vocab)) ** 3
    probs[0, generator.integers(vocab)] = 0.0
    cdf = np.cumsum(probs[0] / probs[0].sum())
    cdf /= cdf[-1]
    boundaries = generator.integers(vocab - 1, size=6)

    class Fixed:
        def __init__(self, u):
            self.u = u

        def random(self):
            return self.u

    for j in boundaries:
        for u in (cdf[j], np.nextafter(cdf[j], 0), np.nextafter(cdf[j], 1)):
            assert draw(probs, [Fixed(float(u))]) == [int(np.searchsorted(cdf, u, side="right"))], (j, u)


@pytest.mark.parametrize("count", [1, 33, 300])
def test_a_class_of_rows_at_one_temperature(count):
    scores = rows(11, count, 4096)
    knobs = [Knobs(temperature=0.8)] * count
    alone = [pick_next(scores[b], knobs[b], [], np.random.default_rng(1000 + b)) for b in range(count)]
    assert pick_many(scores, knobs, [[]] * count, [np.random.default_rng(1000 + b) for b in range(count)]) == alone
