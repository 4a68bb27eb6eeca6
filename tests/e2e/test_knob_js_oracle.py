"""One truth in two languages: the browser's knob functions (components/knob_math.js), run in Chromium, against
transformers' own logits processors, on the corpus of the Python knob oracle tests: random, near-flat, dominant
and tied logits at 4,096 and 50,257 tokens, each knob alone and in combinations, in generate()'s order.

The scores are float32 and the knobs that change them (repetition penalty, temperature) run in torch's float32
arithmetic: the surviving scores must be bit for bit the processors'. The cuts (top-k, top-p, min-p, typical-p)
are decided in float64 over those float32 scores, so the strict oracle runs those processors in float64 on the
same values: bit for bit, the Python float32 path's tolerance. Against generate()'s all-float32 chain the cuts
agree too, except on near-flat logits where a cumulative sum in float32 lands within its own rounding of the cut
(torch's float32 sums depend on the CPU's vector width); that comparison is made on the other corpora.

One thing cannot be reproduced outside torch: which of several exactly tied tokens survive when top-p's cut falls
inside the tie (torch's sort is not stable, and the Python path asks torch itself). There the test asserts that
both keep the same number of tokens, that only tokens of that one tied value differ, and that every other token
is bit-identical.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from components.knob_panel import MATH_JS
from lib.sampling.knobs import KNOBS, ORDER, Knobs

from tests.unit.test_sampling_oracle import PROCESSORS, float32_chain

pytestmark = pytest.mark.e2e

OFF = {row.name: row.off for row in KNOBS}
SETTINGS = [  # each knob alone, then combinations (the Python tests' EVERY_KNOB among them)
    Knobs(temperature=0.7), Knobs(temperature=2.5), Knobs(temperature=0.05), Knobs(top_k=1), Knobs(top_k=40),
    Knobs(top_p=0.9), Knobs(top_p=0.5), Knobs(top_p=0.01), Knobs(min_p=0.05), Knobs(min_p=0.5),
    Knobs(typical_p=0.9), Knobs(typical_p=0.2), Knobs(repetition_penalty=1.3), Knobs(repetition_penalty=0.7),
    Knobs(temperature=0.7, top_k=40, top_p=0.8), Knobs(temperature=1.3, top_p=0.95, min_p=0.02, typical_p=0.9,
                                                         repetition_penalty=1.2),
    Knobs(temperature=0.5, top_p=0.9, min_p=0.1), Knobs(top_k=100, typical_p=0.5, repetition_penalty=2.0),
    Knobs(temperature=3.0, top_k=5, top_p=0.3, min_p=0.3, typical_p=0.3, repetition_penalty=1.5),
]
# At GPT-2's vocabulary every knob at least once, fewer settings (each costs torch and the browser ~0.2 s there).
SETTINGS_50K = [Knobs(top_p=0.5), Knobs(min_p=0.5), Knobs(typical_p=0.2), *SETTINGS[-5:]]


CUTS = {"top_k", "top_p", "min_p", "typical_p"}


def cuts_in_float64_chain(knobs: Knobs, scores32: np.ndarray, context: list[int]) -> np.ndarray:
    """transformers' processors in generate()'s order: the penalty and temperature on float32 scores, each cut
    run in float64 on the same (float32) values; what survives keeps its float32 value."""
    ids = torch.tensor([context], dtype=torch.long).reshape(1, -1)
    x = torch.from_numpy(scores32.copy())[None, :]
    for name in knobs.active():
        processor = PROCESSORS[name](getattr(knobs, name))
        x = processor(ids, x.double()).float() if name in CUTS else processor(ids, x.clone())
    return x[0].numpy()


def corpus(vocab: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(vocab)
    random = rng.standard_normal(vocab) * 3
    dominant = rng.standard_normal(vocab)
    dominant[rng.integers(vocab)] += 20
    return {"random": random, "near-flat": rng.standard_normal(vocab) * 1e-3, "dominant": dominant,
            "tied": np.round(rng.standard_normal(vocab) * 3, 0)}


@pytest.fixture(scope="module")
def knob_math(browser):
    """A blank page with knob_math.js loaded as a module; the server is not involved."""
    page = browser.new_page()
    page.set_content("<!doctype html><title>knob oracle</title>")
    page.add_script_tag(content=MATH_JS + "\nwindow.knobMath = {applyKnobs, decodeFloat32};", type="module")
    page.wait_for_function("window.knobMath !== undefined")
    yield page
    page.close()


RUN_JS = """([b64, context, settings, order, off]) => {
  const {applyKnobs, decodeFloat32} = window.knobMath;
  const base64 = (array) => {
    const bytes = new Uint8Array(array.buffer);
    const chunks = [];
    for (let i = 0; i < bytes.length; i += 8192) chunks.push(String.fromCharCode(...bytes.subarray(i, i + 8192)));
    return btoa(chunks.join(""));
  };
  const scores = decodeFloat32(b64);
  const cache = {};  // shared across settings, as during a drag
  return settings.map((knobs) => {
    const out = applyKnobs(scores, knobs, context, order, off, cache);
    return [base64(out.scores), base64(out.probs)];
  });
}"""


def in_browser(page, scores32: np.ndarray, context: list[int], settings: list[Knobs]):
    """The browser's final scores (float32) and probabilities (float64) for each setting."""
    payload = [base64.b64encode(scores32.tobytes()).decode(), context,
               [{row.name: getattr(k, row.name) for row in KNOBS} for k in settings], list(ORDER), OFF]
    return [(np.frombuffer(base64.b64decode(scores), dtype=np.float32),
             np.frombuffer(base64.b64decode(probs), dtype=np.float64))
            for scores, probs in page.evaluate(RUN_JS, payload)]


def assert_same(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Bit for bit; or, when top-p cut inside an exact tie, the same count with only that tie's tokens differing.
    Returns True when the tie case was needed."""
    if np.array_equal(ours, theirs):
        return False
    differ = np.isfinite(ours) != np.isfinite(theirs)
    same_elsewhere = np.array_equal(ours[~differ], theirs[~differ])
    tied_values = np.unique(np.where(np.isfinite(ours), ours, theirs)[differ])
    assert same_elsewhere and len(tied_values) == 1 and np.isfinite(ours).sum() == np.isfinite(theirs).sum(), (
        f"{differ.sum()} tokens kept by one side only (values {tied_values[:5]}), "
        f"{(ours[~differ] != theirs[~differ]).sum()} other scores differ")
    return True


@pytest.mark.parametrize("vocab", [4096, 50257])
def test_js_knobs_match_transformers_processors(knob_math, vocab):
    for kind, logits in corpus(vocab).items():
        scores = logits.astype(np.float32)
        context = [int(i) for i in np.random.default_rng(1).integers(0, vocab, 30)]
        settings = SETTINGS if vocab < 50257 else SETTINGS_50K
        for knobs, (ours, probs) in zip(settings, in_browser(knob_math, scores, context, settings)):
            where = f"{kind} logits at {vocab} tokens, {knobs}"
            theirs = cuts_in_float64_chain(knobs, scores, context)
            generate32 = float32_chain(knobs, scores, context)
            try:
                tie_rule = assert_same(ours, theirs)
                if kind != "near-flat":
                    tie_rule |= assert_same(ours, generate32)
            except AssertionError as exc:
                raise AssertionError(f"{where}: {exc}") from None
            assert not tie_rule or kind == "tied", f"{where}: not bit for bit"
            expected = torch.softmax(torch.from_numpy(theirs).double(), -1).numpy()
            np.testing.assert_allclose(np.sort(probs), np.sort(expected), rtol=0, atol=1e-12)  # sorted: tie rule


def test_every_knob_in_the_table_has_its_browser_twin(knob_math):
    """Built from the knob table, not a list: a knob added to lib/sampling/knobs.py alone, at its slider's on-value
    (temperature: its slider's top), must change the browser's scores exactly as transformers' processor does, so
    a knob without its JavaScript twin in components/knob_math.js fails here."""
    scores = corpus(4096)["random"].astype(np.float32)
    context = [int(i) for i in np.argsort(scores)[-5:]]  # the likeliest tokens: a penalty changes them
    settings = [Knobs(**{row.name: row.slider.on if row.slider.on is not None else row.slider.hi}) for row in KNOBS]
    for row, knobs, (ours, _) in zip(KNOBS, settings, in_browser(knob_math, scores, context, settings)):
        assert not np.array_equal(ours, scores), f"{row.name} changed nothing in the browser"
        assert not assert_same(ours, cuts_in_float64_chain(knobs, scores, context)), row.name


def test_temperature_zero_is_the_first_argmax(knob_math):
    scores = np.array([1.0, 3.0, 3.0, 0.0, -2.0], dtype=np.float32)
    [(ours, probs)] = in_browser(knob_math, scores, [], [Knobs(temperature=0.0)])
    assert int(np.argmax(np.isfinite(ours))) == int(torch.argmax(torch.from_numpy(scores)))
    assert np.isfinite(ours).sum() == 1 and sorted(probs) == [0, 0, 0, 0, 1.0]


def test_a_drag_reuses_the_sorted_order_and_still_matches(knob_math):
    """One cache across a temperature sweep with top-k and top-p on, then a penalty change (a new sort)."""
    scores = corpus(4096)["random"].astype(np.float32)
    context = [5, 17, 17, 400]
    sweep = [Knobs(temperature=t, top_k=50, top_p=0.9) for t in (0.2, 0.6, 1.0, 1.7, 2.9)]
    sweep += [Knobs(temperature=0.8, top_k=50, top_p=0.9, repetition_penalty=r) for r in (1.0, 2.0, 1.1)]
    for knobs, (ours, _) in zip(sweep, in_browser(knob_math, scores, context, sweep)):
        np.testing.assert_array_equal(ours, cuts_in_float64_chain(knobs, scores, context))
