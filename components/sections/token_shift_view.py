"""Training-stages view: the aligned model's answer, each token labelled by whether the base model agrees."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.guard import guarded_fragment
from components.html import esc
from components.loaders import get_model
from components.state import from_query, to_query
from lib.models import hub
from lib.models.catalog import Family
from lib.models.token_shift import KINDS, MARKERS, TokenShift, token_shift

MAX_NEW_TOKENS = 48
COLOURS = {"unshifted": "#e5e7eb", "marginal": "#fde68a", "shifted": "#fca5a5"}
MEANING = {"unshifted": "the base model's own top choice", "marginal": "the base model's 2nd or 3rd choice",
           "shifted": "outside the base model's top 3"}
CSS = """
<style>
.llmx-shift{line-height:2.3;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.15rem;word-break:break-all}
.llmx-shift-legend{line-height:2.2;font-size:1rem}
.llmx-sh{display:inline-block;border:1px solid #9ca3af;border-radius:4px;padding:0 3px;margin:1px 2px;color:#111827;
 white-space:pre;font-family:ui-monospace,Menlo,Consolas,monospace}
.llmx-sh.shifted{border:2px solid #991b1b;font-weight:700}
.llmx-sh.marginal{border:1px dashed #92400e}
.llmx-sh sup{font-size:.7em;margin-left:1px}
</style>
"""


@st.cache_resource(max_entries=32, show_spinner="Scoring the answer under the base model…")
def _cached_shift(aligned_id: str, base_id: str, ids: tuple[int, ...], n: int) -> TokenShift:
    from lib.models.next_token import Prompt

    return token_shift(get_model(aligned_id), get_model(base_id), Prompt(ids), n)


def answer_html(shift: TokenShift) -> str:
    """The answer as chips: colour by label, plus a marker (~ marginal, * shifted) and a hover title."""
    parts = []
    for t in shift.tokens:
        title = f"{t.kind}: rank {t.rank} under the base model (p = {t.base_prob:.3f}); base's choice: {t.base_top}"
        mark = f"<sup>{MARKERS[t.kind]}</sup>" if MARKERS[t.kind] else ""
        parts.append(f'<span class="llmx-sh {t.kind}" title="{esc(title)}" style="background:{COLOURS[t.kind]}">'
                     f"{esc(t.label)}{mark}</span>")
    return f'{CSS}<div class="llmx-shift">{"".join(parts)}</div>'


def legend_html() -> str:
    items = "".join(f'<span><span class="llmx-sh {k}" style="background:{COLOURS[k]}">{k}'
                    f'{f"<sup>{MARKERS[k]}</sup>" if MARKERS[k] else ""}</span> {esc(MEANING[k])}</span> &nbsp; '
                    for k in KINDS)
    return f'{CSS}<div class="llmx-shift-legend">{items}</div>'


@guarded_fragment
def token_shift_panel(family: Family, text: str, complete: bool = True) -> None:
    """Greedy answer of one aligned checkpoint of `family`, scored under the family's base checkpoint."""
    st.header("Which tokens did alignment change?")
    st.markdown("Take the tuned model's greedy answer. At every token, give the **base** model the same text so far "
                "and ask where the tuned model's token ranks among the base model's choices. Lin et al. (2023) found "
                "only a few percent of tokens *shifted* in real aligned models, mostly style words near the start: "
                "alignment changes how the model answers more than what it knows.")
    base = next((c for c in family.checkpoints if c.stage == "base"), None)
    tuned = [c for c in family.checkpoints if c.stage != "base"]
    if family.backend != "hf" or base is None or not tuned:
        st.info("This view needs a family with a local base checkpoint and a tuned one: pick pocket-lm (bundled).")
        return
    if not complete:
        st.info("Switch on “Completions” above the stages: this view scores the tuned model's own answer.")
        return
    by_id = {c.model_id: c for c in tuned}
    from_query("ts_shift_model", "shift_model", tuned[-1].model_id, lambda v: v if v in by_id else tuned[-1].model_id)
    if st.session_state.ts_shift_model not in by_id:  # another family was picked
        st.session_state.ts_shift_model = tuned[-1].model_id
    choice = st.segmented_control("Tuned checkpoint", list(by_id), key="ts_shift_model",
                                  format_func=lambda m: f"{by_id[m].label} ({m})") or tuned[-1].model_id
    to_query(shift_model=choice)
    try:
        aligned, _ = get_model(choice), get_model(base.model_id)  # both load here, so a missing one says so
    except hub.ModelUnavailable as exc:
        st.info(f"{exc} The bundled pocket-lm family works offline.")
        return
    formatted = aligned.chat_prompt(text)
    try:
        shift = _cached_shift(choice, base.model_id, formatted.prompt.ids, MAX_NEW_TOKENS)
    except ValueError as exc:
        st.warning(f"Can't compare these checkpoints: {exc}.")
        return
    if not shift.tokens:
        st.info("The tuned model ended its answer straight away: there are no tokens to compare.")
        return
    st.markdown(legend_html(), unsafe_allow_html=True)
    st.markdown(answer_html(shift), unsafe_allow_html=True)
    n = len(shift.tokens)
    cols = st.columns(4)
    cols[0].metric("Shifted ratio", f"{shift.shifted_ratio:.0%}", help="Tokens outside the base model's top 3")
    for col, kind in zip(cols[1:], KINDS):
        col.metric(kind.capitalize(), f"{shift.count(kind)} of {n}")
    if not shift.stopped:
        st.caption(f"The answer is cut at {n} tokens.")
    if shift.shifted:
        rows = [{"position": i + 1, "tuned model's token": t.label, "rank under base": t.rank,
                 "base p": round(t.base_prob, 4), "base's choice": t.base_top} for i, t in shift.shifted]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
