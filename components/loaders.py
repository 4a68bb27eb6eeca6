"""Streamlit caches around lib loaders: one model per process, logits cached per (model, prompt)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import streamlit as st

from lib.models import hub
from lib.models.backends import open_model
from lib.models.catalog import DEFAULT_MODEL
from lib.sampling.distribution import Distribution
from lib.models.next_token import ALTERNATIVES, Generation, NextTokenModel, Prompt, SharedModel
from lib.sampling.knobs import Knobs


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_hf(model_id: str) -> SharedModel:
    bar = st.progress(0.0, text=f"Loading {model_id}…")
    try:
        return open_model(model_id, progress=lambda f, msg: bar.progress(f, text=msg))
    finally:
        bar.empty()


def get_model(model_id: str) -> SharedModel:
    """A shared, loaded model, one per canonical name (`assets//pocket-lm` is `pocket-lm`). Raises
    hub.ModelUnavailable with a readable message."""
    return _load_hf(hub.canonical(model_id))


def get_model_or_fallback(model_id: str) -> tuple[NextTokenModel, str | None]:
    """The requested model, or the bundled one plus a message saying why it was swapped in."""
    try:
        return get_model(model_id), None
    except hub.ModelUnavailable as exc:
        if model_id == DEFAULT_MODEL:
            raise
        return get_model(DEFAULT_MODEL), f"{exc} Showing the bundled {DEFAULT_MODEL} instead."


@st.cache_resource(max_entries=256, show_spinner=False)
def _cached_logits(model_id: str, ids: tuple[int, ...]) -> np.ndarray:
    logits = _load_hf(model_id).logits(ids).astype(np.float32)  # (vocab,)
    logits.setflags(write=False)
    return logits


def distribution(model: NextTokenModel, prompt: Prompt) -> Distribution:
    """Next-token distribution, computed once per (model, prompt ids) for all sessions."""
    if model.cache_key is None:
        return model.distribution(prompt)  # API backends are per session; never share their results
    notes = (prompt.note,) if prompt.dropped else ()
    return model.distribution_from_logits(_cached_logits(model.cache_key, prompt.ids).astype(np.float64), notes)


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_generations(model_id: str, prompt: Prompt, max_new_tokens: int, knobs: Knobs | None,
                        seeds: tuple[int, ...], text_only: bool) -> tuple[Generation, ...]:
    return tuple(_load_hf(model_id).generate_many(prompt, max_new_tokens, knobs, seeds, 0 if text_only else ALTERNATIVES))


def generate_many(model: NextTokenModel, prompt: Prompt, max_new_tokens: int, knobs: Knobs | None,
                  seeds: Sequence[int], text_only: bool = False) -> list[Generation]:
    """One continuation per seed. A local model runs them in the same batched steps as every other session's
    (lib.models.batching), each text the same as alone; results are shared per (model, prompt, knobs, seeds).
    `text_only`: a local model skips the per-token readouts (a page that shows only the text)."""
    if model.cache_key is None:
        return [model.generate(prompt, max_new_tokens, knobs, seed) for seed in seeds]
    return list(_cached_generations(model.cache_key, prompt, max_new_tokens, knobs, tuple(int(s) for s in seeds),
                                    text_only))


def generate(model: NextTokenModel, prompt: Prompt, max_new_tokens: int, knobs: Knobs | None, seed: int) -> Generation:
    return generate_many(model, prompt, max_new_tokens, knobs, [seed])[0]
