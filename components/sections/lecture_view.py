"""Pieces of the Lecture page: the step's notes, its page embedded, the step list, the prepare panel."""

from __future__ import annotations

import streamlit as st

from components.presentation import presenting
from lib.teaching import lecture as L
from lib.teaching import presets
from lib.models.catalog import CATALOG, locally_available
from lib.page_table import BY_URL

EMBED_HEIGHT = 900


def available_models() -> set[str]:
    """Catalog models whose files are on this machine (a file-system check; no network)."""
    return {e.id for e in CATALOG if locally_available(e.id)}


def _src(step: L.Step, params: dict[str, str]) -> str:
    """Same-origin URL of the step's page, embedded (no sidebar or toolbar), honouring server.baseUrlPath."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    extra = {"embed": "true", "frame": "1", **({"present": "1"} if presenting() else {})}
    return "/" + (base + "/" if base else "") + L.link(step.page, {**params, **extra})


def step_notes(step: L.Step, params: dict[str, str]) -> None:
    st.markdown(f"**Say:** {step.say}")
    st.markdown(f"**Notice:** {step.notice}")
    if step.needs != "none":
        used = params.get("model") or params.get("family")
        st.markdown(f"**Model:** `{used}` ({L.NEEDS[step.needs].lower()}).")
        if L.uses_bundled(step, params) and step.bundled:
            st.info(f"Only the bundled model is on this machine. {step.bundled}", icon="ℹ️")
    if step.example == "openorca":
        ex = presets.OPENORCA_STYLE
        st.markdown("**Instruction data, OpenOrca-style** (written for this app in the data set's shape):")
        st.text(f"SYSTEM: {ex['system']}\n\nUSER: {ex['question']}\n\nASSISTANT: {ex['response']}")
    elif step.example == "preference":
        pair = presets.PREFERENCE_PAIR
        st.markdown("**A preference pair** (written for this app to show the shape of the data):")
        st.text(f"PROMPT: {pair['prompt']}\n\n✔ CHOSEN:\n{pair['chosen']}\n\n✘ REJECTED:\n{pair['rejected']}")
    _api_link(step, params)
    st.link_button(f"Open on the {BY_URL[step.page].title} page ↗", L.link(step.page, params), width="stretch")


def _api_link(step: L.Step, params: dict[str, str]) -> None:
    """A connected OpenAI-compatible server (this session's, set on a model page) is the biggest model of all;
    the link keeps this session, so the key stays where it is and never enters a URL."""
    model = st.session_state.get("api_model")
    if step.needs != "knowledge" or not st.session_state.get("api_on") or not model:
        return
    st.page_link(BY_URL[step.page].file, label=f"Open with your connected server ({model})", icon="🔌",
                 query_params={k: v for k, v in params.items() if k != "model"} | {
                     "api": "1", "api_model": model, "api_endpoint": "completions"})


def step_page(step: L.Step, params: dict[str, str], embed: bool) -> None:
    if embed:
        st.iframe(_src(step, params), height=EMBED_HEIGHT)


def step_list(current: int) -> None:
    lecture = None
    for i, step in enumerate(L.STEPS):
        if step.lecture != lecture:
            lecture = step.lecture
            st.markdown(f"**{lecture}**")
        mark = "▶ " if i == current else ""
        st.page_link("pages/lecture.py", label=f"{mark}{i + 1}. {step.title}", query_params={"step": step.id})


def prepare_panel() -> None:
    from components.sections.prepare_view import prepare_panel as panel

    panel()
