"""Sampling knobs: reshape one cached next-token distribution live, exactly as transformers' generate() would."""

import numpy as np
import streamlit as st

from components.guard import guarded_fragment
from components.sections.html_charts import cumulative_svg, paired_bars
from components.knob_panel import knob_panel
from components.sections.knob_controls import (EXPLAIN, current_knobs, knobs_to_query, panel_rows, seed_from_url,
                                                take_released)
from components.loaders import distribution, generate_many
from components.model_picker import chosen_model
from components.openai_settings import api_errors
from components.preset_prompt import preset_prompt
from components.setup import route_through_app
from lib.teaching.presets import DEFAULT_PRESET, NEXT_TOKEN_PRESETS
from lib.sampling.knobs import LABELS
from lib.sampling.apply import apply_knobs, sample, summary, top_p_view

route_through_app()
st.title("Sampling knobs")
st.caption("Moving a knob never runs the model: it reshapes the same stored scores, over the whole vocabulary.")

model = chosen_model()
text = preset_prompt(NEXT_TOKEN_PRESETS, DEFAULT_PRESET, prefix="sk", label="Preset", placeholder="Choose a preset…",
                     height=90, max_chars=100_000)
if not text.strip():
    st.info("Type a prompt above to see its next-token distribution.")
    st.stop()
prompt = model.encode(text)
with api_errors():
    dist = distribution(model, prompt)
for note in dist.notes:
    st.warning(note)
if not dist.complete:
    st.info(f"This backend returns only the top {len(dist.ids)} tokens; the knobs act on those, and the "
            f"remaining {1 - dist.known_mass:.1%} of probability is treated as unknown.")


def change(delta: float, digits: int) -> dict:
    """st.metric's delta: one that rounds to zero is a grey 0 without an arrow, not a red "↓ -0.00"."""
    text = f"{delta:+.{digits}f}"
    if float(text) == 0:
        return {"delta": f"{0:.{digits}f}", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": text}


original = dist.probs  # what every knob move compares against, computed once per prompt
before_stats = summary(original, original)


seed_from_url("sk")


def released() -> None:
    """A knob was released in the panel: take its values (checked) before the fragment reruns."""
    st.session_state.sk_panel_error = take_released(st.session_state.sk_panel.knobs)


@guarded_fragment
def knobs_panel():
    panel = st.container()
    n = st.slider("Tokens shown", 3, 30, 10, key="sk_n")
    with panel:
        knob_panel(dist, prompt.ids, panel_rows("sk"), n, key="sk_panel", on_release=released)
    if error := st.session_state.pop("sk_panel_error", None):
        st.error(error)
    try:
        knobs = current_knobs("sk")
    except ValueError as exc:
        st.error(f"Invalid setting: {exc}")
        return
    knobs_to_query(knobs)
    result = apply_knobs(dist.scores if dist.complete else dist.logprobs, knobs, prompt.ids)
    after = result.probs * (dist.known_mass if not dist.complete else 1.0)
    after_stats = summary(after, original, result.kept)
    st.markdown("**Order applied (as in generate()):** " + " → ".join(
        f"{LABELS.get(s.name, 'Model')} ({s.survivors:,} tokens)" for s in result.stages))
    cols = st.columns(4)
    cols[0].metric("Entropy (nats)", f"{after_stats['entropy']:.2f}",
                   **change(after_stats['entropy'] - before_stats['entropy'], 2))
    cols[1].metric("Effective choices", f"{after_stats['effective_choices']:.1f}",
                   **change(after_stats['effective_choices'] - before_stats['effective_choices'], 1))
    cols[2].metric("Mass kept", f"{after_stats['mass_kept']:.1%}")
    cols[3].metric("Tokens kept", f"{after_stats['survivors']:,}", help=f"of {len(original):,}")
    st.caption("The bars move while you drag; these readouts, the samples and the continuations follow when you "
               "let go. transformers' generate() applies its own default top-k = 50 when sampling unless you pass "
               "top_k=0; here every knob starts off.")
    order = dist.order(n)
    labels = [row.label for row in dist.top_rows(n)]
    kept_by_top_p = next((s.survivors for s in result.stages if s.name == "top_p"), None)
    st.markdown(cumulative_svg(top_p_view(result, max(2000, kept_by_top_p or 0)),
                               knobs.top_p if knobs.top_p < 1 else None, kept=kept_by_top_p), unsafe_allow_html=True)
    st.caption("Cumulative probability as top-p sees it: after the repetition penalty, temperature and top-k.")
    st.subheader("Draw samples")
    c1, c2 = st.columns(2)
    draws = c1.select_slider("Samples", [10, 100, 1000, 10000], value=1000, key="sk_draws")
    seed = int(c2.number_input("Seed", 0, 2**31 - 1, 0, key="sk_seed"))
    picks = sample(result.probs, np.random.default_rng(seed), draws)
    freq = np.bincount(picks, minlength=len(original)) / draws
    st.html(paired_bars(labels, result.probs[order], freq[order], "probability after knobs",
                        f"share of {draws:,} draws"))
    continuations(knobs, seed)


def continuations(knobs, seed: int) -> None:
    """Inside the knobs fragment, so a knob move redraws this section too: continuations are shown only under
    the knobs that made them; after a move the section says they belong to the old setting."""
    st.subheader("Three continuations with these knobs")
    made = st.session_state.get("sk_continuations")
    if st.button("Generate three continuations", key="sk_generate"):
        gens = []
        with api_errors(stop=False):
            gens = generate_many(model, prompt, 30, knobs, [seed + i for i in range(3)])
        made = st.session_state.sk_continuations = (prompt, knobs, seed, gens) if gens else None
    if not made:
        return
    if made[:3] != (prompt, knobs, seed):
        st.caption("The knobs, seed or prompt changed since the last continuations; generate again to see "
                   "continuations with these knobs.")
        return
    for i, (col, gen) in enumerate(zip(st.columns(3), made[3])):
        col.markdown(f"**Seed {seed + i}**")
        col.text(gen.text)
        for note in gen.notes:
            col.caption(note)


knobs_panel()

with st.expander("What each knob does"):
    for name, (words, formula) in EXPLAIN.items():
        st.markdown(f"**{LABELS[name]}.** {words}")
        st.latex(formula)
