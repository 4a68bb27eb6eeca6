"""Views for the "Inside the model" page: the cached look inside, the logit-lens grid, attention maps."""

from __future__ import annotations

import codecs
import html
import math

import numpy as np
import streamlit as st

from components.charts import OKABE_ITO, base_layout, figure, percent, show_chart
from components.guard import guarded_callback, guarded_fragment
from components.loaders import get_model
from components.state import from_query, to_query
from lib.text import show_whitespace
from lib.models.inside import HEAD_PATTERNS, Inside, head_scores_table, top_heads

MAX_TOKENS = 128           # attention maps are T x T per head: keep the page light
CELL_TEXT_MAX_TOKENS = 24  # print percentages inside attention cells only when they fit
LENS_SCALE = [[0, "#ffffff"], [1, "#60a5fa"]]
ATTENTION_SCALE = [[0, "#ffffff"], [1, "#7c3aed"]]
VIEWS = {"lens": "Logit lens: what each layer would predict", "attention": "Attention: where each token looks"}
GRIDS = {"positions": "Positions down", "layers": "Layers down (phones)"}
PHONE_POSITIONS = 5        # "layers down" shows the last few positions across, so it fits a 390-px screen
TOP_AXIS_MARGIN = 130      # px above a heatmap whose x axis (and its title) sits on top, under the chart's title
EMB = "input (emb)"        # the lens's first layer: the token's own embedding, before any layer ran
CONTROL_NAMES = {0x7F: "␡"}
PATTERN_KEYS = {"previous": "previous token", "first": "first token", "self": "itself"}


@st.cache_resource(max_entries=16, show_spinner="Looking inside the model…")  # attentions: up to L*H*128*128 floats each
def _cached_inside(model_id: str, ids: tuple[int, ...]) -> Inside:
    return get_model(model_id).look_inside(ids)


def inside(model, ids: tuple[int, ...]) -> Inside:
    """Lens + attention, computed once per (model, prompt ids) for every session."""
    return _cached_inside(model.cache_key, ids)


def short(label: str, n: int = 10) -> str:
    """Cut to n characters, then escape: Plotly reads <b>, <a href>, <br> … in chart text as markup."""
    return html.escape(label if len(label) <= n else label[: n - 1] + "…", quote=False)


def position_labels(tokens: list[str]) -> list[str]:
    """Unique axis labels (Plotly merges equal category names): position number plus token."""
    return [f"{i}·{short(t, 12)}" for i, t in enumerate(tokens)]


def readable(raw: bytes) -> tuple[str, str]:
    """(what a cell shows, what its hover adds) for a token's bytes. A control character is shown as its Unicode
    picture (U+0016 as ␖); bytes that are only part of a character as hex with "…" on the side that is missing
    ("E2…" starts a 3-byte character such as ’ or —), never as <E2>."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lead = len(raw) - len(raw.lstrip(bytes(range(0x80, 0xC0))))  # continuation bytes: the end of an earlier character
    try:
        text = decoder.decode(raw[lead:])
    except UnicodeDecodeError:
        return "…" + raw.hex(" ").upper(), f"bytes {raw.hex(' ').upper()}: not a whole UTF-8 character"
    tail = decoder.getstate()[0]
    shown = "".join(chr(0x2400 + ord(c)) if ord(c) < 0x20 else CONTROL_NAMES.get(ord(c), c)
                    for c in show_whitespace(text))
    notes = [f"U+{ord(c):04X} is an invisible control character" for c in text if ord(c) < 0x20 and c not in "\n\t"]
    if lead:
        shown = "…" + raw[:lead].hex(" ").upper() + " " + shown
        notes.append(f"bytes {raw[:lead].hex(' ').upper()} end a character begun in the token before")
    if tail:
        shown += " " + tail.hex(" ").upper() + "…"
        notes.append(f"bytes {tail.hex(' ').upper()} start a character that the next token completes"
                     + (" (E2 starts ’, “, — and other punctuation)" if tail[:1] == b"\xe2" else ""))
    return shown.strip() or "∅", "; ".join(notes)


def token_cells(model, ids) -> tuple[list[str], list[str]]:
    """Readable labels and hover notes for token ids, through the model's own bytes."""
    rows = [model.token_row(int(i)) for i in ids]
    pairs = [readable(r.raw) if r is not None and r.raw else (label, "")
             for r, label in zip(rows, model.token_labels(ids))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def lens_chart(model, data: Inside, layers_down: bool = False):
    """The logit-lens grid: the top next token at each (position, layer), its probability printed in the cell.
    layers_down: layers as rows and only the last PHONE_POSITIONS positions as columns (fits a phone)."""
    tokens = position_labels(model.token_labels(data.ids))
    n_rows, n_pos = data.top_ids.shape  # (L+1, T)
    first = max(0, n_pos - PHONE_POSITIONS) if layers_down else 0
    layer_names = [EMB] + [f"L{i}" for i in range(1, n_rows)]
    probs = data.top_probs.T[first:]  # (T', L+1)
    cells = [token_cells(model, row) for row in data.top_ids.T[first:]]
    text = [[f"{short(tok, 8)}<br>{p:.0%}" for tok, p in zip(shown, prow)] for (shown, _), prow in zip(cells, probs)]
    hover = [[f"after “{tokens[first + k]}”, {layer_names[layer]}: “{short(shown[layer], 40)}” p = {probs[k, layer]:.3f}"
              + (f"<br>{html.escape(notes[layer], quote=False)}" if notes[layer] else "") for layer in range(n_rows)]
             for k, (shown, notes) in enumerate(cells)]
    x, y, z = layer_names, tokens[first:], probs.tolist()
    if layers_down:
        x, y, z, text, hover = y, x, probs.T.tolist(), _t(text), _t(hover)
    heat = dict(type="heatmap", z=z, x=x, y=y, text=text, texttemplate="%{text}",
                textfont=dict(size=14, family="monospace"), hovertext=hover, hoverinfo="text", colorscale=LENS_SCALE,
                zmin=0, zmax=1, xgap=1, ygap=1, showscale=not layers_down,
                colorbar=dict(title=dict(text="p"), tickformat=".0%"))
    layer_axis = dict(title=dict(text="layer (input = the token's embedding, before any layer)"), tickfont=dict(size=16))
    position_axis = dict(title=dict(text="input token (position)"), tickfont=dict(size=16, family="monospace"))
    xaxis, yaxis = (position_axis, layer_axis) if layers_down else (layer_axis, position_axis)
    fig = figure(dict(data=[heat], layout=base_layout(
        60 + TOP_AXIS_MARGIN + 44 * len(y), title=dict(text="Top next token if the model stopped at each layer"),
        xaxis=dict(xaxis, side="top"), yaxis=dict(yaxis, autorange="reversed"))))
    return fig.update_layout(margin_t=TOP_AXIS_MARGIN)  # room for the title above the top axis and its name


def power(p: float) -> str:
    """10⁻⁷ for 1e-7: a tick label that stays short."""
    return "10" + str(round(math.log10(p))).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def on_a_phone() -> bool:
    """A phone's browser says "Mobi" in its user agent; it gets the lens grid that fits a narrow screen."""
    try:
        return "Mobi" in (st.context.headers.get("User-Agent") or "")
    except Exception:  # noqa: BLE001 - no request (AppTest): not a phone
        return False


def _t(rows: list[list]) -> list[list]:
    return [list(col) for col in zip(*rows)]


def final_line_chart(model, data: Inside):
    """The final prediction's probability (log axis, so small early values still show their change) and rank."""
    final = short(model.token_labels([data.final_id])[0], 40)
    layers = [EMB] + [f"L{i}" for i in range(1, len(data.final_ranks))]
    ticks = [10**k for k in range(len(str(int(data.final_ranks.max()))))]  # 1, 10, ... up to the worst rank
    probs = np.clip(data.final_probs, 1e-9, 1.0)
    lo, hi = math.log10(float(probs.min())), math.log10(float(probs.max()))
    decades = [10.0**k for k in range(math.floor(lo), 1)]
    prob = dict(type="scatter", x=layers, y=probs.tolist(), name="probability (left axis)", mode="lines+markers+text",
                text=[percent(p) for p in probs], textposition="top center",
                line=dict(color=OKABE_ITO["blue"], width=3), marker=dict(size=10, symbol="circle"))
    rank = dict(type="scatter", x=layers, y=data.final_ranks.tolist(), name="rank (right axis, 1 = top)",
                yaxis="y2", mode="lines+markers", line=dict(color=OKABE_ITO["vermillion"], width=3, dash="dash"),
                marker=dict(size=12, symbol="diamond"))
    return figure(dict(data=[prob, rank], layout=base_layout(
        420, title=dict(text=f"The final prediction “{final}” layer by layer"),
        legend=dict(orientation="h", y=-0.2), xaxis=dict(tickfont=dict(size=16)),
        yaxis=dict(title=dict(text="probability (log scale)"), type="log", tickvals=decades,
                   ticktext=[percent(d) if d >= 1e-3 else power(d) for d in decades], range=[lo - 0.3, hi + 0.35]),
        yaxis2=dict(title=dict(text="rank (log scale, 1 at the top)"), type="log", overlaying="y", side="right",
                    showgrid=False, tickvals=ticks, ticktext=[f"{v:,}" for v in ticks],
                    range=[math.log10(max(ticks) * 2), -0.15]))))


def attention_chart(model, data: Inside, layer: int, head: int):
    """layer, head: 0-based."""
    tokens = position_labels(model.token_labels(data.ids))
    a = data.attentions[layer, head]  # (T, T) query x key
    t = len(tokens)
    heat = dict(type="heatmap", z=a.tolist(), x=tokens, y=tokens, colorscale=ATTENTION_SCALE, zmin=0, zmax=1,
                xgap=1, ygap=1, hovertemplate="%{y} looks at %{x}: %{z:.1%}<extra></extra>",
                colorbar=dict(title=dict(text="weight"), tickformat=".0%"))
    if t <= CELL_TEXT_MAX_TOKENS:
        heat.update(text=[[f"{v:.0%}" if v >= 0.005 else "" for v in row] for row in a], texttemplate="%{text}",
                    textfont=dict(size=13))
    size = max(420, min(1100, 160 + 34 * t))
    return figure(dict(data=[heat], layout=base_layout(
        size, title=dict(text=f"Layer {layer + 1}, head {head + 1}: each row is a token, looking back at earlier ones"),
        xaxis=dict(title=dict(text="looks at (key)"), tickangle=-60, tickfont=dict(size=14, family="monospace")),
        yaxis=dict(title=dict(text="token (query)"), autorange="reversed", tickfont=dict(size=14, family="monospace")))))


def head_finder_chart(scores: np.ndarray, pattern: str):
    n_layers, n_heads = scores.shape
    heat = dict(type="heatmap", z=scores.tolist(), x=[f"H{h + 1}" for h in range(n_heads)],
                y=[f"L{i + 1}" for i in range(n_layers)], text=[[f"{v:.0%}" for v in row] for row in scores],
                texttemplate="%{text}", textfont=dict(size=14), colorscale=ATTENTION_SCALE, zmin=0, zmax=1,
                xgap=1, ygap=1, hovertemplate="%{y} %{x}: %{z:.1%}<extra></extra>", showscale=False)
    return figure(dict(data=[heat], layout=base_layout(
        50 + TOP_AXIS_MARGIN + 36 * n_layers, title=dict(text=f"Mean attention to the {pattern}, per head"),
        xaxis=dict(side="top", tickfont=dict(size=16)), yaxis=dict(autorange="reversed", tickfont=dict(size=16))))
    ).update_layout(margin_t=TOP_AXIS_MARGIN - 40)


def lens_view(model, data: Inside) -> None:
    st.caption("Each layer's hidden state goes through the model's final norm and output head, as if the model "
               "stopped there. Each cell: the top next token after that input token, and its probability. "
               "The last layer is what the model really predicts.")
    show_chart(final_line_chart(model, data), key="ins_final_chart")
    from_query("ins_grid", "grid", "layers" if on_a_phone() else "positions",
               lambda v: v if v in GRIDS else "positions")
    grid = st.segmented_control("Grid", list(GRIDS), key="ins_grid", format_func=GRIDS.get) or "positions"
    to_query(grid=None if grid == "positions" else grid)
    show_chart(lens_chart(model, data, layers_down=grid == "layers"), key="ins_lens_chart")
    st.caption(f"**{EMB}** is the token's own embedding before any layer has run: read through the output head it "
               "mostly predicts the input token itself (or a near twin), which is why that layer echoes the "
               "prompt. The layers after it move towards a real guess. Tokens that are only part of a character show "
               "their bytes: **E2…** starts a character such as ’ or — that the next token completes, **…99** ends one; "
               "a control character shows as its symbol (␖ is U+0016). Hover a cell for the bytes."
               + (f" Layers down shows the last {PHONE_POSITIONS} positions." if grid == "layers" else ""))


@guarded_callback
def _jump(layer: int, head: int) -> None:
    st.session_state.ins_layer, st.session_state.ins_head = layer + 1, head + 1


def attention_view(model, data: Inside) -> None:
    n_layers, n_heads = data.n_layers, data.n_heads
    from_query("ins_layer", "layer", 1, int, 1, n_layers)
    from_query("ins_head", "head", 1, int, 1, n_heads)
    from_query("ins_pattern", "pattern", "previous", lambda v: v if v in PATTERN_KEYS else "previous")
    st.session_state.ins_layer = min(max(1, st.session_state.ins_layer), n_layers)  # a smaller model was picked
    st.session_state.ins_head = min(max(1, st.session_state.ins_head), n_heads)
    c1, c2 = st.columns(2)
    layer = c1.slider("Layer", 1, n_layers, key="ins_layer") if n_layers > 1 else 1
    head = c2.slider("Head", 1, n_heads, key="ins_head") if n_heads > 1 else 1
    show_chart(attention_chart(model, data, layer - 1, head - 1), key="ins_attention_chart")

    st.subheader("Find heads with a habit")
    pattern_key = st.segmented_control("Heads that attend to…", list(PATTERN_KEYS), key="ins_pattern",
                                       format_func=lambda k: PATTERN_KEYS[k]) or "previous"
    pattern = PATTERN_KEYS[pattern_key]
    st.caption(f"Score: the mean {HEAD_PATTERNS[pattern]}, over every token after the first.")
    best = top_heads(data.attentions, pattern, n=min(3, n_layers * n_heads))
    cols = st.columns(len(best))
    for col, (li, hi, score) in zip(cols, best):
        col.button(f"Layer {li + 1}, head {hi + 1}: {score:.0%}", key=f"ins_jump_{li}_{hi}", on_click=_jump,
                   args=(li, hi), width="stretch")
    show_chart(head_finder_chart(head_scores_table(data.attentions, pattern), pattern),
                    key="ins_heads_chart")
    to_query(layer=layer, head=head, pattern=pattern_key)


@guarded_fragment
def inside_panel(model, data: Inside) -> None:
    """Switching view, layer or head reruns only this fragment, never the model."""
    from_query("ins_view", "view", "lens", lambda v: v if v in VIEWS else "lens")
    view = st.segmented_control("View", list(VIEWS), key="ins_view", format_func=VIEWS.get) or "lens"
    to_query(view=view)
    if view == "lens":
        lens_view(model, data)
    else:
        attention_view(model, data)
