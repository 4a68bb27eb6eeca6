"""Sampling-knob widgets, one per row of the knob table (lib.sampling.knobs); every value round-trips through the URL."""

from __future__ import annotations

import streamlit as st

from components.state import from_query, to_query
from lib.sampling.knobs import KNOBS, Knob, Knobs

EXPLAIN = {row.name: row.explain for row in KNOBS}  # name: (words, LaTeX formula)


def _control(row: Knob, key: str):
    """One knob's widgets and its value. A knob without a switch (temperature: 1 = unchanged, 0 = greedy) is a
    slider alone; the others have a switch and are off unless it is on."""
    lo, hi, step, on_default, label = row.slider
    cast = type(row.off)
    if on_default is None:
        from_query(f"{key}_{row.name}", row.name, row.off, cast, lo, hi)
        st.slider(label or row.label, lo, hi, step=step, key=f"{key}_{row.name}")
        return cast(st.session_state[f"{key}_{row.name}"])
    from_query(f"{key}_{row.name}_on", row.name, False, lambda _v: True)
    from_query(f"{key}_{row.name}", row.name, on_default, cast, lo, hi)
    on = st.toggle(row.label, key=f"{key}_{row.name}_on")
    st.slider(label or row.label, lo, hi, step=step, key=f"{key}_{row.name}", disabled=not on,
              label_visibility="collapsed")
    return st.session_state[f"{key}_{row.name}"] if on else row.off


def knob_controls(key: str = "sk") -> Knobs:
    """Every knob's widgets, in the table's order. Returns the Knobs."""
    return Knobs(**{row.name: _control(row, key) for row in KNOBS})


def knobs_to_query(knobs: Knobs) -> None:
    """Only knobs that are switched on appear in the URL (a knob without a switch always does)."""
    for row in KNOBS:
        value = getattr(knobs, row.name)
        to_query(**{row.name: value if row.slider.on is None or row.active(value) else None})
