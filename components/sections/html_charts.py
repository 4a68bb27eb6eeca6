"""Charts drawn as plain HTML and SVG for the sampling page, where every knob move redraws them.

A Plotly figure costs about 5 ms per chart to build and serialise on the server; these strings cost
well under one. Sized for a projector; every value is printed, so nothing relies on colour alone;
every label is escaped.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from components.charts import BAR, HIGHLIGHT
from components.html import esc

CSS = """<style>
.llmx-pb{font-size:1.1rem;color:#111827}
.llmx-pb-legend{display:flex;gap:1.4rem;margin:.2rem 0 .5rem}
.llmx-pb-key{display:inline-block;width:1.6rem;height:.9rem;margin-right:.4rem;vertical-align:middle;border:1px solid #1f2937}
.llmx-pb-row{display:grid;grid-template-columns:minmax(7rem,14rem) 1fr;gap:.6rem;align-items:center;
 padding:.25rem 0;border-top:1px solid #e5e7eb}
.llmx-pb-label{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre;overflow:hidden;text-overflow:ellipsis}
.llmx-pb-line{display:flex;align-items:center;gap:.4rem;height:1.35rem}
.llmx-pb-bar{height:1.05rem;border:1px solid #1f2937;min-width:1px}
.llmx-pb-first{background:repeating-linear-gradient(45deg,#93c5fd 0 6px,#dbeafe 6px 10px)}
.llmx-pb-value{font-variant-numeric:tabular-nums;white-space:nowrap}
.llmx-pb-removed .llmx-pb-label{text-decoration:line-through;color:#6b7280}
</style>"""


def percent(p: float) -> str:
    return f"{p:.1%}"


def paired_bars(labels: Sequence[str], first: Sequence[float], second: Sequence[float], first_name: str,
                second_name: str, *, removed: Sequence[bool] = ()) -> str:
    """Two horizontal bars per label on one shared scale: `first` hatched and light, `second` solid.
    A removed row keeps its label (struck through) and says "removed" instead of a second bar."""
    removed = list(removed) or [False] * len(labels)
    top = max([*first, *second, 1e-12])
    rows = []
    for label, a, b, gone in zip(labels, first, second, removed):
        second_bar = ('<span class="llmx-pb-value">removed</span>' if gone else
                      f'<div class="llmx-pb-bar" style="width:{80 * b / top:.2f}%;background:{BAR}"></div>'
                      f'<span class="llmx-pb-value">{percent(b)}</span>')
        rows.append(
            f'<div class="llmx-pb-row{" llmx-pb-removed" if gone else ""}">'
            f'<div class="llmx-pb-label" title="{esc(label)}">{esc(label)}</div><div>'
            f'<div class="llmx-pb-line"><div class="llmx-pb-bar llmx-pb-first" style="width:{80 * a / top:.2f}%">'
            f'</div><span class="llmx-pb-value">{percent(a)}</span></div>'
            f'<div class="llmx-pb-line">{second_bar}</div></div></div>')
    legend = (f'<div class="llmx-pb-legend"><span><span class="llmx-pb-key llmx-pb-first"></span>{esc(first_name)}'
              f'</span><span><span class="llmx-pb-key" style="background:{BAR}"></span>{esc(second_name)}</span></div>')
    return f'{CSS}<div class="llmx-pb">{legend}{"".join(rows)}</div>'


def cumulative_svg(sorted_probs: Sequence[float], top_p: float | None, points: int = 200, kept: int | None = None) -> str:
    """Cumulative probability of the tokens ranked by probability, on a log rank axis, with the top-p line.

    `sorted_probs` is the distribution top-p sees (`lib.sampling.apply.top_p_view`), so the curve reaches p at the
    last token top-p keeps; `kept`, when given, marks that rank."""
    n = len(sorted_probs)
    width, height, left, right, top, bottom = 900, 420, 130, 24, 24, 84
    plot_w, plot_h = width - left - right, height - top - bottom
    last = max(n, 2)

    def x(rank):  # 1-based rank(s) -> SVG x
        return left + plot_w * np.log10(rank) / math.log10(last)

    def y(p):  # probability(ies) -> SVG y
        return top + plot_h * (1 - np.minimum(p, 1.05) / 1.05)

    line, said = "", []
    if n:
        cum = np.cumsum(np.asarray(sorted_probs, dtype=np.float64))
        said = [f"the top {k:,} hold {cum[k - 1]:.1%}" for k in (1, 10, 100, 1000) if k <= n]
        ranks = np.unique(np.concatenate([np.geomspace(1, last, points).round(), [n]]).clip(1, n).astype(int))
        line = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x(ranks).tolist(), y(cum[ranks - 1]).tolist()))
    if top_p is not None and kept:
        said.append(f"top-p {top_p:.2f} keeps {kept:,} tokens")
    summary = "Cumulative probability of the most likely tokens" + (": " + "; ".join(said) if said else "")
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" style="font-size:26px;max-width:{width}px"'
             f' aria-label="{summary}">']
    for p in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 8}" y="{y(p) + 6:.1f}" text-anchor="end">{p:.0%}</text>')
    decade = 1
    while decade <= last:
        parts.append(f'<line x1="{x(decade):.1f}" x2="{x(decade):.1f}" y1="{top}" y2="{top + plot_h}" stroke="#e5e7eb"/>'
                     f'<text x="{x(decade):.1f}" y="{top + plot_h + 32}" text-anchor="middle">{decade:,}</text>')
        decade *= 10
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 10}" text-anchor="middle">'
                 f'tokens, most likely first (log scale)</text>'
                 f'<text transform="translate(26 {top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 f'cumulative probability</text>')
    if line:
        parts.append(f'<polyline points="{line}" fill="none" stroke="{BAR}" stroke-width="4"/>')
    if top_p is not None:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(top_p):.1f}" y2="{y(top_p):.1f}" '
                     f'stroke="{HIGHLIGHT}" stroke-width="3" stroke-dasharray="10 6"/>'
                     f'<text x="{width - right - 4}" y="{y(top_p) - 8:.1f}" text-anchor="end" paint-order="stroke" '
                     f'stroke="white" stroke-width="6">top-p = {top_p:.2f}</text>')
        if kept and n:
            parts.append(f'<line class="llmx-kept" x1="{x(kept):.1f}" x2="{x(kept):.1f}" y1="{top}" y2="{top + plot_h}" '
                         f'stroke="{HIGHLIGHT}" stroke-width="3"/>'
                         f'<text x="{min(x(kept) + 8, width - right - 260):.1f}" y="{top + plot_h - 12}" paint-order="stroke" '
                         f'stroke="white" stroke-width="6">keeps {kept:,}</text>')
    parts.append("</svg>")
    return "".join(parts)
