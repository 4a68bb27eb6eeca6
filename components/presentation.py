"""Presentation mode (?present=1, kept for the session), phone layout and chart export: one place for the CSS.

Called once per run from the router, so every page gets it.
"""

from __future__ import annotations

import streamlit as st

KEY = "present"
# Plotly's own PNG export, at projector resolution (pass as st.plotly_chart(config=PLOTLY_CONFIG)).
PLOTLY_CONFIG = {"toImageButtonOptions": {"format": "png", "width": 1920, "height": 1080, "scale": 1},
                 "displaylogo": False}

ALWAYS = """
[data-testid="stAppDeployButton"] { display: none !important; }
@media (max-width: 640px) {
  .modebar-container, .modebar { display: none !important; }
  .stMainBlockContainer { padding-left: 0.75rem !important; padding-right: 0.75rem !important; }
  .stMainBlockContainer pre, .stMainBlockContainer code { white-space: pre-wrap !important; word-break: break-word; }
  .stMainBlockContainer img, .stMainBlockContainer svg:not(.main-svg) { max-width: 100%; }
  .stMainBlockContainer [data-testid="stHtml"] { max-width: 100%; overflow-x: auto; }
  [data-testid="stHeader"] [data-testid="stToolbar"] { max-width: 60vw; }
}
"""

PRESENTING = """
html { font-size: 24px !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { font-size: 1rem !important; }
[data-testid="stToolbar"], [data-testid="stMainMenu"], [data-testid="stStatusWidget"],
[data-testid="stDecoration"] { display: none !important; }
.stMainBlockContainer { padding-top: 2rem !important; padding-bottom: 2rem !important; }
/* Controls are read close up, the charts from the back: labels, inputs and metrics stay compact. */
[data-testid="stWidgetLabel"] p, [data-testid="stWidgetLabel"] label { font-size: 18px !important; }
.stMainBlockContainer textarea, .stMainBlockContainer input { font-size: 20px !important; }
.stMainBlockContainer textarea { height: 2.8em !important; min-height: 0 !important; }
[data-testid="stMetricValue"] { font-size: 1.3rem !important; }
[data-testid="stVerticalBlock"] { gap: 0.6rem !important; }
.stMainBlockContainer button p { font-size: 20px !important; }
/* The lecture steps open each example by link, so the preset pickers make way for the chart. */
.st-key-tok_preset, .st-key-nt_preset, .st-key-sk_preset { display: none !important; }
/* Tokenizer: the step's link picks the tokenizers; the single view's own picker still shows which one. */
.st-key-tok_names, [data-testid="stHorizontalBlock"]:has(.st-key-tok_show_ids) { display: none !important; }
.js-plotly-plot .xtick text, .js-plotly-plot .ytick text, .js-plotly-plot .legendtext,
.js-plotly-plot .g-xtitle text, .js-plotly-plot .g-ytitle text, .js-plotly-plot .annotation-text,
.js-plotly-plot .bartext, .js-plotly-plot .hovertext text { font-size: 20px !important; }
.js-plotly-plot .gtitle { font-size: 24px !important; }
[data-testid="stTable"] td, [data-testid="stTable"] th, .stMainBlockContainer table td,
.stMainBlockContainer table th { font-size: 20px !important; }
h1 { font-size: 1.5rem !important; padding: 0 0 0.3rem 0 !important; }
[data-testid="stHeader"] { background: transparent !important; height: 2rem !important; }
"""
# A page shown inside the Lecture page (?frame=1): no sidebar, no header, little padding.
FRAMED = """
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"] { display: none !important; }
.stMainBlockContainer { padding-top: 0.5rem !important; }
"""


def presenting() -> bool:
    return bool(st.session_state.get(KEY))


def _sync() -> None:
    st.session_state[KEY] = st.session_state["_present_toggle"]


def framed() -> bool:
    """Whether this session is a page embedded in the Lecture page (?frame=1 when it started)."""
    if st.query_params.get("frame") == "1":
        st.session_state["_framed"] = True
    return bool(st.session_state.get("_framed"))


def setup() -> None:
    """Read ?present= once per session, offer the sidebar toggle, collapse the sidebar and inject the CSS."""
    raw = st.query_params.get(KEY)
    if KEY not in st.session_state or raw is not None:
        st.session_state[KEY] = (raw or "").lower() in ("1", "true", "yes", "on")
    st.session_state["_present_toggle"] = st.session_state[KEY]
    if presenting():
        st.set_page_config(initial_sidebar_state="collapsed")
    st.sidebar.toggle("Presentation mode", key="_present_toggle", on_change=_sync,
                      help="Large text for a projector; toolbars hidden. Also ?present=1 in the link.")
    if presenting():
        st.query_params[KEY] = "1"
    elif KEY in st.query_params:
        del st.query_params[KEY]
    st.html(f"<style>{ALWAYS}{PRESENTING if presenting() else ''}{FRAMED if framed() else ''}</style>")
