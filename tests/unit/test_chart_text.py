"""Text alternatives and colours of the charts, checked against independent oracles (Python's UTF-8 decoder,
the Unicode database, the WCAG contrast formula), never against the functions' own output."""

from __future__ import annotations

import html
import unicodedata

from hypothesis import given, strategies as st

from components import charts
from components.sections.inside_views import readable
from components.sections import scale_charts
from lib.sampling.distribution import TokenRow


def luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of #rrggbb."""
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str = "#ffffff") -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rows(*pairs):
    return [TokenRow(k + 1, k, label, label.encode(), label, 0.0, p, 0.0) for k, (label, p) in enumerate(pairs)]


def test_summary_and_table_say_what_the_bars_show_escaped():
    fig = charts.distribution_chart(rows(("<b>x</b>", 0.289), ("I", 0.128)), 0.583, title="Next <token>")
    text = charts.chart_text_html(fig)
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text  # token text stays text
    summary = html.unescape(text.split("<p>")[1].split("</p>")[0])
    assert summary.startswith("Next <token>: 1. <b>x</b> 28.9%, 2. I 12.8%, everything else 58.3%")
    cells = [html.unescape(c.split("</td>")[0]) for c in text.split("<td>")[1:]]
    assert cells[:5] == ["", "1. <b>x</b>", "", "0.289", "28.9%"]


def test_categorical_marks_reach_3_to_1_or_are_outlined():
    """WCAG 1.4.11: a mark's own colour or its outline stands out from the white background by 3:1."""
    fig = charts.distribution_chart(rows(("a", 0.5), ("b", 0.2)), 0.3, highlight_rank=1)
    marker = fig.data[0].marker
    assert contrast(marker.line.color) >= 3
    for colour in (charts.BAR, charts.HIGHLIGHT):
        assert contrast(colour) >= 3, colour
    for colour, _, _ in scale_charts.KIND_STYLE.values():
        assert contrast(colour) >= 3, colour
    assert set(charts.CATEGORICAL) <= set(charts.OKABE_ITO.values())


@given(st.text(min_size=1, max_size=4).filter(lambda t: all(unicodedata.category(c) not in ("Cs",) for c in t)))
def test_a_whole_character_token_reads_as_itself(text):
    shown, _ = readable(text.encode("utf-8"))
    for c in text:
        if c.isprintable() and c not in " ":
            assert c in shown


def test_part_of_a_character_shows_its_bytes_and_says_so():
    raw = "’".encode()  # E2 80 99: split over two tokens
    first, why = readable(raw[:1])
    assert first == "E2…" and "start a character" in why
    rest, why = readable(raw[1:])
    assert rest == "…80 99" and "end a character" in why
    assert "<" not in first + rest


def test_a_control_character_shows_its_unicode_picture():
    shown, why = readable(b"\x16")
    assert unicodedata.name(shown) == "SYMBOL FOR SYNCHRONOUS IDLE" and "U+0016" in why


def test_the_cumulative_curve_says_its_numbers():
    import re

    import numpy as np

    from components.sections.html_charts import cumulative_svg

    probs = np.sort(np.random.default_rng(0).dirichlet(np.ones(3000)))[::-1]
    label = re.search(r'aria-label="([^"]+)"', cumulative_svg(probs, 0.9, kept=1234)).group(1)
    assert f"the top 10 hold {probs[:10].sum():.1%}" in label and f"the top 1,000 hold {probs[:1000].sum():.1%}" in label
    assert "top-p 0.90 keeps 1,234 tokens" in label
