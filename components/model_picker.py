"""The sidebar model picker shared by the model pages."""

from __future__ import annotations

import logging

import streamlit as st

from components.html import escape_markdown, error_line
from components.state import from_query, to_query
from lib.models.catalog import CATALOG, entry_for
from lib.models.hub import default_model, locally_available

CUSTOM = "Other (hub id or local folder)…"
FALLBACK_NOTE = "_model_fallback_note"  # why the sidebar now names the bundled model (shown once, on the next run)


def _label(model_id: str) -> str:
    entry = entry_for(model_id)
    where = "on this machine" if locally_available(model_id) else "needs download"
    return f"{model_id} · {entry.size} · {entry.stage} · {where}"


def pick_model(key: str = "model") -> str:
    """A model id from the catalog or typed by the user; kept in ?model=."""
    from_query(key, "model", default_model())
    if st.session_state.pop(f"{key}_reset", False):  # after a fallback: the widgets name the model actually loaded
        st.session_state[f"{key}_select"] = st.session_state[key]
        st.session_state.pop(f"{key}_custom", None)
    options = [e.id for e in CATALOG]
    current = st.session_state[key]
    with st.sidebar:
        st.subheader("Model")
        choice = st.selectbox("Model", options + [CUSTOM], index=options.index(current) if current in options else len(options),
                              format_func=lambda m: m if m == CUSTOM else _label(m), key=f"{key}_select",
                              label_visibility="collapsed")
        if choice == CUSTOM:
            typed = st.text_input("Hub id or folder", value="" if current in options else current, key=f"{key}_custom", max_chars=300,
                                  placeholder="e.g. openai-community/gpt2 or /path/to/model")
            model_id = typed.strip() or default_model()
        else:
            model_id = choice
        st.caption(escape_markdown(entry_for(model_id).description))
    st.session_state[key] = model_id
    to_query(model=model_id)
    return model_id


def chosen_model():
    """The API backend when one is switched on, else the picked local model (falling back to the bundled one).

    Shows why a model was swapped in; stops the page with a message when nothing can be loaded."""
    from components.loaders import get_model_or_fallback
    from components.openai_settings import api_model_from_sidebar
    from lib.models.hub import ModelUnavailable

    api_model = api_model_from_sidebar()
    if api_model is not None:
        return api_model
    model_id = pick_model()
    note = st.session_state.pop(FALLBACK_NOTE, None)
    if note:
        st.warning(note)
    try:
        model, fallback = get_model_or_fallback(model_id)
    except ModelUnavailable as exc:
        st.error(error_line(exc))
        st.stop()
    except Exception:  # anything else a strange model reference raises: log it, fall back like for a missing model
        if model_id == default_model():
            raise
        logging.getLogger("llmx").exception("loading %r failed", model_id)
        model, fallback = get_model_or_fallback(default_model())[0], (
            f"The model '{model_id[:80]}' could not be loaded here. Showing the bundled {default_model()} instead.")
    if fallback:
        # Name the model that was loaded, in the sidebar and the link, then run again so every widget agrees.
        st.session_state[FALLBACK_NOTE] = error_line(fallback, limit=600)
        st.session_state["model"] = model.name
        st.session_state["model_reset"] = True
        st.rerun()
    return model
