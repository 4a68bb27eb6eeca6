"""The Plotly chart specs: valid for Plotly (the app skips validation for speed), and showing the right bars."""

import math

import plotly.graph_objects as go
import pytest

from components.charts import HIGHLIGHT, REST, distribution_chart, figure
from lib.sampling.distribution import TokenRow


def rows(probs):
    out, cum = [], 0.0
    for rank, p in enumerate(probs, start=1):
        cum += p
        out.append(TokenRow(rank, 100 + rank, f"t{rank}", b"", f"tok{rank}", math.log(p), p, cum))
    return out


def validated(fig: go.Figure) -> dict:
    """What the app's figure would be if Plotly checked every property: raises on anything invalid."""
    return go.Figure(fig.to_dict()).to_dict()


def test_validation_catches_a_bad_spec():
    with pytest.raises(ValueError):
        validated(figure({"data": [{"type": "bar", "not_a_property": 1}]}))


@pytest.mark.parametrize("log_scale", [False, True])
def test_distribution_chart_is_valid_and_lists_tokens_then_the_rest(log_scale):
    fig = distribution_chart(rows([0.5, 0.2, 0.1]), 0.2, log_scale=log_scale, highlight_rank=2, title="T")
    bar = validated(fig)["data"][0]
    assert list(bar["y"]) == ["1. tok1", "2. tok2", "3. tok3", "everything else"]
    assert list(bar["x"]) == pytest.approx([0.5, 0.2, 0.1, 0.2])
    assert bar["marker"]["color"][1] == HIGHLIGHT and bar["marker"]["color"][3] == REST
    assert bar["text"][0] == "50.0%"
    assert fig.layout.xaxis.type == ("log" if log_scale else None)


@pytest.mark.parametrize("log_scale", [False, True])
def test_bar_labels_are_the_axis_quantity_and_fit_inside_the_axis_range(log_scale):
    """Issue 13 item 13: the labels are probabilities like the axis (not ln p), and the range leaves room for them."""
    probs = [0.9, 0.05, 1e-5]
    fig = validated(distribution_chart(rows(probs), 0.05 - 1e-5, log_scale=log_scale))
    bar, xaxis = fig["data"][0], fig["layout"]["xaxis"]
    for text, p in zip(bar["text"], bar["x"]):
        assert float(text.rstrip("%")) / 100 == pytest.approx(p, rel=0.05)  # the label states the bar's own length
    hi = math.log10(max(bar["x"])) if log_scale else max(bar["x"])
    assert xaxis["range"][1] > hi + (0.3 if log_scale else 0.15)  # headroom for the printed label
    assert fig["layout"]["yaxis"]["automargin"] is True  # long tick labels ("everything else (…)") are not clipped
    assert "log" not in xaxis["title"]["text"] or "probability" in xaxis["title"]["text"]


def test_user_text_in_labels_and_title_cannot_make_plotly_markup():
    """Issue 13 item 18: Plotly reads <a href> in titles and tick labels; user text must arrive escaped."""
    row = TokenRow(1, 5, "x", b"x", '<a href="javascript:alert(1)">x</a>', -0.1, 0.9, 0.9)
    fig = validated(distribution_chart([row], 0.1, title='after “<a href="javascript:alert(1)">go</a>”'))
    assert "<a" not in fig["layout"]["title"]["text"] and "&lt;a" in fig["layout"]["title"]["text"]
    assert all("<a" not in y for y in fig["data"][0]["y"])


def test_highlight_by_token_id_and_no_rest_bar_when_nothing_is_left():
    bar = validated(distribution_chart(rows([0.7, 0.3]), 0.0, highlight_id=101))["data"][0]
    assert list(bar["y"]) == ["1. tok1", "2. tok2"] and bar["marker"]["color"][0] == HIGHLIGHT


def test_memory_chart_legend_names_each_precision_with_its_bytes():
    from components.sections.scale_charts import memory_chart
    from lib.scale import published as scale_catalog

    fig = memory_chart(scale_catalog.catalog()[:3])
    assert [t.name for t in fig.data][:4] == ["fp32 (4 bytes/param)", "bf16 (2 bytes/param)", "int8 (1 byte/param)",
                                              "int4 (0.5 bytes/param)"]
