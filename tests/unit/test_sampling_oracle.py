"""Our NumPy knobs against transformers' own LogitsProcessors, applied in generate()'s order."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from lib.sampling import knobs
from lib.sampling import apply as sampling
from lib.sampling.knobs import Knobs
from lib.sampling.apply import apply_knobs

# Scores with deliberate ties: drawn from a small grid of values, plus free floats.
tied = st.lists(st.sampled_from([-3.0, -1.0, 0.0, 0.5, 0.5, 2.0, 2.0, 7.0]), min_size=1, max_size=40)
free = st.lists(st.floats(-30, 30, allow_nan=False, width=32), min_size=1, max_size=80)
scores_st = st.one_of(tied, free).map(lambda xs: np.array(xs, dtype=np.float64))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Each knob's own transformers processor, by knob name (the JavaScript oracle test uses them too).
PROCESSORS = {"repetition_penalty": RepetitionPenaltyLogitsProcessor, "temperature": TemperatureLogitsWarper,
              "top_k": TopKLogitsWarper, "top_p": TopPLogitsWarper, "min_p": MinPLogitsWarper,
              "typical_p": TypicalLogitsWarper}


def oracle(processors, scores, input_ids=None, dtype=torch.float64):
    ids = torch.tensor([list(input_ids or [])], dtype=torch.long).reshape(1, -1)
    out = LogitsProcessorList(processors)(ids, torch.tensor(scores[None, :], dtype=dtype))
    return out[0].numpy()


def same(ours, theirs):
    assert np.array_equal(np.isfinite(ours), np.isfinite(theirs)), (ours, theirs)
    np.testing.assert_allclose(ours[np.isfinite(ours)], theirs[np.isfinite(theirs)], rtol=1e-12, atol=1e-12)


# After an earlier cut most scores are -inf; top-p and typical-p then sort only the rest. Many ties, so
# equal scores often sit on both sides of the cut, where transformers' own tie order must decide.
cut_scores_st = st.lists(st.sampled_from([-np.inf, -np.inf, -3.0, 0.0, 0.5, 0.5, 2.0, 2.0]), min_size=1,
                         max_size=300).filter(lambda xs: any(np.isfinite(xs))).map(np.array)
ONE_KNOB = [  # id, our function, transformers' processor, scores, values
    ("temperature", knobs.temperature, TemperatureLogitsWarper, scores_st,
     st.one_of(st.floats(0.01, 0.1), st.floats(0.1, 10), st.floats(10, 1000))),
    ("top_k-including-ties-and-k-beyond-vocab", knobs.top_k, TopKLogitsWarper, scores_st, st.integers(1, 100)),
    ("top_p-including-p-one", knobs.top_p, TopPLogitsWarper, scores_st,
     st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.25, 0.5, 0.9, 1.0]))),
    ("min_p", knobs.min_p, MinPLogitsWarper, scores_st, st.floats(0.0, 1.0)),
    ("typical_p", knobs.typical_p, TypicalLogitsWarper, scores_st, st.floats(0.01, 0.99)),
    ("top_p-after-a-cut-with-ties", knobs.top_p, TopPLogitsWarper, cut_scores_st,
     st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.25, 0.5, 0.75, 0.9, 1.0]))),
    ("typical_p-after-a-cut-with-ties", knobs.typical_p, TypicalLogitsWarper, cut_scores_st, st.floats(0.01, 0.99)),
]


@pytest.mark.parametrize("ours, processor, scores_from, values", [row[1:] for row in ONE_KNOB],
                         ids=[row[0] for row in ONE_KNOB])
@SETTINGS
@given(data=st.data())
def test_one_knob_against_its_processor(ours, processor, scores_from, values, data):
    scores, value = data.draw(scores_from, label="scores"), data.draw(values, label="value")
    same(ours(scores, value), oracle([processor(value)], scores))


@SETTINGS
@given(scores_st, st.floats(0.5, 3.0), st.lists(st.integers(0, 39), max_size=12))
def test_repetition_penalty(scores, penalty, context):
    context = [i for i in context if i < len(scores)]
    same(knobs.repetition_penalty(scores, context, penalty),
         oracle([RepetitionPenaltyLogitsProcessor(penalty)], scores, context))


def processors(knobs: Knobs) -> list:
    """The processors generate() would build for these settings, in its order."""
    procs = []
    if knobs.repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(knobs.repetition_penalty))
    if knobs.temperature != 1.0:
        procs.append(TemperatureLogitsWarper(knobs.temperature))
    if knobs.top_k > 0:
        procs.append(TopKLogitsWarper(knobs.top_k))
    if knobs.top_p < 1.0:
        procs.append(TopPLogitsWarper(knobs.top_p))
    if knobs.min_p > 0:
        procs.append(MinPLogitsWarper(knobs.min_p))
    if knobs.typical_p < 1.0:
        procs.append(TypicalLogitsWarper(knobs.typical_p))
    return procs


def transformers_chain(knobs: Knobs, scores, context):
    return oracle(processors(knobs), scores, context)


knobs_st = st.builds(
    Knobs,
    temperature=st.one_of(st.just(1.0), st.floats(0.05, 5.0)),
    top_k=st.one_of(st.just(0), st.integers(1, 60)),
    top_p=st.one_of(st.just(1.0), st.floats(0.05, 1.0)),
    min_p=st.one_of(st.just(0.0), st.floats(0.0, 0.9)),
    typical_p=st.one_of(st.just(1.0), st.floats(0.05, 0.99)),
    repetition_penalty=st.one_of(st.just(1.0), st.floats(0.5, 2.0)),
)


@SETTINGS
@given(scores_st, knobs_st, st.lists(st.integers(0, 39), max_size=8))
def test_combinations_in_generate_order(scores, knobs, context):
    context = [i for i in context if i < len(scores)]
    result = apply_knobs(scores, knobs, context)
    expected = transformers_chain(knobs, scores, context)
    same(result.final_scores, expected)
    theirs = torch.softmax(torch.tensor(expected), -1).numpy()
    np.testing.assert_allclose(result.probs, theirs, atol=1e-12)
    assert result.probs.sum() == pytest.approx(1.0)


def test_order_is_generates_order():
    knobs = Knobs(temperature=0.7, top_k=5, top_p=0.9, min_p=0.05, typical_p=0.95, repetition_penalty=1.2)
    assert knobs.active() == ["repetition_penalty", "temperature", "top_k", "top_p", "min_p", "typical_p"]


def test_probabilities_are_over_the_full_vocabulary_not_renormalised_over_a_cut():
    scores = np.log(np.array([0.5, 0.3, 0.2]))
    result = apply_knobs(scores, Knobs(top_k=2))
    np.testing.assert_allclose(result.probs, [0.625, 0.375, 0.0])  # 0.5/0.8, 0.3/0.8
    assert sampling.summary(result.probs, np.exp(scores), result.kept)["mass_kept"] == pytest.approx(0.8)


def test_temperature_zero_is_greedy():
    result = apply_knobs(np.array([1.0, 3.0, 3.0, 0.0]), Knobs(temperature=0))
    np.testing.assert_array_equal(result.probs, [0, 1, 0, 0])  # first max, like argmax


@pytest.mark.parametrize("bad", [dict(temperature=-1.0), dict(top_p=1.5), dict(min_p=-0.1), dict(typical_p=1.5)])
def test_bad_values_raise_clear_errors(bad):
    with pytest.raises(ValueError):
        Knobs(**bad)
    for name, fn in [("temperature", knobs.temperature), ("top_p", knobs.top_p), ("min_p", knobs.min_p),
                     ("typical_p", knobs.typical_p)]:
        if name in bad:
            with pytest.raises(ValueError):
                fn(np.zeros(5), bad[name])


def test_input_is_never_modified():
    scores = np.array([1.0, 2.0, 3.0])
    before = scores.copy()
    apply_knobs(scores, Knobs(temperature=0.5, top_k=1, repetition_penalty=2.0), [0, 2])
    np.testing.assert_array_equal(scores, before)


def test_sampling_frequencies_follow_the_probabilities():
    probs = np.array([0.5, 0.3, 0.2, 0.0])
    draws = sampling.sample(probs, np.random.default_rng(0), 20000)
    freq = np.bincount(draws, minlength=4) / 20000
    np.testing.assert_allclose(freq, probs, atol=0.02)


EVERY_KNOB = (Knobs(top_p=0.9), Knobs(typical_p=0.9), Knobs(temperature=0.7, top_k=40, top_p=0.8),
              Knobs(temperature=1.3, top_p=0.95, min_p=0.02, typical_p=0.9, repetition_penalty=1.2))


@pytest.mark.parametrize("seed", range(4))
def test_every_knob_on_a_gpt2_sized_vocabulary_with_ties(seed):
    """50,257 logits rounded to a coarse grid, so thousands of tokens tie."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.standard_normal(50257) * 3, 0 if seed % 2 else 1)
    context = list(rng.integers(0, 50257, 30))
    for setting in EVERY_KNOB:
        same(apply_knobs(scores, setting, context).final_scores, transformers_chain(setting, scores, context))


# Float32 scores (a local model's logits) take generate()'s float32 path: bit-identical to the processors in float32.
scores32_st = st.one_of(tied, free, cut_scores_st.map(list)).map(lambda xs: np.array(xs, dtype=np.float32))


def float32_chain(knobs: Knobs, scores, context):
    return oracle(processors(knobs), scores, context, torch.float32)


@SETTINGS
@given(scores32_st, knobs_st, st.lists(st.integers(0, 39), max_size=8))
def test_float32_scores_match_the_float32_processors_bit_for_bit(scores, knobs, context):
    context = [i for i in context if i < len(scores)]
    ours = apply_knobs(scores, knobs, context).final_scores
    theirs = float32_chain(knobs, scores, context)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("seed", range(3))
def test_float32_every_knob_on_a_gpt2_sized_vocabulary(seed):
    rng = np.random.default_rng(seed)
    scores = (rng.standard_normal(50257) * (3 if seed else 1e-3)).astype(np.float32)  # seed 0: nearly flat
    context = list(rng.integers(0, 50257, 30))
    for setting in EVERY_KNOB:
        np.testing.assert_array_equal(apply_knobs(scores, setting, context).final_scores,
                                      float32_chain(setting, scores, context))
