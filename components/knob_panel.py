"""The knob panel: sampling knobs that reshape the distribution in the browser while they are dragged.

The server sends the prompt's full next-token scores once per browser tab and prompt, as float32 bytes (base64)
under a digest, together with the panel's code; later reruns send the digests only, and the browser finds what it
keeps under them (or asks for both again with the "missing" trigger, e.g. after it dropped them). knob_math.js
applies the knobs in generate()'s order and float32 arithmetic on every pointer move and redraws the bars. Only a
released knob (or a keyboard change) comes back to the server, as one state update: the page then updates the URL,
the readouts, the samples and the continuations as before. See tests/e2e/test_knob_js_oracle.py for the proof
that the browser's knobs are transformers' processors, and tests/e2e/test_knob_panel.py for the drag.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np
import streamlit as st
from streamlit.components.v2 import component

from components.guard import guarded_callback
from lib.bounded_cache import ByteBoundedCache
from lib.sampling.distribution import Distribution
from lib.sampling.knobs import KNOBS, ORDER

HERE = Path(__file__).parent
MATH_JS = (HERE / "knob_math.js").read_text(encoding="utf-8")
PANEL_JS = MATH_JS + "\n" + (HERE / "knob_panel.js").read_text(encoding="utf-8")
PANEL_CSS = (HERE / "knob_panel.css").read_text(encoding="utf-8")


def function_body(module: str) -> str:
    """The panel's module as the body of a function that returns its default export (run with `new Function`)."""
    body = re.sub(r"^export default function", "return function", module, flags=re.MULTILINE)
    return '"use strict";\n' + re.sub(r"^export ", "", body, flags=re.MULTILINE)  # strict, as a module is


# Streamlit re-sends a component's js= string with every rerun (18 KB a release). So js= is this small loader, and
# the panel's code travels like the scores: with a tab's first run, kept on the window under its digest.
PANEL_CODE = function_body(PANEL_JS)
CODE_ID = hashlib.blake2b(PANEL_CODE.encode(), digest_size=8).hexdigest()
LOADER_JS = """export default function (component) {
  const { data, setTriggerValue } = component;
  const kept = (window.llmxKnobPanelCode ??= new Map());
  if (data.code && !kept.has(data.code_id)) kept.set(data.code_id, new Function(data.code)());
  const panel = kept.get(data.code_id);
  if (!panel) return setTriggerValue("missing", data.id);  // the next run brings the code and the scores
  return panel(component);
}"""

_panel = component("llmx_knob_panel", html="", css=PANEL_CSS, js=LOADER_JS)
SENT = "_knob_panel_sent"  # session state: {panel key: digest of the scores this tab was last sent with the code}


def scores_payload(dist: Distribution) -> tuple[str, str]:
    """The scores the knobs act on (a local model's logits, or an API's log-probabilities), as base64 float32
    bytes, and a short digest that tells the browser when they changed. Remembered on the distribution: every
    release reruns the panel with the same scores."""
    if "_panel_payload" not in dist.__dict__:
        scores = np.ascontiguousarray(dist.scores if dist.complete else dist.logprobs, dtype="<f4")
        raw = scores.tobytes()
        dist.__dict__["_panel_payload"] = (base64.b64encode(raw).decode("ascii"),
                                           hashlib.blake2b(raw, digest_size=8).hexdigest())
    return dist.__dict__["_panel_payload"]


def prompt_key(dist: Distribution, context_ids: Sequence[int]) -> tuple[str, str]:
    """The digest of the scores and of the prompt's ids (the repetition penalty reads them): with the knob values,
    what a release shows depends on nothing else."""
    if "_prompt_key" not in dist.__dict__:
        ids = np.asarray(list(context_ids), dtype="<i8").tobytes()
        dist.__dict__["_prompt_key"] = (scores_payload(dist)[1], hashlib.blake2b(ids, digest_size=8).hexdigest())
    return dist.__dict__["_prompt_key"]


def _setup(dist: Distribution, context_ids: Sequence[int], n: int) -> dict:
    """What the panel needs besides the knobs, the same on every release: kept on the distribution per `n`."""
    kept = dist.__dict__.setdefault("_panel_setup", {})
    if n not in kept:
        vocab = len(dist.scores)
        kept[n] = {"context": sorted({int(i) for i in context_ids if 0 <= int(i) < vocab}), "order": list(ORDER),
                   "off": {row.name: row.off for row in KNOBS},
                   "top": [{"index": int(i), "label": row.label} for i, row in zip(dist.order(n), dist.top_rows(n))]}
    return kept[n]


# A class on one prompt picks from a few hundred knob settings; a view is its text (readouts, a curve's SVG, the
# samples' HTML), a few to ~60 KB, so the budget is bytes: a hosted process keeps at most this much of them.
VIEWS_BYTES = 32 * 2**20
VIEWS: ByteBoundedCache[Any] = ByteBoundedCache(VIEWS_BYTES, size=lambda key, view: len(str(view)))


def shared_view(key: Hashable, compute: Callable[[], Any]) -> Any:
    """What a release shows for `key` (the prompt's digest and every setting it depends on), computed once for
    every session in this process: 300 students releasing the same temperature build its readouts once."""
    return VIEWS.get(key, compute)


def knob_panel(dist: Distribution, context_ids: Sequence[int], rows: list[dict], n: int, key: str,
               on_release: Callable[[], None]):
    """Mount the panel for `dist` with the knob `rows` (components.sections.knob_controls.panel_rows) and the top
    `n` tokens drawn. `on_release` runs (as a widget callback) when the browser sends released knob values; they
    are then in st.session_state[key]["knobs"]."""
    b64, digest = scores_payload(dist)
    sent = st.session_state.setdefault(SENT, {})
    first_time = sent.get(key) != digest
    sent[key] = digest
    data = {
        "id": digest,
        "scores": b64 if first_time else None,
        "code_id": CODE_ID,
        "code": PANEL_CODE if first_time else None,
        "known_mass": dist.known_mass,
        "knobs": rows,
        "setup": _setup(dist, context_ids, n),  # one nested value: Streamlit inspects each top-level one
    }
    return _panel(key=key, data=data, on_knobs_change=guarded_callback(on_release),
                  on_missing_change=guarded_callback(lambda: forget_sent(key)))


def forget_sent(key: str) -> None:
    """The browser asked for the scores again (it has none under the digest): the rerun that follows sends them."""
    st.session_state.get(SENT, {}).pop(key, None)
