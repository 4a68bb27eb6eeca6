"""Sampling-knob state, one entry per row of the knob table (lib.sampling.knobs); every value round-trips through
the URL. The knobs themselves are drawn by the knob panel (components/knob_panel.py), which moves them in the
browser; this module seeds their values from the link, reads them back, and takes the values a released knob sends.

Session state per knob (key "sk"): sk_<name> holds the value, sk_<name>_on the switch of a knob that has one.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from components.state import from_query, to_query
from lib.sampling.knobs import KNOBS, Knob, Knobs

EXPLAIN = {row.name: row.explain for row in KNOBS}  # name: (words, LaTeX formula)


def _has_switch(row: Knob) -> bool:
    """A knob without a switch (temperature: 1 = unchanged, 0 = greedy) is always on."""
    return row.slider.on is not None


def seed_from_url(key: str = "sk") -> None:
    """Each knob's value (and switch) from the link, once per session; out-of-range values are clamped."""
    for row in KNOBS:
        lo, hi, _step, on_default, _label = row.slider
        cast = type(row.off)
        if not _has_switch(row):
            from_query(f"{key}_{row.name}", row.name, row.off, cast, lo, hi)
            continue
        from_query(f"{key}_{row.name}_on", row.name, False, lambda _v: True)
        from_query(f"{key}_{row.name}", row.name, on_default, cast, lo, hi)


def current_knobs(key: str = "sk") -> Knobs:
    """The Knobs the session's state describes (a switched-off knob is at its off value). Raises ValueError."""
    return Knobs(**{row.name: (st.session_state[f"{key}_{row.name}"]
                               if not _has_switch(row) or st.session_state[f"{key}_{row.name}_on"] else row.off)
                    for row in KNOBS})


def panel_rows(key: str = "sk") -> list[dict[str, Any]]:
    """What the knob panel draws for each knob, in the table's order: its slider and current value."""
    rows = []
    for row in KNOBS:
        lo, hi, step, _on, label = row.slider
        rows.append({"name": row.name, "label": row.label, "slider_label": label or row.label, "lo": lo, "hi": hi,
                     "step": step, "switch": _has_switch(row), "value": st.session_state[f"{key}_{row.name}"],
                     "enabled": not _has_switch(row) or bool(st.session_state[f"{key}_{row.name}_on"])})
    return rows


def _number(row: Knob, raw: Any) -> float | int:
    """A value the browser sent, as the knob's type within its slider's range; ValueError if it is no number."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ValueError(f"{row.label} must be a number")
    value = min(max(raw, row.slider.lo), row.slider.hi)
    return int(round(value)) if isinstance(row.off, int) else float(value)


def parse_released(values: Any, key: str = "sk") -> dict[str, Any]:
    """The session-state updates for the knob values a released knob sent ({name: number, or None for a
    switched-off knob}). They come from a browser, so anything is checked: ValueError unless all of it is valid."""
    if not isinstance(values, dict):
        raise ValueError("the knob panel sent something that is not a set of knob values")
    updates: dict[str, Any] = {}
    for row in KNOBS:
        raw = values.get(row.name)
        if raw is None and _has_switch(row):
            updates[f"{key}_{row.name}_on"] = False
            continue
        updates[f"{key}_{row.name}"] = _number(row, raw)
        if _has_switch(row):
            updates[f"{key}_{row.name}_on"] = True
    Knobs(**{row.name: updates[f"{key}_{row.name}"] for row in KNOBS if f"{key}_{row.name}" in updates})
    return updates


def take_released(values: Any, key: str = "sk") -> str | None:
    """Store what a released knob sent (nothing unless all of it is valid). Returns an error message, or None."""
    try:
        st.session_state.update(parse_released(values, key))
    except ValueError as exc:
        return f"Invalid setting: {exc}"
    return None


def knobs_to_query(knobs: Knobs) -> None:
    """Only knobs that are switched on appear in the URL (a knob without a switch always does)."""
    for row in KNOBS:
        value = getattr(knobs, row.name)
        to_query(**{row.name: value if row.slider.on is None or row.active(value) else None})
