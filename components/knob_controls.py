"""Sampling-knob widgets; every value round-trips through the URL."""

from __future__ import annotations

import streamlit as st

from components.state import from_query, to_query
from lib.sampling import LABELS, Knobs

# name: (slider min, max, step, default when switched on, off value)
RANGES = {
    "top_k": (1, 100, 1, 10, 0),
    "top_p": (0.01, 1.0, 0.01, 0.9, 1.0),
    "min_p": (0.0, 1.0, 0.01, 0.05, 0.0),
    "typical_p": (0.01, 0.99, 0.01, 0.9, 1.0),
    "repetition_penalty": (1.0, 3.0, 0.05, 1.3, 1.0),
}
EXPLAIN = {
    "temperature": ("Divide every logit by T before the softmax. T < 1 sharpens, T > 1 flattens; T = 0 means "
                    "always take the most likely token (greedy).", r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}"),
    "top_k": ("Keep the k most likely tokens (and any tied with the k-th); the rest get probability 0.",
              r"\text{keep } i \iff z_i \ge z_{(k)}"),
    "top_p": ("Nucleus sampling: keep the smallest set of most likely tokens whose probability adds up to p.",
              r"\text{keep } i \iff \sum_{j:\,p_j > p_i} p_j < p"),
    "min_p": ("Keep tokens at least min-p times as likely as the top token. Adapts to how sure the model is.",
              r"\text{keep } i \iff p_i \ge p_{\min} \cdot \max_j p_j"),
    "typical_p": ("Keep the tokens whose surprise (-log p) is closest to the average surprise (the entropy), "
                  "until their mass reaches the threshold.", r"\text{rank by } \left| -\log p_i - H(p) \right|"),
    "repetition_penalty": ("Make tokens already in the text less likely: positive logits are divided by the "
                           "penalty, negative ones multiplied.",
                           r"z_i \leftarrow \begin{cases} z_i / \theta & z_i > 0 \\ z_i \cdot \theta & z_i \le 0 \end{cases}"),
}


def _cast_for(name: str):
    return int if name == "top_k" else float


def knob_controls(key: str = "sk") -> Knobs:
    """Temperature is always on (1 = unchanged, 0 = greedy); the others have a switch. Returns the Knobs."""
    from_query(f"{key}_temperature", "temperature", 1.0, float, 0.0, 3.0)
    st.slider("Temperature (0 = greedy)", 0.0, 3.0, step=0.05, key=f"{key}_temperature")
    values = {"temperature": float(st.session_state[f"{key}_temperature"])}
    for name, (lo, hi, step, on_default, off) in RANGES.items():
        from_query(f"{key}_{name}_on", name, False, lambda _v: True)
        from_query(f"{key}_{name}", name, on_default, _cast_for(name), lo, hi)
        on = st.toggle(LABELS[name], key=f"{key}_{name}_on")
        st.slider(LABELS[name], lo, hi, step=step, key=f"{key}_{name}", disabled=not on, label_visibility="collapsed")
        values[name] = st.session_state[f"{key}_{name}"] if on else off
    return Knobs(**values)


def knobs_to_query(knobs: Knobs) -> None:
    """Only knobs that are switched on appear in the URL."""
    off = Knobs()
    for name in ("temperature",) + tuple(RANGES):
        value = getattr(knobs, name)
        to_query(**{name: value if name == "temperature" or value != getattr(off, name) else None})
