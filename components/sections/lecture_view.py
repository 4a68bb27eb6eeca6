"""Pieces of the Lecture page: the navigation row, the step's notes, the keys a presenter uses, the step list and
the prepare panel. The step's figure is drawn by components/sections/step_views.py."""

from __future__ import annotations

import streamlit as st

from components.guard import guarded_callback
from components.presentation import presenting
from components.sections.step_views import MODEL_VIEWS
from lib.models.catalog import CATALOG
from lib.models.hub import locally_available
from lib.page_table import BY_URL
from lib.teaching import lecture as L

# The lecture fills the screen in presentation mode: a slim navigation row, the notes, and a figure box that takes
# the rest of the height; its charts stretch to that height. Text is larger on a 1080p screen.
FIT_CSS = """<style>
.stMainBlockContainer { padding: 2.1rem 1.5rem 0.5rem !important; max-width: none; display: flex;
  flex-direction: column; height: 100vh; }
@media (min-width: 1600px) and (min-height: 900px) { html { font-size: 30px !important; } }
.stMainBlockContainer > [data-testid="stVerticalBlock"] { flex: 1 1 auto; min-height: 0; gap: 0.5rem !important; }
.stMainBlockContainer > [data-testid="stVerticalBlock"] > * { flex-shrink: 0; }  /* only the figure gives way */
.stMainBlockContainer [data-testid="stLayoutWrapper"]:has(> .st-key-lecture_figure) { flex: 1 1 0; min-height: 0; }
.st-key-lecture_figure { flex: 1 1 0 !important; height: 100%; min-height: 0; overflow: hidden; }
.st-key-lecture_figure [data-testid="stLayoutWrapper"]:has(> .st-key-lecture_figure_inner),
.st-key-lecture_figure_inner { flex: 1 1 0; min-height: 0; }
.st-key-lecture_figure_inner > [data-testid="stElementContainer"][class*="st-key-lecture_stretch_"] {
  flex: 1 1 0; min-height: 0; }
.st-key-lecture_figure [data-testid="stVerticalBlock"] { gap: 0.3rem !important; }
.st-key-lecture_notes p { font-size: 0.9rem; margin: 0 !important; }
.st-key-lecture_notes [data-testid="stCaptionContainer"] p { font-size: 0.65rem !important; line-height: 1.4; }
.st-key-lecture_notes [data-testid="stMarkdownContainer"], .st-key-lecture_notes [data-testid="stCaptionContainer"]
  { margin-bottom: 0 !important; }  /* Streamlit pulls a paragraph's bottom margin back; the notes have none */
.st-key-lecture_notes [data-testid="stVerticalBlock"] { gap: 0.2rem !important; }
.st-key-lecture_figure .tv-wrap { font-size: 0.85rem; line-height: 2; }
.st-key-lecture_figure p { font-size: 0.85rem; }
.st-key-lecture_figure .ts-data { font-size: 0.7rem; line-height: 1.35; padding: 0.3rem 0.6rem; margin: 0.2rem 0; }
.st-key-lecture_figure .ts-row { font-size: 0.75rem; margin: 0.15rem 0; }
.st-key-lecture_figure .ts-box { padding: 0.1rem 0.5rem; }
.st-key-lecture_figure .ts-arrow { font-size: 1rem; }
.st-key-lecture_figure [data-testid="stCaptionContainer"] p { font-size: 0.7rem !important; }
.st-key-lecture_figure .llmx-chips { font-size: 0.8rem; line-height: 2; }
.st-key-lecture_figure .llmx-pb { font-size: 0.9rem; }
.st-key-lecture_figure .llmx-pb-row { padding: 0.15rem 0; }
.st-key-lecture_figure .llmx-pb-line { height: 1.1rem; }
.st-key-lecture_figure .llmx-pb-bar { height: 0.85rem; }
.st-key-lecture_big_chips .tv-wrap { font-size: 2.2rem; }
.st-key-lecture_notes [data-testid="stPopover"] button { min-height: 0; padding: 0.1rem 0.6rem; }
.st-key-lecture_notes [data-testid="stPopover"] button p { font-size: 0.75rem !important; }
</style>"""
BASE_CSS = """<style>
.st-key-lecture_first, .st-key-lecture_last { display: none !important; }
.st-key-lecture_counter p { margin: 0; }
.st-key-lecture_prev button p, .st-key-lecture_next button p { font-size: 0.85rem !important; }
.st-key-lecture_counter h3 { padding: 0 !important; font-size: 1rem !important; line-height: 1.3; }
</style>"""
# Presenter keys on the parent document, so they work wherever focus is, unless someone is typing: ← → and a
# clicker's PageDown / PageUp move a step, Home / End go to the first / last. A focused slider keeps its arrows.
# A fixed script, no user text in it; it does nothing on pages without the lecture's buttons.
KEYS_JS = """<script>
(() => {
  if (window.__llmxLectureKeys) return; window.__llmxLectureKeys = true;
  const MOVES = {ArrowRight: 'next', PageDown: 'next', ArrowLeft: 'prev', PageUp: 'prev', Home: 'first', End: 'last'};
  const TEXT_INPUTS = new Set(['text', 'search', 'email', 'number', 'password', 'url', 'tel']);
  function typing(el) {
    if (!el) return false;
    if (el.isContentEditable || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
    return el.tagName === 'INPUT' && TEXT_INPUTS.has((el.type || 'text').toLowerCase());
  }
  document.addEventListener('keydown', e => {
    const move = MOVES[e.key];
    if (!move || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const button = document.querySelector('.st-key-lecture_' + move + ' button');
    if (!button) return;
    const el = document.activeElement;
    if (typing(el)) return;
    const slider = el && ((el.tagName === 'INPUT' && el.type === 'range') || (el.closest && el.closest('[role=slider]')));
    if (e.key.startsWith('Arrow') && slider) return;
    e.preventDefault();
    e.stopPropagation();
    if (!button.disabled) button.click();
  }, true);
  // A safety net, not the layout: a figure taller than its box (long notes, a new step) is zoomed to fit, never cut
  // or scrolled; the browser test keeps every step's zoom at 1.
  function contentHeight(box) {  // how far its drawn leaves reach, in the page's pixels whatever the zoom
    const top = box.getBoundingClientRect().top;
    let bottom = top;
    box.querySelectorAll('*').forEach(el => {
      const r = el.getBoundingClientRect();
      if (!el.children.length && r.height > 0 && r.width > 0) bottom = Math.max(bottom, r.bottom);
    });
    return bottom - top;
  }
  const sized = new ResizeObserver(() => later()), watched = new WeakSet();
  function watch(box, inner) {  // the box and the blocks in it: a size change no DOM change announces refits too
    const blocks = [...inner.children].flatMap(el => [el, ...el.children]);
    [box, ...blocks].forEach(el => { if (!watched.has(el)) { watched.add(el); sized.observe(el); } });
  }
  function fit() {
    const box = document.querySelector('.st-key-lecture_figure');
    const inner = document.querySelector('.st-key-lecture_figure_inner');
    if (!box || !inner) return;
    watch(box, inner);
    inner.style.zoom = '';
    for (let i = 0; i < 3; i++) {
      const need = contentHeight(box), room = box.clientHeight;
      if (need <= room + 1) break;
      const zoom = (parseFloat(inner.style.zoom) || 1) * room / need;
      inner.style.zoom = String(Math.max(0.3, Math.floor(zoom * 100) / 100));
    }
  }
  let queued = false;
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; fit(); }); } };
  // React often updates a step's elements in place (text, attributes), and a run's end changes the app's state.
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true, characterData: true});
  const app = document.querySelector('[data-testid=stApp]');
  if (app) new MutationObserver(later).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  window.addEventListener('resize', later);
  document.fonts.addEventListener('loadingdone', later);  // a late font rewraps text without touching the DOM
})();
</script>"""


def available_models() -> set[str]:
    """Catalog models whose files are on this machine (a file-system check; no network)."""
    return {e.id for e in CATALOG if locally_available(e.id)}


def navigation(i: int, step: L.Step, params: dict[str, str], go) -> None:
    """Back, Next and the step counter with the title on one row; hidden first/last buttons for Home and End."""
    st.html(BASE_CSS + (FIT_CSS if presenting() else ""))
    last = len(L.STEPS) - 1
    go = guarded_callback(go)  # the page's callback runs inside the guard too
    nav = st.columns([1.25, 1.25, 6.2, 2.4], vertical_alignment="center")
    nav[0].button("◀ Back", key="lecture_prev", on_click=go, kwargs={"delta": -1}, disabled=i == 0, width="stretch")
    nav[1].button("Next ▶", key="lecture_next", on_click=go, kwargs={"delta": 1}, disabled=i == last, type="primary",
                  width="stretch")
    with nav[2].container(key="lecture_counter"):
        st.markdown(f"### Step {i + 1} of {len(L.STEPS)} · {step.title}", help=step.lecture)
    nav[3].link_button("Open the full page ↗", L.link(step.page, params), width="stretch",
                       help=f"The {BY_URL[step.page].title} page with this step's settings, to explore.")
    st.button("First", key="lecture_first", on_click=go, args=(0,))
    st.button("Last", key="lecture_last", on_click=go, args=(last,))
    st.sidebar.html(KEYS_JS, unsafe_allow_javascript=True)  # in the sidebar: takes no room on the page


def step_notes(step: L.Step, params: dict[str, str]) -> None:
    """The one or two sentences to say, the point to notice, and which model the figure uses."""
    with st.container(key="lecture_notes"):
        st.markdown(f"{step.say} **{step.notice}**")
        if step.needs != "none" and step.view in MODEL_VIEWS:
            used = params.get("model") or params.get("family")
            line = f"Model: **{used}** ({L.NEEDS[step.needs].lower()})."
            if L.uses_bundled(step, params) and step.bundled:
                with st.popover(f"Model: `{used}`, the bundled one", icon=":material/info:", width="content"):
                    st.markdown(line)
                    st.info(f"Only the bundled model is on this machine. {step.bundled}", icon="ℹ️")
            else:
                st.caption(line)
        _api_link(step, params)


def _api_link(step: L.Step, params: dict[str, str]) -> None:
    """A connected OpenAI-compatible server (this session's, set on a model page) is the biggest model of all;
    the link keeps this session, so the key stays where it is and never enters a URL."""
    model = st.session_state.get("api_model")
    if step.needs != "knowledge" or not st.session_state.get("api_on") or not model:
        return
    st.page_link(BY_URL[step.page].file, label=f"Open with your connected server ({model})", icon="🔌",
                 query_params={k: v for k, v in params.items() if k != "model"} | {
                     "api": "1", "api_model": model, "api_endpoint": "completions"})


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
