"""The sampling page's HTML/SVG charts: escaped labels, bars to scale, the cumulative curve where it belongs."""

import re

import numpy as np

from components.sections.html_charts import cumulative_svg, paired_bars


def widths(html: str) -> list[float]:
    return [float(w) for w in re.findall(r'llmx-pb-bar[^"]*" style="width:([\d.]+)%', html)]


def test_labels_are_escaped():
    html = paired_bars(["<script>alert(1)</script>", 'a"b'], [0.5, 0.5], [0.5, 0.5], "x<y", "z")
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&quot;b" in html and "x&lt;y" in html


def test_bars_share_one_scale_and_print_their_values():
    html = paired_bars(["a", "b"], [0.4, 0.1], [0.2, 0.05], "model", "after")
    # first bars then second bars per row: a.first, a.second, b.first, b.second; the largest (0.4) is 80% wide
    assert widths(html) == [80.0, 40.0, 20.0, 10.0]
    for text in ("40.0%", "10.0%", "20.0%", "5.0%"):
        assert f">{text}<" in html


def test_a_removed_token_keeps_its_row_and_says_removed():
    html = paired_bars(["kept", "gone"], [0.6, 0.4], [1.0, 0.0], "model", "after", removed=[False, True])
    rows = html.split('<div class="llmx-pb-row')[1:]
    assert "removed" not in rows[0] and 'llmx-pb-removed"' in rows[1] and ">removed<" in rows[1]
    assert len(widths(rows[1])) == 1  # only the model's bar


def points(svg: str) -> np.ndarray:
    raw = re.search(r'<polyline points="([^"]+)"', svg).group(1)
    return np.array([[float(v) for v in p.split(",")] for p in raw.split()])


def test_cumulative_curve_runs_from_the_top_token_to_all_of_the_mass():
    probs = np.sort(np.random.default_rng(0).dirichlet(np.ones(2000)))[::-1]
    svg = cumulative_svg(probs, 0.9)
    pts = points(svg)
    assert 100 <= len(pts) <= 201 and np.all(np.diff(pts[:, 0]) > 0)  # left to right on a log axis
    assert np.all(np.diff(pts[:, 1]) <= 1e-9)  # rising (SVG y grows downwards)
    top, plot_h = 24, 420 - 24 - 84
    y = lambda p: top + plot_h * (1 - p / 1.05)
    assert pts[0, 0] == 130 and abs(pts[0, 1] - y(probs[0])) < 0.06
    assert abs(pts[-1, 1] - y(1.0)) < 0.06
    line_y = float(re.search(r'stroke-dasharray="10 6"', svg) and re.search(r'y1="([\d.]+)"[^>]*stroke-dasharray', svg).group(1))
    assert abs(line_y - y(0.9)) < 0.06 and "top-p = 0.90" in svg


def test_cumulative_without_top_p_has_no_line_and_handles_one_token():
    svg = cumulative_svg([1.0], None)
    assert "stroke-dasharray" not in svg and len(points(svg)) == 1


def test_kept_marker_sits_where_the_curve_reaches_top_p():
    """The marker for "top-p keeps N" is at rank N, where the plotted curve first reaches p."""
    import torch
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

    from lib.sampling.knobs import Knobs
    from lib.sampling.apply import apply_knobs, top_p_view

    scores = (np.random.default_rng(4).standard_normal(3000) * 2).astype(np.float32)
    knobs = Knobs(temperature=0.2, top_p=0.9)
    t = torch.tensor(scores[None, :])
    oracle = TopPLogitsWarper(0.9)(None, TemperatureLogitsWarper(0.2)(None, t))[0]
    n = int(torch.isfinite(oracle).sum())
    probs = top_p_view(apply_knobs(scores, knobs))
    svg = cumulative_svg(probs, 0.9, kept=n)
    x_marker = float(re.search(r'class="llmx-kept" x1="([\d.]+)"', svg).group(1))
    left, plot_w = 130, 900 - 130 - 24
    assert abs(x_marker - (left + plot_w * np.log10(n) / np.log10(len(probs)))) < 0.06
    assert f"keeps {n:,}" in svg
    cum = np.cumsum(probs)
    assert cum[n - 1] >= 0.9 and (n == 1 or cum[n - 2] < 0.9)
