"""Plotly charts sized for a projector: large fonts, labels on the bars, no meaning carried by colour alone.

Each chart is written as one figure spec and validated once by `go.Figure(spec)`: building it through
add_bar/update_* calls re-validates at every step and costs several times more on a knob move.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from lib.distribution import TokenRow

FONT = dict(size=20)
BAR = "#2563eb"
HIGHLIGHT = "#f59e0b"
REST = "#9ca3af"
MONO_TICKS = dict(size=20, family="monospace")
PERCENT_AXIS = dict(title=dict(text="probability", font=dict(size=20)), tickformat=".0%", rangemode="tozero",
                    tickfont=dict(size=18))
TOP_LEGEND = dict(orientation="h", y=1.02, yanchor="bottom", x=0)


def base_layout(height: int, **kwargs) -> dict:
    return dict(font=FONT, height=height, margin=dict(l=10, r=30, t=50, b=40), plot_bgcolor="white",
                hoverlabel=dict(font_size=18), **kwargs)


def layout(fig: go.Figure, height: int, **kwargs) -> go.Figure:
    """Projector styling for a figure built elsewhere."""
    fig.update_layout(**base_layout(height, **kwargs))
    fig.update_xaxes(tickfont_size=18, title_font_size=20)
    return fig


def distribution_chart(rows: Sequence[TokenRow], rest_mass: float, *, log_scale: bool = False,
                       highlight_rank: int | None = None, highlight_id: int | None = None, title: str = "",
                       rest_label: str = "everything else") -> go.Figure:
    """Horizontal bars, most likely on top. `rest_mass` becomes one hatched bar at the bottom.
    Highlight one bar by rank (works for API rows, whose ids are unknown) or by token id."""
    labels = [f"{r.rank}. {r.label}" for r in rows]
    values = [r.prob for r in rows]
    texts = [f"log p {r.logprob:.2f}" if log_scale else f"{r.prob:.1%}" for r in rows]
    marked = [r.rank == highlight_rank or (highlight_id is not None and r.id == highlight_id) for r in rows]
    colours = [HIGHLIGHT if m else BAR for m in marked]
    patterns = ["x" if m else "" for m in marked]
    hover = [f"id {r.id}<br>p = {r.prob:.4g}<br>log p = {r.logprob:.3f}" for r in rows]
    if rest_mass > 1e-12:
        labels.append(rest_label)
        values.append(rest_mass)
        texts.append(f"log p {math.log(rest_mass):.2f}" if log_scale else f"{rest_mass:.1%}")
        colours.append(REST)
        patterns.append("/")
        hover.append(f"all other tokens together<br>p = {rest_mass:.4g}")
    bar = dict(type="bar", x=values, y=labels, orientation="h", text=texts, textposition="outside",
               marker=dict(color=colours, pattern=dict(shape=patterns)), hovertext=hover, hoverinfo="text",
               cliponaxis=False)
    if log_scale:
        xaxis = dict(PERCENT_AXIS, type="log", tickformat=None, rangemode=None,
                     title=dict(text="probability, log axis (text: natural-log probability)", font=dict(size=20)))
        xaxis = {k: v for k, v in xaxis.items() if v is not None}
    else:
        xaxis = PERCENT_AXIS
    return go.Figure(dict(data=[bar], layout=base_layout(
        120 + 42 * len(labels), title=dict(text=title), showlegend=False, xaxis=xaxis,
        yaxis=dict(autorange="reversed", tickfont=MONO_TICKS))))


def reshaped_chart(labels: Sequence[str], before: Sequence[float], after: Sequence[float],
                   rest_before: float, rest_after: float) -> go.Figure:
    """Original vs reshaped probability per token; removed tokens stay visible at 0, greyed and hatched."""
    labels = list(labels) + ["everything else"]
    before = [float(p) for p in before] + [float(rest_before)]
    after = [float(p) for p in after] + [float(rest_after)]
    removed = [a == 0 for a in after]
    bars = [
        dict(type="bar", y=labels, x=before, orientation="h", name="model",
             marker=dict(color="#93c5fd", pattern=dict(shape="/")), text=[f"{p:.1%}" for p in before],
             textposition="outside", cliponaxis=False),
        dict(type="bar", y=labels, x=after, orientation="h", name="after knobs",
             marker=dict(color=["#d1d5db" if r else BAR for r in removed]),
             text=["removed" if r else f"{p:.1%}" for r, p in zip(removed, after)], textposition="outside",
             cliponaxis=False),
    ]
    return go.Figure(dict(data=bars, layout=base_layout(
        140 + 58 * len(labels), barmode="group", legend=TOP_LEGEND, xaxis=PERCENT_AXIS,
        yaxis=dict(autorange="reversed", tickfont=MONO_TICKS))))


def log_spaced_ranks(n: int, points: int = 200) -> np.ndarray:
    """0-based ranks spread evenly on a log axis: all of the first ones, then ever sparser, always the last."""
    return np.unique(np.concatenate([np.geomspace(1, n, points).astype(int) - 1, [n - 1]]))


def cumulative_chart(sorted_probs: Sequence[float], top_p: float | None) -> go.Figure:
    """Cumulative probability of the tokens ranked by probability, with the top-p line.
    On the log rank axis about 200 points draw the same curve as thousands."""
    cum = np.cumsum(np.asarray(sorted_probs, dtype=np.float64))
    ranks = log_spaced_ranks(len(cum))
    line = dict(type="scatter", x=(ranks + 1).tolist(), y=cum[ranks].tolist(), mode="lines+markers",
                name="cumulative", line=dict(width=4, color=BAR),
                hovertemplate="top %{x} tokens hold %{y:.1%}<extra></extra>")
    shapes, notes = [], []
    if top_p is not None:
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, y0=top_p, y1=top_p,
                           line=dict(dash="dash", width=3, color=HIGHLIGHT)))
        notes.append(dict(xref="paper", x=1, y=top_p, text=f"top-p = {top_p:.2f}", showarrow=False,
                          xanchor="right", yanchor="bottom", font=dict(size=20)))
    return go.Figure(dict(data=[line], layout=base_layout(
        420, showlegend=False, shapes=shapes, annotations=notes,
        xaxis=dict(title=dict(text="tokens, most likely first", font=dict(size=20)), type="log",
                   tickfont=dict(size=18)),
        yaxis=dict(title=dict(text="cumulative probability"), tickformat=".0%", range=[0, 1.05]))))


def histogram_chart(labels: Sequence[str], expected: Sequence[float], observed: Sequence[float], n: int) -> go.Figure:
    bars = [
        dict(type="bar", x=list(labels), y=[float(p) for p in expected], name="probability after knobs",
             marker=dict(color="#93c5fd", pattern=dict(shape="/"))),
        dict(type="bar", x=list(labels), y=[float(p) for p in observed], name=f"share of {n:,} draws",
             marker=dict(color=BAR)),
    ]
    return go.Figure(dict(data=bars, layout=base_layout(
        460, barmode="group", legend=TOP_LEGEND, yaxis=dict(title=dict(text="share"), tickformat=".0%"),
        xaxis=dict(tickfont=dict(size=18, family="monospace")))))
