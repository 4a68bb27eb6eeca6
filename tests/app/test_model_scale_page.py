"""The model-scale page through streamlit.testing: links select models, the builder counts, odd input is handled."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptest import shown
from tests.app.apptest import open_page as open_app_page
from tests.conftest import ROOT

GPT2_SMALL = 124_439_808
BERT_BASE = 109_482_240
GPT3_175B = 12288 * 50257 + 12288 * 2048 + 96 * (12 * 12288 ** 2 + 13 * 12288) + 2 * 12288


def pocket_lm_params() -> int:
    """By hand from assets/pocket-lm/config.json (the documented 4 layers, d 256, vocab 4096, ctx 256 when absent)."""
    cfg = dict(n_layer=4, n_embd=256, vocab_size=4096, n_positions=256)
    path = ROOT / "assets" / "pocket-lm" / "config.json"
    if path.exists():
        cfg.update(json.loads(path.read_text()))
    L, d, V, C = cfg["n_layer"], cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    return V * d + C * d + L * (12 * d * d + 13 * d) + 2 * d  # tied embeddings


VIEWS = ["Scale", "Where parameters live", "Memory", "Compute and data", "Build your own", "BERT vs GPT",
         "Catalog and sources"]


def open_page(**params) -> AppTest:
    at = open_app_page("pages/model-scale.py", **params)
    assert at.title[0].value.startswith("Model scale")
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def y_labels(fig: dict) -> set[str]:
    return {label for trace in fig["data"] for label in trace.get("y", []) if isinstance(label, str)}


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_default_chart_has_gpt3_and_bert_on_a_log_axis():
    at = open_page()
    bars = figures(at)[0]
    assert {"GPT-3 175B", "BERT-base"} <= y_labels(bars)
    assert bars["layout"]["xaxis"]["type"] == "log"
    assert bars["layout"]["font"]["size"] >= 18 and bars["layout"]["xaxis"]["tickfont"]["size"] >= 18
    assert {t["name"] for t in bars["data"]} == {"encoder", "decoder", "encoder-decoder"}
    assert len({t["marker"]["pattern"]["shape"] for t in bars["data"]}) == 3  # not colour alone
    counted = {y: x for t in bars["data"] for y, x in zip(t["y"], t["x"])}
    assert counted["GPT-2 small"] == GPT2_SMALL and counted["BERT-base"] == BERT_BASE and counted["GPT-3 175B"] == GPT3_175B


def test_models_query_param_selects_models_and_reports_unknown_ones():
    at = open_page(models="gpt3-175b,BERT-BASE,not-a-model")
    assert at.multiselect[0].value == ["gpt3-175b", "bert-base"]
    assert y_labels(figures(at)[0]) == {"GPT-3 175B", "BERT-base"}
    assert any("not-a-model" in shown(w.value) for w in at.warning)
    assert at.query_params["models"] == "gpt3-175b,bert-base"


def test_empty_selection_asks_for_models():
    at = open_page(models="gpt2-small")
    at.multiselect[0].set_value([]).run()
    assert not at.exception
    assert any("Pick at least one model" in i.value for i in at.info)


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_renders(view):
    at = open_page(view=view)
    assert at.tabs[VIEWS.index(view)].label == view


def test_meta_device_column_agrees_with_the_formula():
    at = open_page(models="gpt2-small,bert-base,gpt3-175b,llama-3-8b", meta="1")
    table = at.dataframe[0].value
    meta = dict(zip(table["model"], table["transformers (meta device)"]))
    assert meta["GPT-2 small"] == f"{GPT2_SMALL:,} ✓ same"
    assert meta["BERT-base"] == f"{BERT_BASE:,} ✓ same"
    assert meta["Llama 3 8B"] == "8,030,261,248 ✓ same"
    assert meta["GPT-3 175B"] == "no transformers class"


def test_builder_defaults_reproduce_gpt2_small_then_follow_the_sliders():
    at = open_page(view="Build your own")
    assert metric(at, "Parameters") == f"{GPT2_SMALL:,}"
    assert any("Identical architecture" in s.value and "GPT-2 small" in s.value for s in at.success)
    sliders = {s.label: s for s in at.slider}
    sliders["Layers"].set_value(96)
    sliders["d_model (width)"].set_value(12288)
    sliders["Attention heads"].set_value(96)
    sliders["Context (positions)"].set_value(2048)
    at.run()
    assert metric(at, "Parameters") == f"{GPT3_175B:,}"
    assert at.query_params["L"] == "96" and at.query_params["d"] == "12288"
    next(b for b in at.button if b.label == "Preset: pocket-lm (bundled)").click().run()
    assert metric(at, "Parameters") == f"{pocket_lm_params():,}"
    next(b for b in at.button if b.label == "Preset: GPT-2 small").click().run()
    assert metric(at, "Parameters") == f"{GPT2_SMALL:,}"


def test_builder_untied_adds_the_output_matrix():
    at = open_page(view="Build your own", tied="0")
    assert metric(at, "Parameters") == f"{GPT2_SMALL + 50257 * 768:,}"


def test_builder_link_is_clamped_and_bad_values_fall_back():
    at = open_page(view="Build your own", L="100000", d="abc", h="7", V="inf", ctx="-5")
    values = {s.label: s.value for s in at.slider}
    assert values == {"Layers": 128, "d_model (width)": 768, "Attention heads": 7, "Vocabulary": 50257,
                      "Context (positions)": 64}
    assert any("don't divide" in w.value for w in at.warning)  # 768 / 7 is not whole


def test_treemap_link_and_bad_key():
    at = open_page(view="Where parameters live", treemap="llama-3-8b")
    assert at.selectbox[0].value == "llama-3-8b"
    assert "Llama 3 8B" in figures(at)[0]["layout"]["title"]["text"]
    at = open_page(view="Where parameters live", treemap="<script>")
    assert at.selectbox[0].value == "gpt2-small"


def test_bert_vs_gpt_offline_says_so_clearly():
    at = open_page(view="BERT vs GPT")
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert "BERT is not available here" in warnings
    assert "Table 3.8" in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("sentence", ["", "no blank at all", "🙂🙂 [MASK] 中文 \x00\x07", "x" * 100_000 + " [MASK]",
                                      "<script>alert(1)</script> [MASK]"])
def test_bert_vs_gpt_survives_odd_sentences(sentence):
    at = open_page(view="BERT vs GPT", sentence=sentence)
    assert not at.exception
    if "[MASK]" not in sentence:
        assert any("[MASK]" in i.value for i in at.info)


def test_bert_vs_gpt_fills_the_mask_with_a_local_masked_lm(tmp_path):
    from tests.conftest import BERT_TOKENIZER, need_shared

    need_shared()
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    tok = AutoTokenizer.from_pretrained(str(BERT_TOKENIZER))
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=64)).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    at = open_page(view="BERT vs GPT", bert=str(tmp_path))
    assert not any("BERT is not available" in w.value for w in at.warning)
    bert_table = at.table[0].value
    assert list(bert_table.index) == [1, 2, 3, 4, 5]


@pytest.fixture
def tiny_bundled_gpt(tmp_path, monkeypatch, gpt2_tokenizer):
    """A tiny random GPT-2 standing in for the bundled pocket-lm; the shared model caches are cleared after."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from components import loaders
    from lib.models import hub

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=64)).save_pretrained(tmp_path)
    gpt2_tokenizer.save_pretrained(tmp_path)
    monkeypatch.setitem(hub.BUNDLED, "pocket-lm", tmp_path)
    loaders._load_hf.clear()
    loaders._cached_logits.clear()
    yield tmp_path
    loaders._load_hf.clear()
    loaders._cached_logits.clear()


def test_gpt_side_predicts_the_next_token_from_the_left_context(tiny_bundled_gpt):
    at = open_page(view="BERT vs GPT", sentence="She opened the [MASK] and left.")
    assert not any("No GPT-style model" in w.value for w in at.warning)
    gpt_table = at.table[-1].value
    assert list(gpt_table.index) == [1, 2, 3, 4, 5]
    assert any("Model:" in c.value for c in at.caption)
    import torch
    from transformers import AutoTokenizer, GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(tiny_bundled_gpt).eval()
    ids = AutoTokenizer.from_pretrained(tiny_bundled_gpt)("She opened the")["input_ids"]  # left of [MASK], no trailing space
    with torch.no_grad():
        probs = model(torch.tensor([ids])).logits[0, -1].double().softmax(-1)
    assert list(gpt_table["probability"][:3]) == [f"{p:.1%}" for p in probs.topk(3).values.tolist()]
