"""The knob panel: sampling knobs that reshape the distribution in the browser while they are dragged.

The server sends the prompt's full next-token scores once, as float32 bytes (base64); components/knob_math.js
applies the knobs in generate()'s order and float32 arithmetic on every pointer move and redraws the bars. Only a
released knob (or a keyboard change) comes back to the server, as one state update: the page then updates the URL,
the readouts, the samples and the continuations as before. See tests/e2e/test_knob_js_oracle.py for the proof
that the browser's knobs are transformers' processors, and tests/e2e/test_knob_panel.py for the drag.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from streamlit.components.v2 import component

from components.guard import guarded_callback
from lib.sampling.distribution import Distribution
from lib.sampling.knobs import KNOBS, ORDER

HERE = Path(__file__).parent
MATH_JS = (HERE / "knob_math.js").read_text(encoding="utf-8")
PANEL_JS = MATH_JS + "\n" + (HERE / "knob_panel.js").read_text(encoding="utf-8")
PANEL_CSS = (HERE / "knob_panel.css").read_text(encoding="utf-8")

_panel = component("llmx_knob_panel", html="", css=PANEL_CSS, js=PANEL_JS)


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


def knob_panel(dist: Distribution, context_ids: Sequence[int], rows: list[dict], n: int, key: str,
               on_release: Callable[[], None]):
    """Mount the panel for `dist` with the knob `rows` (components.sections.knob_controls.panel_rows) and the top
    `n` tokens drawn. `on_release` runs (as a widget callback) when the browser sends released knob values; they
    are then in st.session_state[key]["knobs"]."""
    b64, digest = scores_payload(dist)
    vocab = len(dist.scores)
    data = {
        "id": digest,
        "scores": b64,
        "context": sorted({int(i) for i in context_ids if 0 <= int(i) < vocab}),
        "order": list(ORDER),
        "off": {row.name: row.off for row in KNOBS},
        "knobs": rows,
        "top": [{"index": int(i), "label": row.label} for i, row in zip(dist.order(n), dist.top_rows(n))],
        "known_mass": dist.known_mass,
    }
    return _panel(key=key, data=data, on_knobs_change=guarded_callback(on_release))
