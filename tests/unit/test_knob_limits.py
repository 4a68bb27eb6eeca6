"""Knob values from a link that the maths can't honour are refused with one clear message, never NaN."""

from __future__ import annotations

import numpy as np
import pytest

from lib.sampling.apply import apply_knobs, sample
from lib.sampling.knobs import MIN_TEMPERATURE, Knobs

SCORES = (np.random.default_rng(0).normal(size=500) * 8).astype(np.float32)  # (vocab,) as a model gives them


@pytest.mark.parametrize("t", [1e-45, 5e-324, 1e-300, MIN_TEMPERATURE / 2, float("inf"), -1.0])
def test_a_temperature_that_would_overflow_is_refused(t):
    with pytest.raises(ValueError, match="temperature must be 0"):
        Knobs(temperature=t)


@pytest.mark.parametrize("t", [0.0, MIN_TEMPERATURE, 0.05, 1.0, 3.0, 1e300])
def test_every_allowed_temperature_gives_probabilities(t):
    probs = apply_knobs(SCORES, Knobs(temperature=t)).probs
    assert np.isfinite(probs).all() and abs(probs.sum() - 1) < 1e-9
    sample(probs, np.random.default_rng(1), 5)
