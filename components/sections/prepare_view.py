"""The Lecture page's "prepare this machine" panel: pick catalog models, download them and every encoding."""

from __future__ import annotations

import streamlit as st

from lib import prepare as P
from lib.hosting import hosted
from lib.models.catalog import CATALOG

LECTURE_SET = ["openai-community/gpt2", "HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M-Instruct"]


def prepare_panel() -> None:
    if hosted():  # pages/lecture.py does not show it there; a second check where the downloads start
        st.info("This class server is prepared by its operator (`make prepare`); it downloads nothing from the page.")
        return
    st.markdown("Run this before the lecture, on the machine that serves the app, while it is online. Afterwards the "
                "lecture works with the network off. The same from a terminal: "
                "`make prepare MODELS=\"gpt2 SmolLM2-135M SmolLM2-135M-Instruct\"`.")
    hub_models = [e.id for e in CATALOG if e.family != "pocket-lm"]
    chosen = st.multiselect("Models to download", hub_models, default=LECTURE_SET, key="prepare_models",
                            format_func=lambda m: f"{m} ({next(e.size for e in CATALOG if e.id == m)})")
    if st.button("Download models and every tiktoken encoding", key="prepare_go"):
        bar = st.progress(0.0, text="Starting…")
        results = P.prepare(chosen, progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        bar.empty()
        for r in results:
            (st.success if r.ok else st.error)(f"{r.kind} {r.name}: {r.message}")
    rows = P.offline_summary()
    st.markdown("**Works offline now:** " + ", ".join(f"`{r.name}`" for r in rows if r.ok))
    missing = [r.name for r in rows if not r.ok]
    if missing:
        st.markdown("**Needs the network:** " + ", ".join(f"`{n}`" for n in missing))
