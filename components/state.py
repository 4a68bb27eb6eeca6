"""Widget state that round-trips through the URL, so a lecturer can share one exact view."""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from lib.text import is_true


def from_query(key: str, param: str, default: Any, cast: Callable[[str], Any] = str,
               lo: Any = None, hi: Any = None) -> None:
    """Seed st.session_state[key] from ?param= once per session.

    Values that don't parse fall back to the default; numbers are clamped to [lo, hi] so a hand-edited
    link can't put a widget out of range."""
    if key in st.session_state:
        return
    raw = st.query_params.get(param)
    try:
        value = cast(raw) if raw is not None else default
    except (TypeError, ValueError, OverflowError):
        value = default
    if isinstance(value, float) and value != value:  # nan
        value = default
    if lo is not None and value < lo:
        value = lo
    if hi is not None and value > hi:
        value = hi
    st.session_state[key] = value


def to_query(**params: Any) -> None:
    """The one writer of the URL: each value as text, None removes the parameter; unchanged ones are not
    written again (every write is a message to the browser)."""
    for name, value in params.items():
        if value is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)


def as_bool(raw: str | None) -> bool:
    return is_true(raw or "")
