"""Readouts and continuations against transformers' generate() itself and its own processors.

Issue 13 items 4-8: what the sampling page calls kept, greedy with a repetition penalty, a prompt that
exactly fills the context, the cumulative top-p chart's data, and the precision the knobs run in.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from lib.models.next_token import HFCausalLM
from lib.sampling.knobs import Knobs
from lib.sampling.apply import apply_knobs, summary, top_p_view

POCKET = Path(__file__).resolve().parents[2] / "assets" / "pocket-lm"


def run(processors, scores, context=(), dtype=torch.float32):
    ids = torch.tensor([list(context)], dtype=torch.long).reshape(1, -1)
    return LogitsProcessorList(processors)(ids, torch.tensor(np.asarray(scores)[None, :], dtype=dtype))[0].numpy()


@pytest.fixture(scope="module")
def pocket():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(POCKET))
    model = AutoModelForCausalLM.from_pretrained(str(POCKET), dtype="float32").eval()
    return HFCausalLM(model, tok, "pocket-lm")


# -- item 4: kept means "not cut by a knob", never "probability rounds to zero" ------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_low_temperature_cuts_no_token(dtype):
    scores = (np.random.default_rng(1).standard_normal(4096) * 3).astype(dtype)
    original = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    result = apply_knobs(scores, Knobs(temperature=0.001))
    oracle = run([TemperatureLogitsWarper(0.001)], scores)
    assert np.isfinite(oracle).all() and result.kept.all()
    readout = summary(result.probs, original, result.kept)
    assert readout["survivors"] == 4096
    assert readout["mass_kept"] == pytest.approx(1.0)
    assert (result.probs == 0).sum() > 3000  # most kept tokens do round to 0 here: the trap the readout avoided


@pytest.mark.parametrize("knobs", [Knobs(temperature=0.01, top_k=40), Knobs(temperature=0.05, top_p=0.999),
                                   Knobs(temperature=0.02, min_p=0.0001)])
def test_tokens_and_mass_kept_match_the_processors_survivors(knobs):
    scores = (np.random.default_rng(2).standard_normal(5000) * 2).astype(np.float32)
    original = np.exp(scores.astype(np.float64) - scores.max())
    original /= original.sum()
    result = apply_knobs(scores, knobs)
    from tests.unit.test_sampling_oracle import transformers_chain  # the processor list generate() builds

    finite = np.isfinite(transformers_chain(knobs, scores.astype(np.float64), []))
    readout = summary(result.probs, original, result.kept)
    assert readout["survivors"] == finite.sum()
    assert readout["mass_kept"] == pytest.approx(original[finite].sum(), rel=1e-9)


# -- item 5: greedy applies the repetition penalty before the argmax, as generate(do_sample=False) does --
@pytest.mark.parametrize("penalty", [1.3, 2.0])
def test_greedy_continuation_matches_generate_with_repetition_penalty(pocket, penalty):
    prompt = pocket.encode("It was the best of times, it was the worst of times, it was the")
    ids = torch.tensor([list(prompt.ids)])
    n = 25
    with torch.inference_mode():
        theirs = pocket.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n,
                                       repetition_penalty=penalty, pad_token_id=0)[0, ids.shape[1]:].tolist()
        plain = pocket.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n,
                                      pad_token_id=0)[0, ids.shape[1]:].tolist()
    assert theirs != plain  # the penalty changes this continuation, so the test can tell them apart
    ours = pocket.generate(prompt, n, Knobs(temperature=0.0, repetition_penalty=penalty))
    assert [s.chosen.id for s in ours.steps] == theirs[:len(ours.steps)]
    assert len(ours.steps) == len(theirs) or ours.steps[-1].chosen.id == pocket.tokenizer.eos_token_id
    assert [s.chosen.id for s in pocket.generate(prompt, n).steps] == plain[:len(pocket.generate(prompt, n).steps)]


def test_greedy_chart_and_continuation_agree(pocket):
    """The page's greedy bar (temperature 0 after the penalty) is the token the continuation takes."""
    prompt = pocket.encode("the the the the the the")
    knobs = Knobs(temperature=0.0, repetition_penalty=3.0)
    dist = pocket.distribution(prompt)
    chart_pick = int(np.argmax(apply_knobs(dist.scores, knobs, prompt.ids).probs))
    assert pocket.generate(prompt, 1, knobs).steps[0].chosen.id == chart_pick


# -- item 6: a prompt that exactly fills the context is not cut ---------------------------------------
def test_prompt_exactly_filling_the_context_is_not_cut(pocket):
    C = pocket.context_length
    text = " ".join(["and"] * 400)
    full = pocket.encode(text)
    assert full.dropped > 0 and len(full.ids) == C and "cut" in full.note
    exact = pocket.encode(pocket.tokenizer.decode(list(full.ids)))
    assert len(exact.ids) == C and exact.dropped == 0 and exact.note == ""
    dist = pocket.distribution(exact)
    assert not dist.notes
    with torch.inference_mode():
        expected = pocket.model(torch.tensor([list(exact.ids)])).logits[0, -1].double()
    np.testing.assert_allclose(dist.logprobs, torch.log_softmax(expected, -1).numpy(), atol=1e-5)
    one_more = pocket.encode(pocket.tokenizer.decode(list(full.ids) + [full.ids[-1]]))
    assert one_more.dropped == 1 and len(one_more.ids) == C


def test_generation_from_a_full_context_slides_only_when_it_must(pocket):
    C = pocket.context_length
    exact = pocket.encode(pocket.tokenizer.decode(list(pocket.encode(" ".join(["and"] * 400)).ids)))
    assert len(exact.ids) == C
    gen = pocket.generate(exact, 3)
    with torch.inference_mode():
        first = int(pocket.model(torch.tensor([list(exact.ids)])).logits[0, -1].argmax())
    assert gen.steps[0].chosen.id == first and gen.notes  # the window slid for the 2nd token, and says so
    short = pocket.encode("Once upon a time")
    assert not pocket.generate(short, 5).notes
    cached, fresh = pocket.generate(exact, 4), pocket.generate(exact, 4, use_cache=False)
    assert [s.chosen.id for s in cached.steps] == [s.chosen.id for s in fresh.steps]


# -- item 7: the cumulative chart is drawn over what top-p sees --------------------------------------
@pytest.mark.parametrize("knobs", [Knobs(temperature=0.2, top_p=0.9), Knobs(temperature=1.5, top_k=300, top_p=0.8),
                                   Knobs(temperature=0.7, top_p=0.5, repetition_penalty=1.5),
                                   Knobs(top_p=0.95, min_p=0.01)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cumulative_chart_crosses_p_where_top_p_cuts(knobs, dtype):
    rng = np.random.default_rng(3)
    scores = (rng.standard_normal(4096) * 2.5).astype(dtype)
    context = list(rng.integers(0, 4096, 40))
    procs = []
    if knobs.repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(knobs.repetition_penalty))
    if knobs.temperature != 1.0:
        procs.append(TemperatureLogitsWarper(knobs.temperature))
    if knobs.top_k:
        procs.append(TopKLogitsWarper(knobs.top_k))
    procs.append(TopPLogitsWarper(knobs.top_p))
    kept_by_top_p = int(np.isfinite(run(procs, scores, context, torch.float64)).sum())
    result = apply_knobs(scores, knobs, context)
    assert next(s.survivors for s in result.stages if s.name == "top_p") == kept_by_top_p  # the page's readout
    cum = np.cumsum(top_p_view(result))
    p = knobs.top_p
    assert cum[kept_by_top_p - 1] >= p - 1e-6  # the curve has reached p at the last token top-p keeps
    if kept_by_top_p > 1:
        assert cum[kept_by_top_p - 2] < p + 1e-6  # and not one token earlier


# -- item 8: knobs in generate()'s precision ------------------------------------------------------------
def test_knobs_on_a_nearly_flat_float32_distribution_match_the_float32_warper():
    rng = np.random.default_rng(0)
    differs = 0
    for _ in range(20):
        scores = (rng.standard_normal(50257) * 1e-3).astype(np.float32)
        for mass in (0.3, 0.5, 0.9):
            theirs = np.isfinite(run([TypicalLogitsWarper(mass)], scores))
            in_float64 = np.isfinite(run([TypicalLogitsWarper(mass)], scores, dtype=torch.float64))
            differs += int((theirs != in_float64).any())
            ours = apply_knobs(scores, Knobs(typical_p=mass)).kept
            np.testing.assert_array_equal(ours, theirs)
    assert differs  # float64 would have kept different tokens on some of these


def test_knobs_match_what_generate_itself_keeps(pocket):
    """generate(output_scores=True) returns the processed float32 scores: the page's kept set must be that."""
    prompt = pocket.encode("The old man looked at the sea and")
    ids = torch.tensor([list(prompt.ids)])
    dist = pocket.distribution(prompt)
    for knobs in (Knobs(temperature=5.0, typical_p=0.9), Knobs(temperature=3.0, top_p=0.95, min_p=0.001),
                  Knobs(temperature=0.8, top_k=20, repetition_penalty=1.3), Knobs(temperature=8.0, typical_p=0.5)):
        with torch.inference_mode():
            out = pocket.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, max_new_tokens=1,
                                        output_scores=True, return_dict_in_generate=True, pad_token_id=0,
                                        temperature=knobs.temperature, top_k=knobs.top_k, top_p=knobs.top_p,
                                        min_p=knobs.min_p or None, typical_p=knobs.typical_p,
                                        repetition_penalty=knobs.repetition_penalty)
        theirs = out.scores[0][0].numpy()
        result = apply_knobs(dist.scores, knobs, prompt.ids)
        np.testing.assert_array_equal(result.kept, np.isfinite(theirs))
        np.testing.assert_allclose(result.final_scores[result.kept], theirs[np.isfinite(theirs)], rtol=1e-6)
