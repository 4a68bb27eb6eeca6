"""Plotly charts sized for a projector: large fonts, labels on the bars, no meaning carried by colour alone.

Each chart is written as one figure spec. Plotly's property validation costs several milliseconds per
chart on every widget move, so `figure` skips it; the unit tests validate every spec instead.
"""

from __future__ import annotations

import html
import math
import re
from typing import Sequence

import plotly.graph_objects as go

from components.html import esc, plotly_text
from lib.sampling.distribution import TokenRow

FONT = dict(size=20)
# Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/). Marks also carry a dark outline, a
# pattern or a symbol, so orange and sky blue (under 3:1 on white on their own) still stand out.
OKABE_ITO = {"blue": "#0072B2", "vermillion": "#D55E00", "bluish green": "#009E73", "reddish purple": "#CC79A7",
             "orange": "#E69F00", "sky blue": "#56B4E9", "yellow": "#F0E442", "black": "#000000"}
CATEGORICAL = tuple(OKABE_ITO[k] for k in ("blue", "vermillion", "bluish green", "reddish purple", "orange",
                                          "sky blue", "black"))
OUTLINE = "#1f2937"
BAR = OKABE_ITO["blue"]
HIGHLIGHT = OKABE_ITO["vermillion"]
REST = "#8a8f98"  # 3.2:1 on white, hatched
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
               marker=dict(color=colours, pattern=dict(shape=patterns), line=dict(color=OUTLINE, width=1)), hovertext=hover, hoverinfo="text",
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


# --- text alternatives: what a screen reader reads instead of the picture ------------------------------------------

TEXT_CSS = """<style>
.stElementContainer:has(.llmx-chart-text){position:absolute !important;width:1px;height:1px;overflow:hidden;
 clip-path:inset(50%);margin:0;padding:0}
.llmx-chart-text{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
</style>"""
TABLE_CELLS = 1200  # a heatmap bigger than this lists its first rows only
SUMMARY_POINTS = 5
TAGS = re.compile(r"<[^>]+>")


def _plain(text: object) -> str:
    """Plotly label text (escaped for Plotly, maybe with <br> or <b>) as plain text."""
    return html.unescape(TAGS.sub(" ", str(text))).strip() if text is not None else ""


def _number(v) -> str:
    return "" if v is None else f"{float(v):.6g}"


def _printed(text) -> str:
    """A point's printed label: text as a reader hears it, a number as Plotly prints it."""
    return _plain(text) if text is None or isinstance(text, str) else _number(text)


def _at(seq, i, default=None):
    try:
        return seq[i]
    except (IndexError, KeyError, TypeError):
        return default


def _seq(value) -> list:
    """A figure's array (a list, tuple or NumPy array) as a list; nothing as []."""
    return [] if value is None or isinstance(value, (str, dict)) else [_seq(v) if hasattr(v, "__len__") and
                                                                      not isinstance(v, str) else v for v in value]


def _points(trace: dict) -> list[tuple[str, str, str]]:
    """(category, value, printed label) for each point of a bar, scatter or treemap trace."""
    kind = trace.get("type") or "scatter"
    text = trace.get("text")
    if kind == "treemap":
        labels, values = _seq(trace.get("labels")), _seq(trace.get("values"))
        return [(_plain(l), _number(_at(values, i)), "") for i, l in enumerate(labels)]
    horizontal = trace.get("orientation") == "h"
    cats, vals = _seq(trace.get("y" if horizontal else "x")), _seq(trace.get("x" if horizontal else "y"))
    texts = [text] * len(vals) if isinstance(text, str) else _seq(text)
    return [(_printed(c), _number(v), _printed(_at(texts, i, ""))) for i, (c, v) in enumerate(zip(cats, vals))]


def _grid(trace: dict) -> tuple[list[str], list[str], list[list[str]], list[list[str]]]:
    """A heatmap's (column names, row names, values, printed labels)."""
    z = _seq(trace.get("z"))
    xs = [_printed(v) for v in _seq(trace.get("x")) or range(len(z[0]) if z else 0)]
    ys = [_printed(v) for v in _seq(trace.get("y")) or range(len(z))]
    text = _seq(trace.get("text")) or [[""] * len(row) for row in z]
    return xs, ys, [[_number(v) for v in row] for row in z], [[_printed(t) for t in row] for row in text]


FIELDS = ("type", "name", "orientation", "x", "y", "z", "text", "labels", "values")


def _traces(fig: go.Figure) -> list[dict]:
    """Each trace's fields as Python values (fig.to_dict() would encode NumPy arrays as base64)."""
    return [{f: getattr(trace, f, None) for f in FIELDS} for trace in fig.data]


def _title(fig: go.Figure) -> str:
    title = fig.layout.title
    return _plain(title.text if title and title.text else "")


def _listing(pairs: list[str]) -> str:
    more = len(pairs) - SUMMARY_POINTS
    return ", ".join(pairs[:SUMMARY_POINTS]) + (f", and {more} more" if more > 0 else "")


def chart_summary(fig: go.Figure) -> str:
    """One or two sentences: the title, then each series' first points as printed (or their values)."""
    title = _title(fig)
    parts: list[str] = []
    for trace in _traces(fig):
        name = _plain(trace.get("name") or "")
        if trace.get("type") == "heatmap":
            xs, ys, z, _ = _grid(trace)
            values = [float(v) for row in z for v in row if v]
            span = f"; values {min(values):.3g} to {max(values):.3g}" if values else ""
            parts.append(f"a grid of {len(ys)} rows by {len(xs)} columns{span}; the table lists every cell")
            continue
        points = _points(trace)
        if trace.get("type") == "treemap":
            points = sorted(points, key=lambda p: -float(p[1] or 0))
        pairs = [f"{c} {t or v}" for c, v, t in points if c or t or v]
        if pairs:
            parts.append((f"{name}: " if name else "") + _listing(pairs))
    body = ". ".join(parts)
    return (f"{title}: {body}" if title and body else title or body) + "."


def _table_rows(fig: go.Figure) -> tuple[list[str], list[list[str]]]:
    header = ["series", "row", "column", "value", "printed"]
    rows: list[list[str]] = []
    for trace in _traces(fig):
        name = _plain(trace.get("name") or "")
        if trace.get("type") == "heatmap":
            xs, ys, z, text = _grid(trace)
            keep = max(1, TABLE_CELLS // max(1, len(xs)))
            for y, zrow, trow in list(zip(ys, z, text))[:keep]:
                rows += [[name, y, x, v, _at(trow, j, "")] for j, (x, v) in enumerate(zip(xs, zrow))]
        else:
            rows += [[name, c, "", v, t] for c, v, t in _points(trace)]
    return header, rows


def chart_text_html(fig: go.Figure) -> str:
    """The chart as a visually hidden region: a summary and a table of every value it draws (screen readers only).
    Each row: series, row (category), column (heatmaps), value (the number drawn), printed (the label on the chart)."""
    header, rows = _table_rows(fig)
    head = "".join(f"<th scope='col'>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    summary = chart_summary(fig)
    return (f'{TEXT_CSS}<div class="llmx-chart-text" role="region" aria-label="Chart as text">'
            f'<p>{esc(summary)}</p><table><caption>Values drawn in the chart</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def show_chart(fig: go.Figure, where=None, **kwargs) -> None:
    """st.plotly_chart plus its text alternative, right after it in the same container (`where`, default st)."""
    import streamlit as st

    where = where or st
    kwargs.setdefault("width", "stretch")
    where.plotly_chart(fig, **kwargs)
    where.html(chart_text_html(fig))
