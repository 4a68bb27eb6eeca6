"""Plotly figures for the model-scale page: big fonts for a projector, and patterns or text as well as colour."""

from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

from lib.scale import maths as scale
from lib.scale import published as scale_catalog

FONT = 20
TICK = 18
# Okabe & Ito's colour-blind-safe colours (components.charts.OKABE_ITO), each with its own pattern or symbol too.
KIND_STYLE = {  # colour, bar pattern, marker symbol
    "encoder": ("#0072B2", "/", "square"),
    "decoder": ("#D55E00", "", "circle"),
    "encoder-decoder": ("#009E73", "x", "diamond"),
}
CATEGORY_STYLE = {  # light enough for dark text inside the bars
    "Embeddings": ("#56B4E9", ""), "Attention": ("#E69F00", "/"), "MLP": ("#7fd1b9", "x"),
    "Norms": ("#CC79A7", "."), "Output head": ("#F0E442", "\\"), "Pooler": ("#d1d5db", "-"),
}
PRECISION_STYLE = {"fp32": ("#1e3a8a", ""), "bf16": ("#2563eb", "/"), "int8": ("#60a5fa", "."), "int4": ("#bfdbfe", "x")}
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(x: float) -> str:
    """3.1×10²³"""
    exp = int(math.floor(math.log10(x)))
    return f"{x / 10 ** exp:.1f}×10{str(exp).translate(SUPERSCRIPT)}"


def power_of_ten(x: float) -> str:
    return "10" + str(round(math.log10(x))).translate(SUPERSCRIPT)


def _log_ticks(lo: float, hi: float, fmt=scale.human) -> dict:
    first, last = int(math.floor(math.log10(lo))), int(math.ceil(math.log10(hi)))
    vals = [10.0 ** e for e in range(first, last + 1)]
    return dict(type="log", tickvals=vals, ticktext=[fmt(v) for v in vals], range=[first - 0.05, last + 0.35])


def _layout(fig: go.Figure, title: str, height: int, **extra) -> go.Figure:
    fig.update_layout(template="plotly_white", height=height,
                      title=dict(text=title, font=dict(size=FONT + 4), yref="container", y=1, yanchor="top",
                                 pad=dict(t=12)),
                      # the legend sits above the plot, where a phone's narrow chart has room for it to wrap (below,
                      # it overlapped the axis title at 390 px)
                      font=dict(size=FONT), legend=dict(font=dict(size=TICK), orientation="h", y=1.0, yanchor="bottom",
                                                        x=0),
                      margin=dict(l=10, r=30, t=110, b=70), hoverlabel=dict(font_size=TICK), **extra)
    fig.update_xaxes(tickfont=dict(size=TICK), title_font=dict(size=FONT))
    fig.update_yaxes(tickfont=dict(size=TICK), title_font=dict(size=FONT))
    return fig


def params_bar(models: Sequence[scale_catalog.Model]) -> go.Figure:
    """Counted parameters per model, on a log axis, one trace (and pattern) per architecture type."""
    ordered = sorted(models, key=lambda m: m.counted)
    fig = go.Figure()
    for kind, (colour, pattern, _) in KIND_STYLE.items():
        ms = [m for m in ordered if m.kind == kind]
        if ms:
            fig.add_bar(y=[m.name for m in ms], x=[m.counted for m in ms], orientation="h", name=kind,
                        marker=dict(color=colour, pattern=dict(shape=pattern, fgcolor="white", size=10),
                                    line=dict(color="#111827", width=1)),
                        text=[scale.human(m.counted) for m in ms], textposition="auto", textfont=dict(size=TICK),
                        customdata=[[f"{m.counted:,}", m.published_label, m.year] for m in ms],
                        hovertemplate="<b>%{y}</b><br>counted %{customdata[0]}<br>published %{customdata[1]}"
                                      "<br>%{customdata[2]}<extra>" + kind + "</extra>")
    lo, hi = min(m.counted for m in ordered), max(m.counted for m in ordered)
    fig.update_yaxes(categoryorder="array", categoryarray=[m.name for m in ordered])
    return _layout(fig, "Parameters by model (log scale: each gridline is 10×)", 160 + 46 * len(ordered),
                   xaxis=dict(title="parameters (counted)", **_log_ticks(lo, hi)), barmode="overlay")


def params_by_year(models: Sequence[scale_catalog.Model]) -> go.Figure:
    fig = go.Figure()
    by_year: dict[int, list[scale_catalog.Model]] = {}
    for m in sorted(models, key=lambda m: m.counted):
        by_year.setdefault(m.year, []).append(m)
    offsets, sides = {}, {}
    middle = (min(by_year) + max(by_year)) / 2 if by_year else 0
    for ms in by_year.values():  # spread same-year models sideways
        for i, m in enumerate(ms):
            offsets[m.key] = (i - (len(ms) - 1) / 2) * min(0.18, 0.7 / max(len(ms), 1))
            sides[m.key] = "middle right" if m.year <= middle else "middle left"  # labels stay inside the chart
            if i and abs(math.log10(m.counted / ms[i - 1].counted)) < 0.35:  # near-equal sizes: one above, one below
                sides[ms[i - 1].key], sides[m.key] = "bottom center", "top center"
    for kind, (colour, _, symbol) in KIND_STYLE.items():
        ms = [m for m in models if m.kind == kind]
        if ms:
            fig.add_scatter(x=[m.year + offsets[m.key] for m in ms], y=[m.counted for m in ms], mode="markers+text",
                            name=kind, text=[m.name for m in ms], textfont=dict(size=TICK),
                            textposition=[sides[m.key] for m in ms],
                            marker=dict(color=colour, symbol=symbol, size=16, line=dict(color="black", width=1)),
                            hovertemplate="<b>%{text}</b><br>%{y:,.0f} parameters<extra>" + kind + "</extra>")
    years = [m.year for m in models]
    lo, hi = min(m.counted for m in models), max(m.counted for m in models)
    return _layout(fig, "Parameters by year (log scale)", 640,
                   xaxis=dict(title="year", dtick=1, range=[min(years) - 0.9, max(years) + 1.6]),
                   yaxis=dict(title="parameters", **_log_ticks(lo, hi)))


def treemap(model: scale_catalog.Model) -> go.Figure:
    parts = scale.parts(model.spec)
    total = sum(p.count for p in parts)
    ids, labels, parents, values, colours = [model.name], [model.name], [""], [total], ["#ffffff"]
    for category in scale.CATEGORIES:
        inside = [p for p in parts if p.category == category and p.count > 0]
        if not inside:
            continue
        ids.append(category); labels.append(category); parents.append(model.name)
        values.append(sum(p.count for p in inside)); colours.append(CATEGORY_STYLE[category][0])
        for p in inside:
            ids.append(f"{category}/{p.name}"); labels.append(p.name); parents.append(category)
            values.append(p.count); colours.append(CATEGORY_STYLE[category][0])
    fig = go.Figure(go.Treemap(ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
                               marker=dict(colors=colours, line=dict(color="#111827", width=1)),
                               texttemplate="<b>%{label}</b><br>%{value:,.0f}<br>%{percentRoot:.1%}",
                               textfont=dict(size=FONT), hovertemplate="%{label}: %{value:,.0f}<extra></extra>",
                               pathbar=dict(textfont=dict(size=TICK))))
    return _layout(fig, f"Where {model.name}'s {total:,} parameters live", 620)


def category_shares(models: Sequence[scale_catalog.Model]) -> go.Figure:
    """Each model's parameters split into categories, as percentages (small models are mostly embeddings)."""
    ordered = sorted(models, key=lambda m: m.counted)
    shares = {m.key: scale.breakdown(m.spec) for m in ordered}
    fig = go.Figure()
    for category in scale.CATEGORIES:
        pct = [100 * shares[m.key].get(category, 0) / m.counted for m in ordered]
        if not any(pct):
            continue
        colour, pattern = CATEGORY_STYLE[category]
        fig.add_bar(y=[m.name for m in ordered], x=pct, orientation="h", name=category,
                    marker=dict(color=colour, pattern=dict(shape=pattern, fgcolor="#374151", size=8),
                                line=dict(color="#111827", width=0.5)),
                    text=[f"{p:.0f}%" if p >= 6 else "" for p in pct], textposition="inside",
                    insidetextanchor="middle", textfont=dict(size=TICK, color="#111827"),
                    hovertemplate="%{y}: %{x:.1f}% " + category + "<extra></extra>")
    fig.update_layout(legend=dict(traceorder="normal"))
    return _layout(fig, "Share of parameters by part (smallest model at the bottom)", 170 + 46 * len(ordered),
                   barmode="stack", xaxis=dict(title="% of parameters", range=[0, 100]))


def memory_chart(models: Sequence[scale_catalog.Model]) -> go.Figure:
    ordered = sorted(models, key=lambda m: m.counted)
    names = [m.name for m in ordered]
    fig = go.Figure()
    for precision, (colour, pattern) in PRECISION_STYLE.items():
        gb = [scale.weight_bytes(m.counted, precision) / 1e9 for m in ordered]
        size = scale.BYTES_PER_PARAM[precision]
        fig.add_bar(x=names, y=gb, name=f"{precision} ({size:g} byte{'' if size == 1 else 's'}/param)",
                    marker=dict(color=colour, pattern=dict(shape=pattern, fgcolor="white", size=8),
                                line=dict(color="#111827", width=0.5)),
                    hovertemplate="%{x}: %{y:,.2f} GB at " + precision + "<extra></extra>")
    caps: dict[float, list[str]] = {}
    for name, cap_bytes in scale.HARDWARE:
        caps.setdefault(cap_bytes, []).append(name.split(" (")[0])
    for cap_bytes, names_at in caps.items():  # the same bytes the "fits" table compares against; 2 lines fit a phone
        cap, label = cap_bytes / 1e9, f"{cap_bytes / scale.GIB:.0f} GiB = {cap_bytes / 1e9:.1f} GB<br>{', '.join(names_at)}"
        fig.add_hline(y=cap, line=dict(color="#b91c1c", width=3, dash="dash"))
        fig.add_annotation(x=0, xref="paper", xanchor="left", y=math.log10(cap), yanchor="bottom", showarrow=False,
                           text=label, font=dict(size=TICK, color="#b91c1c"), bgcolor="white")  # log axis: log10 units
    lo = min(scale.weight_bytes(m.counted, "int4") for m in ordered) / 1e9
    hi = max(scale.weight_bytes(m.counted, "fp32") for m in ordered) / 1e9
    gb_fmt = lambda v: f"{v / 1000:g} TB" if v >= 1000 else f"{v:g} GB" if v >= 1 else f"{v * 1000:g} MB"
    _layout(fig, "Memory for the weights alone, by precision (log scale)", 760, barmode="group",
            yaxis=dict(title="weights", **_log_ticks(min(lo, 1), max(hi, 100), gb_fmt)), xaxis=dict(tickangle=-35))
    fig.update_layout(legend=dict(y=1.0, yanchor="bottom"), margin=dict(t=130, b=40))  # legend above: labels below
    return fig


def compute_chart(models: Sequence[scale_catalog.Model]) -> go.Figure:
    known = sorted((m for m in models if m.tokens), key=lambda m: scale.training_flops(m.counted, m.tokens))
    flops = [scale.training_flops(m.counted, m.tokens) for m in known]
    fig = go.Figure()
    for kind, (colour, pattern, _) in KIND_STYLE.items():
        idx = [i for i, m in enumerate(known) if m.kind == kind]
        if idx:
            fig.add_bar(y=[known[i].name for i in idx], x=[flops[i] for i in idx], orientation="h", name=kind,
                        marker=dict(color=colour, pattern=dict(shape=pattern, fgcolor="white", size=10)),
                        # N and D go in the hover: printed, they ran past a phone's screen
                        text=[sci(flops[i]) for i in idx], textposition="auto",
                        textfont=dict(size=TICK - 2 if len(known) > 10 else TICK),
                        customdata=[f"N={scale.human(known[i].counted)}, D={scale.human(known[i].tokens)}" for i in idx],
                        hovertemplate="%{y}: %{x:.3g} FLOPs (%{customdata})<extra></extra>")
    fig.update_yaxes(categoryorder="array", categoryarray=[m.name for m in known])
    return _layout(fig, "Training compute ≈ 6 · N · D (log scale)", 170 + 46 * len(known),
                   xaxis=dict(title="FLOPs", **_log_ticks(min(flops), max(flops) * 30, power_of_ten)))


def data_chart(datasets: Sequence[scale_catalog.Dataset]) -> go.Figure:
    fig = go.Figure()
    ordered = sorted(datasets, key=lambda d: d.tokens)
    for estimated, name, pattern in ((False, "stated in tokens", ""), (True, "estimated from words or bytes (≈)", "/")):
        ds = [d for d in ordered if d.estimated == estimated]
        if ds:
            fig.add_bar(y=[f"{d.name} · {d.used_by}" for d in ds], x=[d.tokens for d in ds], orientation="h", name=name,
                        marker=dict(color="#0f766e" if not estimated else "#99f6e4",
                                    pattern=dict(shape=pattern, fgcolor="#134e4a", size=10), line=dict(color="#134e4a", width=1)),
                        text=[(f"≈{scale.human(d.tokens)} tokens ({d.stated})" if estimated else d.stated) for d in ds],
                        textposition="auto", textfont=dict(size=TICK),
                        hovertemplate="%{y}: %{x:.3g} tokens<extra></extra>")
    fig.update_yaxes(categoryorder="array", categoryarray=[f"{d.name} · {d.used_by}" for d in ordered])
    return _layout(fig, "Training data (log scale, tokens)", 170 + 52 * len(ordered),
                   xaxis=dict(title="tokens", **_log_ticks(min(d.tokens for d in ordered), max(d.tokens for d in ordered) * 10)))


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%" if share >= 0.01 or share == 0 else f"{100 * share:.2g}%"


def builder_breakdown(spec: scale.Spec) -> go.Figure:
    totals = scale.breakdown(spec)
    cats = [c for c in scale.CATEGORIES if totals.get(c)]
    all_params = sum(totals.values())
    fig = go.Figure()
    for c in cats:
        colour, pattern = CATEGORY_STYLE[c]
        fig.add_bar(y=[c], x=[totals[c]], orientation="h", name=c, showlegend=False,
                    marker=dict(color=colour, pattern=dict(shape=pattern, fgcolor="#374151", size=8),
                                line=dict(color="#111827", width=1)),
                    text=[f"{totals[c]:,} ({_pct(totals[c] / all_params)})"], textposition="auto",
                    textfont=dict(size=TICK, color="#111827"))
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(cats)))
    return _layout(fig, "Your model, part by part", 120 + 70 * len(cats), xaxis=dict(title="parameters"))
