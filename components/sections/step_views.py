"""The lecture's step views: each draws one step's figure with the components its page uses, at projector size.

A step names its view (lib.teaching.lecture.VIEWS) and the part that makes the point (`part`: the top rows, the
columns compared); its query parameters are the view's state. `RENDER` maps every view to its function; a step
naming any other view is an error the unit tests catch. The figure sits in the lecture page's figure box, which
fills the screen below the notes (height="stretch" charts grow with it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import streamlit as st

from components.charts import distribution_chart, show_chart
from components.generation_view import coloured_tokens
from components.html import esc, escape_markdown, error_line
from components.presentation import presenting
from components.loaders import distribution, generate, get_model_or_fallback
from components.sections import scale_charts, scale_views, stage_views
from components.sections import token_view as tv
from components.sections.html_charts import paired_bars
from components.state import from_query, to_query
from lib.models.catalog import DEFAULT_MODEL, Checkpoint, Family, entry_for
from lib.models.hub import ModelUnavailable
from lib.models.prompting import chat_prompt, prompt_tail
from lib.sampling.apply import apply_knobs
from lib.sampling.knobs import KNOBS, Knobs
from lib.scale import published as scale_catalog
from lib.teaching import lecture as L
from lib.teaching import presets, stages
from lib.tokens.loading import canonical
from lib.tokens.segmentation import Segmentation, parse_ids

BIG_CHIPS = 12  # a text of this many tokens or fewer gets chips big enough to read from the back
STRETCH = "lecture_stretch_"  # key prefix of a chart that grows with the figure box (lecture_view.FIT_CSS)
MODEL_VIEWS = {"next-token", "generation", "sampling", "stage-compare", "lens"}  # views that run a model
CONFIG = {"displaylogo": False, "displayModeBar": False}  # no toolbar over a projected chart


def _chart(fig, key: str, stretch: bool = True) -> None:
    """A Plotly figure with its text alternative: as tall as the figure box when presenting (`stretch`), else at
    its own height (a chart whose bars only get fatter when stretched)."""
    stretch = stretch and presenting()
    if stretch:
        fig.update_layout(height=None)
    show_chart(fig, height="stretch" if stretch else "content", key=f"{STRETCH}{key}" if stretch else key,
               config=CONFIG, theme=None)


def _model(params: dict[str, str]):
    """The step's model (or the bundled one, saying why), or None after saying nothing can be loaded."""
    try:
        model, note = get_model_or_fallback(params.get("model") or DEFAULT_MODEL)
    except ModelUnavailable as exc:
        st.error(error_line(exc))
        return None
    if note:
        st.caption(error_line(note, limit=300))
    return model


def _prompt(model, text: str, params: dict[str, str] | None = None):
    """The prompt exactly as the next-token page builds it: a chat model's template where the step's ?chat= says so,
    else where its catalog says so (a knowledge step continues an article as raw text: chat = "0")."""
    default = "1" if entry_for(model.name).chat else "0"
    as_chat = model.has_chat_template and (params or {}).get("chat", default) == "1"
    return chat_prompt(model, text, [], as_chat)


# -- next token, generation, sampling ------------------------------------------------------------------------


def next_token_view(step: L.Step, params: dict[str, str]) -> None:
    model = _model(params)
    if model is None:
        return
    prompt = _prompt(model, params["prompt"], params)
    dist = distribution(model, prompt)
    top = int(step.part_value("top", params.get("n", 10)))
    # The title names the model that drew it and stays short enough for a phone (the step's title quotes the prompt)
    _chart(distribution_chart(dist.top_rows(top), dist.rest_mass(top), title=f"{model.name}: next token"),
           f"lecture_chart_{step.id}")


def generation_view(step: L.Step, params: dict[str, str]) -> None:
    """One greedy continuation and one sampled continuation per seed in part.seeds, each token shaded by its chance."""
    model = _model(params)
    if model is None:
        return
    prompt = _prompt(model, params["prompt"], params)
    n = int(step.part_value("tokens", params.get("tokens", 30)))
    temperature = float(params.get("temperature", 1.0))
    tail = prompt_tail(model, prompt, [])[-40:]
    rows = [("Greedy (always the top token)", None, 0)]
    rows += [(f"Sampled, temperature {temperature:g}, seed {seed}", Knobs(temperature=temperature), int(seed))
             for seed in step.part_value("seeds", (params.get("seed", 1),))]
    st.markdown(f"{model.name} continues “…{escape_markdown(tail)}”, {n} tokens. Shading: green = likely, red = unlikely "
                "(dashed underline under 10%).")
    for label, knobs, seed in rows:
        st.markdown(f"**{label}**")
        st.html(coloured_tokens(generate(model, prompt, n, knobs, seed), ""))


def _knob_slider(step: L.Step, name: str, params: dict[str, str]) -> float:
    """A knob's slider, starting at the step's value (or a link's ?name=); a moved knob is kept in the link."""
    row = next(r for r in KNOBS if r.name == name)
    lo, hi, stride, _, label = row.slider
    cast = type(row.off)
    start = cast(params.get(name, row.off))
    from_query(f"lecture_{step.id}_{name}", name, start, cast, lo, hi)
    value = st.slider(label or row.label, lo, hi, step=stride, key=f"lecture_{step.id}_{name}")
    to_query(**{name: value if value != start else None})
    return value


def knobs_off_the_link() -> None:
    """Knob values in the link belong to the step that set them: a step change takes them out."""
    to_query(**{row.name: None for row in KNOBS})


def sampling_view(step: L.Step, params: dict[str, str]) -> None:
    """The same stored distribution before and after the knobs; part.knobs are sliders, the rest stay as set."""
    model = _model(params)
    if model is None:
        return
    prompt = model.encode(params["prompt"])  # as the sampling page does
    dist = distribution(model, prompt)
    shown = step.part_value("knobs", ())
    controls, bars = st.columns([1, 3])
    with controls:
        values = {name: _knob_slider(step, name, params) for name in shown}
        st.caption(f"{model.name}. A slider move reshapes the stored scores; the model does not run again.")
    fixed = {r.name: type(r.off)(params[r.name]) for r in KNOBS if r.name in params and r.name not in values}
    knobs = Knobs(**fixed, **values)
    result = apply_knobs(dist.scores if dist.complete else dist.logprobs, knobs, prompt.ids)
    top = int(step.part_value("top", 8))
    order = dist.order(top)
    labels = [row.label for row in dist.top_rows(top)]
    before = [*dist.probs[order], max(0.0, 1.0 - dist.probs[order].sum())]
    after = [*result.probs[order], max(0.0, result.probs.sum() - result.probs[order].sum())]
    with bars:
        st.html(paired_bars([*labels, "everything else"], before, after, "model", "after knobs",
                            removed=[*~result.kept[order], result.kept.sum() == result.kept[order].sum()]))


# -- tokens --------------------------------------------------------------------------------------------------


def _chips(seg: Segmentation) -> None:
    """The token chips; a short text's chips are big enough to read from the back of the room."""
    with st.container(key="lecture_big_chips" if seg.n_tokens <= BIG_CHIPS else None):
        tv.render_tokens(seg, legend=False)


def _counts_line(seg: Segmentation, name: str) -> None:
    st.markdown(f"**{seg.n_tokens:,} tokens**, {seg.counts.characters:,} characters · {tv.name(name)}")


def tokens_view(step: L.Step, params: dict[str, str]) -> None:
    name = canonical(params.get("single") or params["tokenizers"].split(",")[0])
    seg = tv.segmentation(name, params["text"])
    if seg is not None:
        _counts_line(seg, name)
        _chips(seg)


def decode_view(step: L.Step, params: dict[str, str]) -> None:
    name = canonical(params["decode_with"])
    try:
        ids = parse_ids(params["ids"])
    except ValueError as exc:
        st.error(error_line(exc))
        return
    seg = tv.decoded(name, tuple(ids))
    if seg is not None:
        st.markdown(f"**{', '.join(map(str, ids))}** → {tv.name(name)} →")
        st.code(seg.text, language=None, wrap_lines=True)
        _chips(seg)


def chat_format_view(step: L.Step, params: dict[str, str]) -> None:
    source = params.get("chat") or tv.chat_sources()[0][0]
    turns = [(role, params[key]) for role, key in (("system", "system"), ("user", "user"), ("assistant", "assistant"))
             if params.get(key, "").strip()]
    result = tv.chat(source, turns, True)
    if result is not None:
        seg = result.segmentation
        specials = sum(s.special for s in seg.segments)
        st.markdown(f"**One sequence of {seg.n_tokens:,} tokens**, {specials} of them special (dark chips) · "
                    f"{escape_markdown(source)}")
        tv.render_tokens(seg, legend=False)


# -- training stages -----------------------------------------------------------------------------------------


def _data_example(step: L.Step, params: dict[str, str], stage_key: str) -> tuple[str, str]:
    """The data that makes this stage's point, and where it comes from: the step's preference pair, else the
    step's own prompt and answer as one instruction example, else plain text for pretraining."""
    if step.example == "preference":
        pair = presets.PREFERENCE_PAIR
        return (f'<div class="ts-data">PROMPT: {esc(pair["prompt"])}</div>'
                f'<div style="display:flex;gap:.5rem"><div class="ts-data" style="flex:1">✔ CHOSEN\n{esc(pair["chosen"])}'
                f'</div><div class="ts-data" style="flex:1">✘ REJECTED\n{esc(pair["rejected"])}</div></div>',
                "A preference pair written for this app to show the shape of the data.")
    if params.get("prompt"):
        return (f'<div class="ts-data">USER: {esc(params["prompt"])}\nASSISTANT: {esc(params.get("expected", ""))}</div>',
                "An instruction and its answer, as the step quotes it.")
    if stage_key == "pretrain":
        return (f'<div class="ts-data">{esc(stages.PRETRAIN_SNIPPET)}</div>',
                "Jane Austen, *Pride and Prejudice* (1813), one of pocket-lm's 11 novels.")
    return "", ""


def stage_story_view(step: L.Step, params: dict[str, str]) -> None:
    """The pipeline (ULMFiT's names over today's) with the step's stage marked, then a sample of its data."""
    stage_key = params.get("stage", "sft")
    story = next(s for s in stages.STORY if s.key == stage_key)
    st.html(stage_views.BOX_CSS + stage_views.story_row("ULMFiT (2018)", [s.ulmfit for s in stages.STORY], stage_key)
            + stage_views.story_row("Today", [s.name for s in stages.STORY], stage_key))
    st.markdown(f"**{story.name}.** {story.objective}")
    example, source = _data_example(step, params, stage_key)
    if example:
        st.html(stage_views.BOX_CSS + example)
        st.caption(source)


def _columns(step: L.Step, family: Family) -> list[Checkpoint]:
    """part.stages names the checkpoints compared (in the family's order), at most part.columns of them."""
    wanted = step.part_value("stages", ())
    picked = [ck for ck in family.checkpoints if not wanted or ck.stage in wanted]
    if len(picked) < 2:
        picked = list(family.checkpoints)
    return picked[: int(step.part_value("columns", 3))]


def answer_html(generation) -> str:
    """The answer as text; the end-of-text token it stopped on is a marker, not its raw name (`<|im_end|>`)."""
    end = ' <span class="ts-end" title="The model chose its end-of-text token here.">■ end</span>'
    return (esc(generation.answer.strip()) or "(nothing)") + (end if generation.ended else "")


def stage_compare_view(step: L.Step, params: dict[str, str]) -> None:
    """The compared checkpoints' greedy answers to one prompt, side by side, each as its model sees the prompt."""
    family = stages.FAMILIES.get(params.get("family", ""), stages.FAMILIES[stages.DEFAULT_FAMILY])
    columns = _columns(step, family)
    models, blocked = stage_views.load_checkpoints(family)
    if blocked:
        st.info(blocked)
        return
    by_id = {ck.model_id: m for ck, m in zip(family.checkpoints, models)}
    n = int(params.get("tokens", 24))
    st.markdown(f"**{escape_markdown(params['prompt'])}** · greedy answers, {n} tokens at most")
    for col, ck in zip(st.columns(len(columns)), columns):
        model = by_id[ck.model_id]
        with col:
            st.markdown(f"**{ck.label}** · `{ck.model_id}`")
            if isinstance(model, str):
                st.warning(error_line(model))
                continue
            prompt = stages.format_prompt(model, params["prompt"], ck.chat).prompt
            st.html(stage_views.BOX_CSS + f'<div class="ts-data">{answer_html(generate(model, prompt, n, None, 0))}</div>')


# -- scale, inside -------------------------------------------------------------------------------------------


def scale_view(step: L.Step, params: dict[str, str]) -> None:
    picked, _ = scale_catalog.parse_selection(params.get("models"))
    index = scale_catalog.by_key()
    fig = scale_charts.params_bar([index[k] for k in picked]).update_traces(textangle=0)  # thick bars: labels upright
    _chart(fig, f"lecture_chart_{step.id}")


def bigger_not_better_view(step: L.Step, params: dict[str, str]) -> None:
    scale_views.bigger_is_not_better_table(scale_catalog.by_key())


def lens_view(step: L.Step, params: dict[str, str]) -> None:
    """The logit lens over the prompt's last part.positions tokens (the whole prompt runs through the model)."""
    from components.sections import inside_views

    model = _model(params)
    if model is None or not model.can_look_inside:
        st.info("The logit lens needs a local model.")
        return
    ids = model.encode(params["prompt"]).ids[-inside_views.MAX_TOKENS:]
    data = inside_views.inside(model, tuple(ids))
    last = -int(step.part_value("positions", 8))  # the lens of the whole prompt, its last positions shown
    shown = replace(data, ids=data.ids[last:], top_ids=data.top_ids[:, last:], top_probs=data.top_probs[:, last:])
    _chart(inside_views.lens_chart(model, shown), f"lecture_chart_{step.id}")


RENDER: dict[str, Callable[[L.Step, dict[str, str]], None]] = {
    "next-token": next_token_view, "generation": generation_view, "sampling": sampling_view,
    "tokens": tokens_view, "decode": decode_view, "chat-format": chat_format_view,
    "stage-story": stage_story_view, "stage-compare": stage_compare_view,
    "scale": scale_view, "bigger-not-better": bigger_not_better_view, "lens": lens_view,
}


def render(step: L.Step, params: dict[str, str]) -> None:
    """The step's figure; a view this module does not know is said plainly (and fails the unit tests)."""
    draw = RENDER.get(step.view)
    if draw is None:
        st.error(f"This step names a view that the lecture cannot draw ({escape_markdown(step.view or 'none')}); "
                 "use the link above to open its page.")
        return
    draw(step, params)
