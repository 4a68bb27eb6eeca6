"""The sampling page's readouts against transformers' processors on the page's own model (issue 13 items 4, 7)."""

import re

import numpy as np
import torch
from transformers.generation.logits_process import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

from tests.app.apptest import open_page

PROMPT = "She opened the door and"


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def page_model_logits(prompt: str):
    """The page's default model (bundled pocket-lm), run here with transformers directly."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.conftest import ROOT

    path = str(ROOT / "assets" / "pocket-lm")
    tok, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0, -1:].float()  # (1, vocab), as generate() casts it


def entropy_nats(logits) -> float:
    logp = torch.log_softmax(logits.double(), dim=-1)
    return float(-(logp.exp() * logp).sum())


def test_entropy_change_against_torch_and_no_false_arrow_at_zero():
    logits = page_model_logits(PROMPT)
    at = open_page("pages/sampling.py", model="pocket-lm", prompt=PROMPT, temperature="1")
    entropy = next(m for m in at.metric if m.label == "Entropy (nats)")
    assert entropy.value == f"{entropy_nats(logits):.2f}"
    assert entropy.delta == "0.00" and entropy.proto.direction == entropy.proto.MetricDirection.NONE  # no knob, no change
    at = open_page("pages/sampling.py", model="pocket-lm", prompt=PROMPT, temperature="0.5")
    entropy = next(m for m in at.metric if m.label == "Entropy (nats)")
    expected = entropy_nats(logits / 0.5) - entropy_nats(logits)
    assert expected < -0.005 and entropy.delta == f"{expected:+.2f}"
    assert entropy.proto.direction == entropy.proto.MetricDirection.DOWN


def test_low_temperature_keeps_every_token():
    at = open_page("pages/sampling.py", model="pocket-lm", prompt=PROMPT, temperature="0.001")
    vocab = page_model_logits(PROMPT).shape[-1]
    assert metric(at, "Tokens kept") == f"{vocab:,}"  # temperature removes nothing
    assert metric(at, "Mass kept") == "100.0%"


def test_cumulative_chart_marks_the_same_count_as_the_order_line():
    at = open_page("pages/sampling.py", model="pocket-lm", prompt=PROMPT, temperature="0.2", top_p="0.9")
    logits = page_model_logits(PROMPT)
    kept = int(torch.isfinite(LogitsProcessorList([TemperatureLogitsWarper(0.2), TopPLogitsWarper(0.9)])(None, logits)).sum())
    order_line = next(m.value for m in at.markdown if m.value.startswith("**Order applied"))
    assert f"Top-p (nucleus) ({kept:,} tokens)" in order_line
    svg = next(m.value for m in at.markdown if "<svg" in m.value)
    assert f"keeps {kept:,}" in svg
    # The plotted curve reaches 0.9 at the marker: read the polyline back and interpolate at the marker's x.
    pts = np.array([[float(v) for v in p.split(",")] for p in re.search(r'points="([^"]+)"', svg).group(1).split()])
    x_marker = float(re.search(r'class="llmx-kept" x1="([\d.]+)"', svg).group(1))
    y_at = np.interp(x_marker, pts[:, 0], pts[:, 1])
    top, plot_h = 24, 420 - 24 - 84
    assert (1 - (y_at - top) / plot_h) * 1.05 >= 0.9 - 0.01
