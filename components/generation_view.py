"""Generation with per-token probabilities (like nat.dev's "show probabilities"), and step mode."""

from __future__ import annotations

import streamlit as st

from components.charts import distribution_chart, show_chart
from components.html import CHIP_CSS, esc, escape_markdown, probability_colour
from components.loaders import generate
from components.state import from_query, to_query
from lib.sampling.distribution import Distribution
from lib.models.next_token import Generation, NextTokenModel, Prompt
from lib.sampling.knobs import SAMPLING_TEMPERATURE, Knobs


def coloured_tokens(gen: Generation, prompt_tail: str) -> str:
    """The prompt's end in grey, then each generated token shaded by its probability (and printed in the tooltip).
    Unlikely tokens (< 10%) also get a dashed underline, so colour is not the only cue."""
    spans = []
    for i, step in enumerate(gen.steps):
        row = step.chosen
        style = f"background:{probability_colour(row.prob)}" + (";text-decoration:underline dashed" if row.prob < 0.1 else "")
        spans.append(f'<span class="llmx-chip" style="{style}" title="#{i + 1}: p={row.prob:.3f}, rank {row.rank}">'
                     f"{esc(row.label)}<sub>{row.prob:.0%}</sub></span>")
    return (f'{CHIP_CSS}<div class="llmx-chips"><span style="color:#6b7280">…{esc(prompt_tail)}</span> '
            f'{"".join(spans)}</div>')


def generation_view(model: NextTokenModel, prompt: Prompt, key: str, prefix: str | None = None) -> None:
    """`prefix`: the end of what the model reads (picks included), shown in grey before the generated tokens."""
    st.subheader("Generate, with each token's probability")
    from_query(f"{key}_gen_n", "tokens", 20, int, 1, 100)
    from_query(f"{key}_mode", "mode", "greedy", lambda v: v if v in ("greedy", "sample") else "greedy")
    from_query(f"{key}_seed", "seed", 0, int, 0, 2**31 - 1)
    from_query(f"{key}_temp", "temperature", 1.0, float, SAMPLING_TEMPERATURE.lo, SAMPLING_TEMPERATURE.hi)
    c1, c2, c3, c4 = st.columns(4)
    n = c1.slider("New tokens", 1, 100, key=f"{key}_gen_n")
    mode = c2.radio("Decoding", ["greedy", "sample"], horizontal=True, key=f"{key}_mode")
    seed = int(c3.number_input("Seed", 0, 2**31 - 1, step=1, key=f"{key}_seed"))
    temperature = c4.slider(SAMPLING_TEMPERATURE.label, SAMPLING_TEMPERATURE.lo, SAMPLING_TEMPERATURE.hi,
                            step=SAMPLING_TEMPERATURE.step, key=f"{key}_temp", disabled=mode == "greedy")
    to_query(tokens=n, mode=mode, seed=seed, temperature=temperature)
    knobs = Knobs(temperature=float(temperature)) if mode == "sample" else None
    with st.spinner("Generating…"):
        gen = generate(model, prompt, n, knobs, seed)
    for note in gen.notes:
        st.caption(note)
    tail = prefix if prefix is not None else prompt.text
    st.html(coloured_tokens(gen, tail[-60:]))  # st.html: no markdown pass, so no link can be made of the text
    st.caption("Shading: green = likely, red = unlikely (dashed underline under 10%). Pick a position to see "
               "what else the model considered there.")
    if not gen.steps:
        return
    pos = st.pills("Position", list(range(len(gen.steps))), key=f"{key}_pos", default=0,
                   format_func=lambda i: f"{i + 1}: {escape_markdown(gen.steps[i].chosen.label)}")  # pills render markdown
    if pos is None:
        return
    step = gen.steps[pos]
    rest = max(0.0, 1.0 - sum(r.prob for r in step.alternatives))
    show_chart(distribution_chart(step.alternatives, rest, highlight_rank=step.chosen.rank,
                                       title=f"Position {pos + 1}: chose “{step.chosen.label}” "
                                             f"({step.chosen.prob:.1%}, rank {step.chosen.rank})"),
               key=f"{key}_alt_chart")


def step_mode(dist: Distribution, chosen: list, key: str, n_candidates: int = 8) -> None:
    """The student is the sampler: click a candidate to append it and see the next distribution."""
    st.subheader("Step mode: you pick the next token")
    if chosen:
        st.markdown("Appended so far: " + " · ".join(escape_markdown(r.label) for r in chosen))
    cols = st.columns(4)
    for i, row in enumerate(dist.top_rows(n_candidates)):
        if cols[i % 4].button(f"{escape_markdown(row.label)}  ({row.prob:.1%})", key=f"{key}_cand_{i}", width="stretch"):
            chosen.append(row)
            st.rerun()
    c1, c2, _ = st.columns([1, 1, 4])
    if c1.button("Undo last", key=f"{key}_undo", disabled=not chosen):
        chosen.pop()
        st.rerun()
    if c2.button("Clear picks", key=f"{key}_clear", disabled=not chosen):
        chosen.clear()
        st.rerun()
