"""Presentation mode (?present=1, kept for the session), phone layout and chart export: the app-wide CSS
(components that draw their own HTML keep their own small style blocks beside it).

Called once per run from the router, so every page gets it.
"""

from __future__ import annotations

import streamlit as st

from components.guard import guarded_callback
from components.state import as_bool, to_query

KEY = "present"
WRITTEN = "_present_in_link"  # what this session last wrote as ?present=

ALWAYS = """
[data-testid="stAppDeployButton"] { display: none !important; }
@media (max-width: 640px) {
  .modebar-container, .modebar { display: none !important; }
  .stMainBlockContainer { padding-left: 0.75rem !important; padding-right: 0.75rem !important; }
  .stMainBlockContainer pre, .stMainBlockContainer code { white-space: pre-wrap !important; word-break: break-word; }
  .stMainBlockContainer img, .stMainBlockContainer svg:not(.main-svg) { max-width: 100%; }
  .stMainBlockContainer [data-testid="stHtml"] { max-width: 100%; overflow-x: auto; }
  [data-testid="stHeader"] [data-testid="stToolbar"] { max-width: 60vw; }
  .stMainBlockContainer h1 { font-size: 1.9rem !important; }
  .ts-row { flex-direction: column; } .ts-era { width: auto !important; } .ts-arrow { transform: rotate(90deg); }
  [data-testid="stPageLink"] a, [data-testid="stPageLink"] a * { white-space: normal !important; height: auto; }
}
.llmx-png { font-size: 0.8rem; margin: 0.2rem 0 0.6rem; padding: 0.1rem 0.6rem; border: 1px solid #9ca3af;
  border-radius: 6px; background: #fff; cursor: pointer; }
"""
# Charts, client-side: Plotly's own "download as PNG" at projector size, a "Save as PNG" button under each SVG
# chart (drawn from the SVG, 1920 px wide), and Plotly titles shrunk to fit a narrow screen (Plotly does not wrap
# them). A fixed script with no user input in it.
# Streamlit's single-key shortcuts (r reruns the page, c opens "Clear caches") fire on a stray key or a presenter
# clicker's letter: a bare r or c is stopped before Streamlit's handler unless someone is typing in a field
# (tests/e2e/test_keyboard.py). The app menu's Rerun still works. A fixed script with no user input in it.
NO_SHORTCUTS_JS = """<script>
(() => {
  if (window.__llmxNoShortcuts) return; window.__llmxNoShortcuts = true;
  window.addEventListener('keydown', e => {
    if (e.ctrlKey || e.metaKey || e.altKey || !/^[rc]$/i.test(e.key)) return;
    const el = e.target;
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
    e.stopImmediatePropagation();
  }, true);
})();
</script>"""
CHART_JS = """<script>
(() => {
  if (window.__llmxPng) return; window.__llmxPng = true;
  const W = 1920, H = 1080;
  document.addEventListener('click', e => {  // capture: runs before Plotly's own handler
    const btn = e.target.closest && e.target.closest('.modebar-btn');
    const gd = btn && btn.closest('.js-plotly-plot');
    if (gd && gd._context) gd._context.toImageButtonOptions = {format: 'png', width: W, height: H, scale: 1};
  }, true);
  function save(svg) {
    const box = svg.viewBox.baseVal, w = W, h = Math.round(W * box.height / box.width);
    const copy = svg.cloneNode(true);
    copy.setAttribute('width', w); copy.setAttribute('height', h);
    copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
    copy.style.fontFamily = getComputedStyle(svg).fontFamily;
    const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(copy)], {type: 'image/svg+xml'}));
    const img = new Image();
    img.onload = () => {
      const c = document.createElement('canvas'); c.width = w; c.height = h;
      const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, w, h); g.drawImage(img, 0, 0, w, h);
      URL.revokeObjectURL(url);
      c.toBlob(b => { const a = document.createElement('a'); a.href = URL.createObjectURL(b);
                      a.download = 'chart-1920.png'; a.click(); }, 'image/png');
    };
    img.src = url;
  }
  function addButtons() {
    document.querySelectorAll('.stMainBlockContainer svg[role=img][viewBox]:not([data-llmx-png])').forEach(svg => {
      svg.setAttribute('data-llmx-png', '1');
      const b = document.createElement('button'); b.className = 'llmx-png'; b.type = 'button';
      b.textContent = 'Save as PNG (1920 px)'; b.onclick = () => save(svg);
      svg.insertAdjacentElement('afterend', b);
    });
  }
  function fitTitles() {  // a title wider than its chart gets a smaller font (at least 11 px), else its own size
    document.querySelectorAll('.js-plotly-plot .gtitle').forEach(t => {
      const svg = t.closest('svg'); if (!svg) return;
      t.style.removeProperty('font-size');
      const box = t.getBoundingClientRect(), frame = svg.getBoundingClientRect();
      const room = Math.min(box.right, frame.right - 4) - Math.max(box.left, frame.left + 4);
      if (box.width > room && room > 0) {
        const size = parseFloat(getComputedStyle(t).fontSize) * room / box.width;
        t.style.setProperty('font-size', Math.max(11, Math.floor(size)) + 'px', 'important');
      }
    });
  }
  // A chart can be redrawn narrower without any node added (Plotly's own resize moves its title in place), so
  // each chart's size changes and redraws refit the titles too.
  const resized = new ResizeObserver(() => update());
  function watchCharts() {
    document.querySelectorAll('.js-plotly-plot:not([data-llmx-watched])').forEach(plot => {
      plot.setAttribute('data-llmx-watched', '1');
      resized.observe(plot);
      if (typeof plot.on === 'function') plot.on('plotly_afterplot', () => update());
    });
  }
  let queued = false;
  function update() {
    if (queued) return; queued = true;
    requestAnimationFrame(() => { queued = false; addButtons(); watchCharts(); fitTitles(); });
  }
  new MutationObserver(update).observe(document.body, {childList: true, subtree: true});
  window.addEventListener('resize', update);
  update();
})();
</script>"""

PRESENTING = """
html { font-size: 24px !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { font-size: 1rem !important; }
/* Toolbars go, but not the header's "expand sidebar" button: the lecturer's controls (and this mode's own
   switch) live in the sidebar. In Streamlit 1.67 that button sits inside stToolbar. */
[data-testid="stToolbarActions"], [data-testid="stMainMenu"], [data-testid="stStatusWidget"],
[data-testid="stDecoration"] { display: none !important; }
.stMainBlockContainer { padding-top: 2rem !important; padding-bottom: 2rem !important; }
/* Controls are read close up, the charts from the back: labels, inputs and metrics stay compact. */
[data-testid="stWidgetLabel"] p, [data-testid="stWidgetLabel"] label { font-size: 18px !important; }
.stMainBlockContainer textarea, .stMainBlockContainer input { font-size: 20px !important; }
.stMainBlockContainer textarea { height: 2.8em !important; min-height: 0 !important; }
[data-testid="stMetricValue"] { font-size: 1.3rem !important; }
[data-testid="stVerticalBlock"] { gap: 0.6rem !important; }
.stMainBlockContainer button p { font-size: 20px !important; }
/* A lecture step's "Open the full page" link sets the example, so the preset pickers make way for the chart. */
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
/* The header's empty strip lets clicks through to what lies under it; its own buttons still take them. */
[data-testid="stHeader"], [data-testid="stHeader"] * { pointer-events: none !important; }
[data-testid="stHeader"] button, [data-testid="stHeader"] a { pointer-events: auto !important; }
"""


def presenting() -> bool:
    return bool(st.session_state.get(KEY))


@guarded_callback
def _sync() -> None:
    st.session_state[KEY] = st.session_state["_present_toggle"]


PAGE_JS = CHART_JS + NO_SHORTCUTS_JS  # the app's fixed scripts, on every page

# Streamlit keeps the sidebar's last open/closed state in the browser and prefers it to the page's initial state,
# so a lecturer who once opened the sidebar would present with it open (the figure squeezed beside it). In
# presentation mode it is closed once per page load; opened again by hand, it stays open.
CLOSE_SIDEBAR_JS = """<script>
(() => {
  if (window.__llmxSidebarClosed) return; window.__llmxSidebarClosed = true;
  let tries = 0;
  const close = () => {
    const sidebar = document.querySelector('[data-testid=stSidebar]');
    const button = sidebar && sidebar.querySelector('[data-testid=stSidebarCollapseButton] button');
    if (sidebar && sidebar.dataset.collapsed === 'true') return;
    if (button) { button.click(); return; }
    if (++tries < 100) requestAnimationFrame(close);
  };
  close();
})();
</script>"""


def setup() -> None:
    """Read ?present= once per session, offer the sidebar toggle, collapse the sidebar and inject the CSS."""
    raw = st.query_params.get(KEY)
    # The link decides on the session's first run, and whenever it says something other than what this session
    # last wrote into it (a new link); otherwise the sidebar switch decides, though the URL still shows the old value.
    if KEY not in st.session_state or (raw is not None and as_bool(raw) != st.session_state.get(WRITTEN)):
        st.session_state[KEY] = as_bool(raw)
    st.session_state["_present_toggle"] = st.session_state[KEY]
    if presenting():
        st.set_page_config(initial_sidebar_state="collapsed")
    st.sidebar.toggle("Presentation mode", key="_present_toggle", on_change=_sync,
                      help="Large text for a projector; toolbars hidden. Also ?present=1 in the link.")
    to_query(**{KEY: "1" if presenting() else None})
    st.session_state[WRITTEN] = presenting()
    st.html(f"<style>{ALWAYS}{PRESENTING if presenting() else ''}</style>")
    st.sidebar.html(PAGE_JS + (CLOSE_SIDEBAR_JS if presenting() else ""), unsafe_allow_javascript=True)  # no room taken
