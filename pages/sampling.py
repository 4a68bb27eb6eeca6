"""Sampling knobs: reshape one cached next-token distribution live, exactly as transformers' generate() would."""

import numpy as np
import streamlit as st

from components.guard import guarded_fragment
from components.sections.html_charts import cumulative_svg, paired_bars
from components.knob_panel import knob_panel, prompt_key, shared_view
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


# What the panel shows and samples. Outside the release fragment: changing one reruns the page (rare), and a
# release does not re-send these widgets to the whole class.
c1, c2, c3 = st.columns(3)
c1.slider("Tokens shown", 3, 30, 10, key="sk_n")
c2.select_slider("Samples drawn", [10, 100, 1000, 10000], value=1000, key="sk_draws")
c3.number_input("Seed", 0, 2**31 - 1, 0, key="sk_seed", help="for the samples and the continuations below")


def knob_view(knobs) -> tuple[list, str]:
    """What a release shows from the knob values alone: the readouts' st.metric arguments, and the order line with
    the cumulative curve (markdown)."""
    result = apply_knobs(dist.scores if dist.complete else dist.logprobs, knobs, prompt.ids)
    after = summary(result.probs * (dist.known_mass if not dist.complete else 1.0), original, result.kept)
    metrics = [("Entropy (nats)", f"{after['entropy']:.2f}", change(after['entropy'] - before_stats['entropy'], 2)),
               ("Effective choices", f"{after['effective_choices']:.1f}",
                change(after['effective_choices'] - before_stats['effective_choices'], 1)),
               ("Mass kept", f"{after['mass_kept']:.1%}", {}),
               ("Tokens kept", f"{after['survivors']:,}", {"help": f"of {len(original):,}"})]
    return metrics, order_and_curve(result, knobs)


def samples_view(knobs, n: int, draws: int, seed: int) -> str:
    """The samples drawn with these knobs and seed beside the probabilities they were drawn from (HTML)."""
    result = apply_knobs(dist.scores if dist.complete else dist.logprobs, knobs, prompt.ids)
    freq = np.bincount(sample(result.probs, np.random.default_rng(seed), draws), minlength=len(original)) / draws
    order = dist.order(n)
    return "<h3>Draw samples</h3>" + paired_bars([row.label for row in dist.top_rows(n)], result.probs[order],
                                                 freq[order], "probability after knobs",
                                                 f"share of {draws:,} draws (seed {seed})")


def shared(key: tuple, compute):
    """Computed once per process for every session with the same prompt and settings (a local model's only: an
    API's distributions are per session)."""
    return shared_view((model.cache_key, *prompt_key(dist, prompt.ids), *key), compute) if model.cache_key \
        else compute()


def order_and_curve(result, knobs) -> str:
    """The order line, the cumulative curve top-p sees and their notes, as one markdown element."""
    order_line = "**Order applied (as in generate()):** " + " → ".join(
        f"{LABELS.get(s.name, 'Model')} ({s.survivors:,} tokens)" for s in result.stages)
    kept_by_top_p = next((s.survivors for s in result.stages if s.name == "top_p"), None)
    svg = cumulative_svg(list(top_p_view(result, max(2000, kept_by_top_p or 0))),
                         knobs.top_p if knobs.top_p < 1 else None, kept=kept_by_top_p)
    return (f"{order_line}\n\nThe bars move while you drag; these readouts and the samples follow when you let go. "
            "transformers' generate() applies its own default top-k = 50 when sampling unless you pass top_k=0; "
            f"here every knob starts off.\n\n{svg}\n\nCumulative probability as top-p sees it: after the "
            "repetition penalty, temperature and top-k.")


@guarded_fragment
def knobs_panel():
    """What a released knob reruns: the panel, the readouts, the curve, the samples and the continuations."""
    n = st.session_state.sk_n
    knob_panel(dist, prompt.ids, panel_rows("sk"), n, key="sk_panel", on_release=released)
    if error := st.session_state.pop("sk_panel_error", None):
        st.error(error)
    try:
        knobs = current_knobs("sk")
    except ValueError as exc:
        st.error(f"Invalid setting: {exc}")
        return
    knobs_to_query(knobs)
    draws, seed = st.session_state.sk_draws, int(st.session_state.sk_seed)
    metrics, markdown = shared(("knobs", knobs), lambda: knob_view(knobs))
    samples = shared(("samples", knobs, n, draws, seed), lambda: samples_view(knobs, n, draws, seed))
    row = st.container(horizontal=True)
    for label, value, extra in metrics:
        row.metric(label, value, **extra)
    st.markdown(markdown, unsafe_allow_html=True)
    st.html(samples + "<h3>Three continuations with these knobs</h3>")
    continuations(knobs, seed)


@guarded_fragment
def continuations(knobs, seed: int) -> None:
    """A fragment inside the knobs fragment: a knob move redraws this section too (continuations are shown only
    under the knobs that made them; after a move the section says they belong to the old setting), while pressing
    Generate reruns only this section, not the panel above it. Its heading ends the samples' HTML."""
    made = st.session_state.get("sk_continuations")
    if st.button("Generate three continuations", key="sk_generate"):
        gens = []
        with api_errors(stop=False):
            gens = generate_many(model, prompt, 30, knobs, [seed + i for i in range(3)], text_only=True)
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
