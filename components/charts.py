"""Plotly charts sized for a projector: large fonts, labels on the bars, no meaning carried by colour alone.

Each chart is written as one figure spec. Plotly's property validation costs several milliseconds per
chart on every widget move, so `figure` skips it; the unit tests validate every spec instead.
"""

from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

from components.html import plotly_text
from lib.sampling.distribution import TokenRow

FONT = dict(size=20)
BAR = "#2563eb"
HIGHLIGHT = "#f59e0b"
REST = "#9ca3af"
MONO_TICKS = dict(size=20, family="monospace")
PERCENT_AXIS = dict(title=dict(text="probability", font=dict(size=20)), tickformat=".0%", rangemode="tozero",
                    tickfont=dict(size=18))


def figure(spec: dict) -> go.Figure:
    """A figure from a spec this module wrote (tests/unit/test_charts.py validates each kind)."""
    return go.Figure(spec, _validate=False)


def base_layout(height: int, **kwargs) -> dict:
    return dict(font=FONT, height=height, margin=dict(l=10, r=30, t=50, b=40), plot_bgcolor="white",
                hoverlabel=dict(font_size=18), **kwargs)


def layout(fig: go.Figure, height: int, **kwargs) -> go.Figure:
    """Projector styling for a figure built elsewhere."""
    fig.update_layout(**base_layout(height, **kwargs))
    fig.update_xaxes(tickfont_size=18, title_font_size=20)
    return fig


def percent(p: float) -> str:
    """A probability as a percentage with enough digits to tell small ones apart (0.0012%, not 0.0%)."""
    return f"{p:.1%}" if p >= 0.001 else f"{100 * p:.2g}%"


def distribution_chart(rows: Sequence[TokenRow], rest_mass: float, *, log_scale: bool = False,
                       highlight_rank: int | None = None, highlight_id: int | None = None, title: str = "",
                       rest_label: str = "everything else") -> go.Figure:
    """Horizontal bars, most likely on top. `rest_mass` becomes one hatched bar at the bottom.
    Highlight one bar by rank (works for API rows, whose ids are unknown) or by token id.
    The bar labels are always probabilities, like the axis (a log axis on the log scale); the hover adds ln p.
    Every text is escaped: Plotly reads <a href>, <b> and <br> in labels and titles, and tokens are user text."""
    labels = [plotly_text(f"{r.rank}. {r.label}") for r in rows]
    values = [r.prob for r in rows]
    texts = [percent(r.prob) for r in rows]
    marked = [r.rank == highlight_rank or (highlight_id is not None and r.id == highlight_id) for r in rows]
    colours = [HIGHLIGHT if m else BAR for m in marked]
    patterns = ["x" if m else "" for m in marked]
    hover = [f"id {r.id}<br>p = {r.prob:.4g}<br>ln p = {r.logprob:.3f}" for r in rows]
    if rest_mass > 1e-12:
        labels.append(plotly_text(rest_label))
        values.append(rest_mass)
        texts.append(percent(rest_mass))
        colours.append(REST)
        patterns.append("/")
        hover.append(f"all other tokens together<br>p = {rest_mass:.4g}<br>ln p = {math.log(rest_mass):.3f}")
    bar = dict(type="bar", x=values, y=labels, orientation="h", text=texts, textposition="outside",
               marker=dict(color=colours, pattern=dict(shape=patterns)), hovertext=hover, hoverinfo="text",
               cliponaxis=False)
    positive = [v for v in values if v > 0] or [1.0]
    if log_scale:  # room on the right for the printed label of the longest bar; Plotly log ranges are log10
        lo, hi = math.log10(min(positive)), math.log10(max(positive))
        decades = [10.0 ** k for k in range(math.floor(lo - 0.3), 1)]  # ticks only at 0.01%, 0.1%, …, 100%
        xaxis = dict(type="log", tickfont=dict(size=18), range=[lo - 0.3, hi + 0.25 * max(1.0, hi - lo) + 0.3],
                     tickvals=decades, ticktext=[f"{100 * d:g}%" for d in decades],
                     title=dict(text="probability (log scale)", font=dict(size=20)))
    else:
        xaxis = dict(PERCENT_AXIS, range=[0, max(positive) * 1.25])
    return figure(dict(data=[bar], layout=base_layout(
        120 + 42 * len(labels), title=dict(text=plotly_text(title)), showlegend=False, xaxis=xaxis,
        yaxis=dict(autorange="reversed", tickfont=MONO_TICKS, automargin=True))))
