"""The training-stages page's sections: the pipeline story, checkpoints side by side, DPO's effect, live SFT."""

from __future__ import annotations

import json
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from components.charts import OKABE_ITO, distribution_chart, layout, show_chart
from components.generation_view import coloured_tokens
from components.html import chips, esc, error_line, table, token_titles
from components.loaders import distribution, generate, get_model
from lib.models import hub
from lib.teaching import stages
from lib.models.catalog import API_PREFIX, Checkpoint, Family
from lib.sampling.knobs import Knobs
from lib.training import live  # the live demo only; torch is imported lazily inside
from lib.teaching.instructions import preference_pairs, probe_example, sft_examples

BOX_CSS = """<style>
.ts-row{display:flex;align-items:stretch;gap:.4rem;margin:.3rem 0;font-size:1.1rem}
.ts-era{width:9rem;font-weight:700;align-self:center}
.ts-box{flex:1;border:2px solid #6b7280;border-radius:8px;padding:.5rem .7rem;background:#f9fafb}
.ts-box.on{border:4px solid #1d4ed8;background:#dbeafe}
.ts-arrow{align-self:center;font-size:1.6rem}
.ts-data{border:1px solid #9ca3af;border-radius:6px;padding:.6rem .8rem;margin:.3rem 0;font-size:1.1rem;
white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace}
.ts-end{font-family:sans-serif;font-size:.8em;color:#4b5563;border:1px solid #9ca3af;border-radius:4px;padding:0 .3em}
</style>"""



@dataclass(frozen=True)
class StageRun:
    """What the user asked every checkpoint: the prompt, the expected answer and the generation settings."""

    text: str
    expected: str
    n_tokens: int
    temperature: float
    seed: int
    complete: bool = True  # write greedy and sampled answers too


def story_row(era: str, names: list[str], stage_key: str) -> str:
    cells = []
    for story, name in zip(stages.STORY, names):
        on = story.key == stage_key
        cells.append(f'<div class="ts-box{" on" if on else ""}">{"▶ " if on else ""}{esc(name)}</div>')
    arrows = '<div class="ts-arrow">→</div>'.join(cells)
    return f'<div class="ts-row"><div class="ts-era">{esc(era)}</div>{arrows}</div>'



def story_panel(stage_key: str) -> None:
    """The pipeline (ULMFiT's names over today's), the chosen stage's objective and a sample of its data."""
    st.html(BOX_CSS + story_row("ULMFiT (2018)", [s.ulmfit for s in stages.STORY], stage_key)
            + story_row("Today", [s.name for s in stages.STORY], stage_key))
    story = next(s for s in stages.STORY if s.key == stage_key)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{story.name}.** {story.objective}")
        st.caption(story.data_note)
        if story.data_kind == "text":
            st.markdown("Example of its data: plain text, every token a prediction target.")
            st.html(BOX_CSS + f'<div class="ts-data">{esc(stages.PRETRAIN_SNIPPET)}</div>')
            st.caption("Jane Austen, *Pride and Prejudice* (1813), one of pocket-lm's 11 novels.")
        elif story.data_kind == "instruction":
            ex = next(e for e in sft_examples() if e.task == "sentiment" and not e.answer.startswith("Well"))
            st.markdown("Example of its data: an instruction and a response (pocket-lm's SFT set).")
            st.html(BOX_CSS + f'<div class="ts-data">USER: {esc(ex.instruction)}\n\nASSISTANT: {esc(ex.answer)}</div>')
            q, a = stages.FLAN_EXAMPLE
            st.caption(f"A FLAN-style example from the lecture: “{q}” → “{a}”.")
        else:
            pair = next(p for p in preference_pairs() if p.why == "concise")
            st.markdown("Example of its data: one prompt, two answers, and which one people preferred.")
            st.html(BOX_CSS + f'<div class="ts-data">USER: {esc(pair.instruction)}</div>'
                    f'<div class="ts-data">✔ CHOSEN: {esc(pair.chosen)}</div>'
                    f'<div class="ts-data">✘ REJECTED: {esc(pair.rejected)}</div>')
            st.caption(f"From pocket-lm's preference set: the chosen answer is {pair.why}.")
    with right:
        st.markdown("**InstructGPT's three steps** (Ouyang et al. 2022)")
        st.html(table([{"step": k, "InstructGPT": v} for k, v in stages.INSTRUCTGPT_FACTS], "InstructGPT's three steps"))
        st.caption("Source: " + stages.SOURCES["InstructGPT"] + ". ULMFiT: " + stages.SOURCES["ULMFiT"] + ".")

    # -- 2. side by side -----------------------------------------------------------------------------


def stage_chart(rows, rest: float, highlight: int | None, title: str) -> go.Figure:
    """The shared distribution chart on one fixed 0-100% axis, so columns compare at a glance."""
    fig = distribution_chart(rows, rest, highlight_id=highlight, title=title)
    fig.update_xaxes(range=[0, 1.45], tickvals=[0, 0.5, 1.0], ticktext=["0%", "50%", "100%"], tickfont=dict(size=18),
                     title_font=dict(size=18))
    return fig.update_layout(title_font=dict(size=22))


def load_checkpoints(family: Family) -> tuple[list, str | None]:
    """(model or an error message, per checkpoint), and one message when the whole family is blocked."""
    if family.backend != "openai":
        out = []
        for ck in family.checkpoints:
            try:
                out.append(get_model(ck.model_id))
            except hub.ModelUnavailable as exc:
                out.append(f"Not available: {exc}")
        return out, None
    try:
        from components.openai_settings import api_backend_for, connection_sidebar
    except ImportError:
        return [], "The OpenAI family needs the OpenAI backend, which this installation does not have."
    if connection_sidebar(toggle=False) is None:
        return [], ("The OpenAI family needs an API key: enter yours in the sidebar (it stays in this browser "
                    "session only), or point the base URL at a compatible server.")
    return [api_backend_for(ck.model_id.removeprefix(API_PREFIX)) for ck in family.checkpoints], None


def api_error_types() -> tuple:
    try:
        from lib.models.openai_client import ApiError
    except ImportError:
        return (hub.ModelUnavailable,)
    return (hub.ModelUnavailable, ApiError)


def show_checkpoint(ck: Checkpoint, model, run: StageRun):
    """One column: the tokens seen, the first-token distribution, measures, completions. Returns (dist, positions)."""
    formatted = stages.format_prompt(model, run.text, ck.chat)
    prompt = formatted.prompt
    for note in (formatted.note, prompt.note):
        if note:
            st.caption(note)
    if prompt.ids:
        token_rows = model.token_labels(prompt.ids)
        shown = "" if len(prompt.ids) <= 200 else " (the last 200 are shown)"
        st.markdown(f"**Tokens this model sees: {len(prompt.ids)}**{shown}")
        # the same height in every column, so the charts line up; a keyboard can focus the box to scroll it
        st.html(chips(list(zip(token_rows[-200:], token_titles(model, prompt.ids[-200:]))), height=230,
                      label=f"tokens {ck.label} sees"))
    dist = distribution(model, prompt)
    for note in dist.notes:
        st.caption(note)
    positions = (stages.expected_positions(dist, run.expected, model)
                 if run.expected.strip() else ())
    best = max(positions, key=lambda i: dist.probs[i]) if positions and dist.complete else None
    show_chart(stage_chart(dist.top_rows(8), dist.rest_mass(8), best, "First answer token"), key=f"ts_chart_{ck.model_id}")
    m1, m2 = st.columns(2)
    if positions:
        m1.metric("P(expected)", f"{stages.expected_probability(dist, positions):.1%}",
                  help="Probability that the answer starts with the expected answer's first token ("
                       + ", ".join(repr(dist.texts[i]) for i in positions) + "); hatched in the chart when it "
                       "is in the top 8.")
    elif run.expected.strip():
        m1.metric("P(expected)", "not in list" if not dist.complete else "–")
    m2.metric("Entropy", f"{dist.at_least}{dist.entropy():.2f} nats")
    if not run.complete:
        return dist, positions
    greedy = generate(model, prompt, run.n_tokens, None, run.seed)
    sampled = generate(model, prompt, run.n_tokens, Knobs(temperature=float(run.temperature)), run.seed)
    st.markdown("**Greedy completion**")
    st.html(coloured_tokens(greedy, ""))
    st.markdown(f"**Sampled** (temperature {run.temperature:.1f}, seed {run.seed})")
    st.html(coloured_tokens(sampled, ""))
    return dist, positions


def compare_checkpoints(family: Family, run: StageRun) -> None:
    """One column per checkpoint, then the stage-by-stage measures."""
    models, blocked = load_checkpoints(family)
    if blocked:
        st.info(blocked)
    dists, labels, expected_ids = [], [], []
    for col, ck, model in zip(st.columns(len(family.checkpoints)), family.checkpoints, models):
        with col:
            st.subheader(ck.label)
            st.caption(f"`{ck.model_id}` · stage: {ck.stage} · sees: {'chat template' if ck.chat else 'raw prompt'}")
            if isinstance(model, str) or model is None:
                st.warning(error_line(model) if model else "Not available.")
                continue
            try:
                dist, positions = show_checkpoint(ck, model, run)
            except api_error_types() as exc:
                st.warning(f"Not available: {error_line(exc)}")
                continue
            dists.append(dist)
            labels.append((ck.label, ck.stage))
            expected_ids.append(positions)

    if len(dists) >= 2:
        st.subheader("Measures, stage by stage")
        rows = stages.compare(labels, dists, expected_ids)
        st.dataframe([{"stage": r.label,
                       "P(expected first token)": "–" if r.expected_rank is None else f"{r.expected_prob:.2%}",
                       "rank of expected token": str(r.expected_rank or "–"), "entropy (nats)": f"{r.entropy_nats:.3f}",
                       "KL(this ‖ previous stage), nats":
                           "–" if r.kl_from_previous is None else f"{r.kl_from_previous:.3f}",
                       "most likely token": r.top_token} for r in rows], hide_index=True, width="stretch")
        st.caption("KL divergence: how far this stage's first-token distribution moved from the previous stage's "
                   "(0 = identical). RLHF keeps it small on purpose with a KL penalty toward the SFT model. Each stage "
                   "is measured on its own prompt format (raw for base, chat template for tuned checkpoints).")
    elif not blocked:
        st.info("Fewer than two checkpoints of this family could be loaded, so there is nothing to compare yet.")


def dpo_summary(family_key: str) -> None:
    """What SFT and DPO changed in the bundled model, from its metrics file."""
    dpo_metrics = hub.ASSETS / "pocket-lm-dpo" / "metrics.json"
    if family_key == "pocket-lm" and dpo_metrics.exists():
        m = json.loads(dpo_metrics.read_text())
        base_to_dpo, sft_to_dpo = m["first_token_vs_base"], m["first_token_vs_sft"]
        with st.expander("What SFT and DPO changed in pocket-lm (measured on held-out instructions)", expanded=True):
            st.html(table([
                {"measure": "mean P(expected first token)", "base": f"{base_to_dpo['base_mean']:.4f}",
                 "SFT": f"{sft_to_dpo['base_mean']:.3f}", "DPO": f"{sft_to_dpo['tuned_mean']:.3f}"},
                {"measure": "mean P(reply starts with “Well”)", "base": "–", "SFT": f"{m['well_first']['sft']:.3f}",
                 "DPO": f"{m['well_first']['dpo']:.3f}"},
                {"measure": "mean greedy reply length (characters)", "base": "–",
                 "SFT": f"{m['reply_chars']['sft']:.0f}", "DPO": f"{m['reply_chars']['dpo']:.0f}"},
            ], "What SFT and DPO changed"))
            st.caption(f"{m['n_held_out']} held-out instructions. A quarter of the SFT demonstrations ramble "
                       "(“Well, let me think about that. …”), and SFT copies that habit; DPO saw pairs preferring "
                       "the concise answer. Model cards: assets/pocket-lm-sft/README.md, assets/pocket-lm-dpo/README.md.")


def loss_and_prob_figure(losses: list[float], expected_probs: list[float]) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(x=list(range(1, len(losses) + 1)), y=losses, name="training loss", mode="lines+markers",
                    line=dict(width=3, color=OKABE_ITO["blue"]))
    fig.add_scatter(x=list(range(len(expected_probs))), y=expected_probs, name="P(expected first token)",
                    mode="lines+markers", line=dict(width=3, dash="dash", color=OKABE_ITO["vermillion"]),
                    marker=dict(symbol="square"), yaxis="y2")
    fig.update_xaxes(title="step", tickfont=dict(size=18), title_font=dict(size=18))
    fig.update_yaxes(tickfont=dict(size=18), title_font=dict(size=18))
    fig.update_layout(yaxis=dict(title="loss (nats)", rangemode="tozero"),
                      yaxis2=dict(title="P(expected)", overlaying="y", side="right", range=[0, 1], tickformat=".0%",
                                  tickvals=[0, 0.25, 0.5, 0.75, 1.0], showgrid=False, tickfont=dict(size=18),
                                  title_font=dict(size=18)),
                      legend=dict(orientation="h", y=1.15, font=dict(size=18)))
    return layout(fig, height=380)


def show_live(result: dict, chart_slot, dist_slot) -> None:
    show_chart(loss_and_prob_figure(result["losses"], result["expected"]), chart_slot.container(),
               key=f"ts_live_loss{result['step']}")
    with dist_slot.container():
        a, b = st.columns(2)
        show_chart(stage_chart(result["before"], result["before_rest"], result["best"], "Before fine-tuning"), a,
                   key=f"ts_live_a{result['step']}")
        after = f"After step {result['step']}"
        show_chart(stage_chart(result["after"], result["after_rest"], result["best"], after), b,
                   key=f"ts_live_b{result['step']}")


def live_finetune() -> None:
    """A button that runs about 30 SFT steps of the bundled model and draws them as they come."""
    probe = probe_example()
    st.markdown(f"Probe (held out): `{esc(probe.instruction)}` → expected “{esc(probe.answer)}”")
    clicked = st.button("▶ Fine-tune live (about 30 steps)", key="ts_live_go", type="primary")
    progress_slot, chart_slot, dist_slot = st.empty(), st.empty(), st.empty()
    if clicked:
        try:
            base_path, _ = hub.resolve("pocket-lm")
        except hub.ModelUnavailable as exc:
            st.error(str(exc))
            return
        if not live.LIVE_SLOT.acquire(blocking=False):
            st.warning("Another session is fine-tuning on this server right now. Try again in a minute.")
        else:
            try:
                result = None
                for step in live.live_sft(base_path, probe=probe):
                    d = step.probe
                    if result is None:
                        best = step.expected_ids[0] if step.expected_ids else None
                        result = dict(losses=[], expected=[], before=d.top_rows(8), before_rest=d.rest_mass(8), best=best)
                    if step.loss is not None:
                        result["losses"].append(step.loss)
                    result["expected"].append(step.expected_prob)
                    result.update(after=d.top_rows(8), after_rest=d.rest_mass(8), step=step.step, seconds=step.seconds)
                    progress_slot.progress(step.step / step.steps,
                                           text=f"Step {step.step}/{step.steps} · {step.seconds:.1f} s"
                                                + (f" · loss {step.loss:.2f}" if step.loss is not None else ""))
                    show_live(result, chart_slot, dist_slot)
                st.session_state.ts_live = result
            finally:
                live.LIVE_SLOT.release()
    if "ts_live" in st.session_state:
        result = st.session_state.ts_live
        first, last = result["expected"][0], result["expected"][-1]
        progress_slot.success(f"Done: {result['step']} steps in {result['seconds']:.1f} s. P(expected first token) "
                              f"{first:.1%} → {last:.1%}" + (f" (it started at {first:.1e})." if first < 1e-3 else "."))
        if not clicked:
            show_live(result, chart_slot, dist_slot)
