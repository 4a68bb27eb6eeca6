"""Caches for the model-scale page: meta-device counts (once per process) and the BERT fill-mask model."""

from __future__ import annotations

import streamlit as st

from lib.models import hub
from lib.tokens import masked_lm
from lib.scale import meta_device
from lib.scale import maths as scale


@st.cache_data(show_spinner=False, max_entries=256)
def meta_breakdown(spec: scale.Spec) -> dict[str, int]:
    """transformers' own count on the meta device; imports torch and transformers on first use."""
    return meta_device.meta_breakdown(spec)


@st.cache_resource(max_entries=2, show_spinner=False)
def _masked_lm(ref: str) -> masked_lm.MaskedLM:
    return masked_lm.MaskedLM.load(ref)  # raises hub.ModelUnavailable (not cached) when it can't be had


@st.cache_data(show_spinner=False, max_entries=256)
def fill_mask(ref: str, text: str, top_k: int = 5) -> list[masked_lm.MaskGuess]:
    return _masked_lm(hub.canonical(ref)).fill(text, top_k)  # one model per folder, however spelled
