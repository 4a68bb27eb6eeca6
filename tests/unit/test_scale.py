"""lib/scale/maths.py, scale_catalog.py, meta_device.py and masked_lm.py against independent oracles: transformers on the
meta device and published tables written here."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.models import hub
from lib.tokens import masked_lm
from lib.scale import meta_device
from lib.scale import maths as scale
from lib.scale import published as scale_catalog
from tests.conftest import BERT_TOKENIZER, need_shared

# Published or independently known numbers, written here (never computed by the code under test).
GPT2_SMALL_LMHEAD = 124_439_808      # GPT2LMHeadModel, tied embeddings
BERT_BASE_BERTMODEL = 109_482_240    # BertModel (encoder + pooler)
GPT3_TABLE_2_1 = {                   # Brown et al. 2020, Table 2.1: n_params, n_layers, d_model, n_heads
    "gpt3-small": (125e6, 12, 768, 12), "gpt3-medium": (350e6, 24, 1024, 16), "gpt3-large": (760e6, 24, 1536, 16),
    "gpt3-xl": (1.3e9, 24, 2048, 24), "gpt3-2.7b": (2.7e9, 32, 2560, 32), "gpt3-6.7b": (6.7e9, 32, 4096, 32),
    "gpt3-13b": (13.0e9, 40, 5140, 40), "gpt3-175b": (175.0e9, 96, 12288, 96),
}
PYTHIA_TOTAL_PARAMS = {              # HF Pythia model card, "total params"
    "pythia-70m": 70_426_624, "pythia-160m": 162_322_944, "pythia-410m": 405_334_016, "pythia-1b": 1_011_781_632,
    "pythia-1.4b": 1_414_647_808, "pythia-2.8b": 2_775_208_960, "pythia-6.9b": 6_857_302_016, "pythia-12b": 11_846_072_320,
}
GPT2_PAPER_MILLIONS = {"gpt2-small": 117, "gpt2-medium": 345, "gpt2-large": 762, "gpt2-xl": 1542}  # GPT-2 paper Table 2
GPT2_RELEASED_MILLIONS = {"gpt2-small": 124, "gpt2-medium": 355, "gpt2-large": 774, "gpt2-xl": 1558}  # download names
LLAMA_32_BILLIONS = {"llama-3.2-1b": 1.23, "llama-3.2-3b": 3.21}  # Llama 3.2 model card
GPT3_175B_TRAINING_FLOPS = 3.14e23  # GPT-3 paper, Table D.1 (⚠ not re-checked here)

TRANSFORMERS_MODELS = [m.key for m in scale_catalog.catalog() if m.counter == "transformers"]


def model(key: str) -> scale_catalog.Model:
    return scale_catalog.by_key()[key]


# -- the two correctness anchors from the issue ---------------------------------------------------------
def test_gpt2_small_meta_device_count_is_exact():
    spec = model("gpt2-small").spec
    assert meta_device.meta_count(spec) == GPT2_SMALL_LMHEAD
    assert model("gpt2-small").counted == GPT2_SMALL_LMHEAD


def test_bert_base_bertmodel_meta_device_count_is_exact():
    spec = model("bert-base").spec
    assert meta_device.meta_count(spec) == BERT_BASE_BERTMODEL
    assert model("bert-base").counted == BERT_BASE_BERTMODEL


def test_meta_device_allocates_nothing():
    import torch

    cls, config = meta_device.hf_class_and_config(model("llama-3.1-405b").spec)
    with torch.device("meta"):
        big = cls(config)
    assert all(p.device.type == "meta" for p in big.parameters())


# -- the formula against transformers ---------------------------------------------------------------
@pytest.mark.parametrize("key", TRANSFORMERS_MODELS)
def test_formula_equals_meta_count_part_by_part(key):
    spec = model(key).spec
    assert scale.breakdown(spec) == meta_device.meta_breakdown(spec)
    assert scale.count(spec) == meta_device.meta_count(spec)


@pytest.mark.parametrize("key", ["gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", "pocket-lm"])
def test_gpt3_formula_checked_against_meta_counts_for_gpt2(key):
    s = model(key).spec
    assert scale.gpt_formula(s.layers, s.d_model, s.vocab, s.context) == meta_device.meta_count(s)


def test_untied_gpt2_adds_one_embedding_matrix():
    tied = scale.gpt2_spec(12, 768, 12, 50257, 1024, tied=True)
    untied = scale.gpt2_spec(12, 768, 12, 50257, 1024, tied=False)
    assert meta_device.meta_count(untied) - meta_device.meta_count(tied) == 50257 * 768
    assert scale.count(untied) == meta_device.meta_count(untied)


# -- published tables --------------------------------------------------------------------------------
@pytest.mark.parametrize("key", list(GPT3_TABLE_2_1))
def test_gpt3_analytic_count_within_2_percent_of_table_2_1(key):
    published, layers, d_model, heads = GPT3_TABLE_2_1[key]
    m = model(key)
    assert m.counter == "formula"
    assert (m.spec.layers, m.spec.heads, m.spec.vocab, m.spec.context) == (layers, heads, 50257, 2048)
    assert abs(m.counted / published - 1) < 0.02, f"{key}: {m.counted:,} vs {published:,.0f}"


def test_gpt3_13b_uses_5120_not_the_printed_5140():
    assert model("gpt3-13b").spec.d_model == 40 * 128 == 5120
    printed = scale_catalog.gpt3_13b_with_printed_d_model()
    assert printed == 50257 * 5140 + 2048 * 5140 + 40 * (12 * 5140 ** 2 + 13 * 5140) + 2 * 5140
    assert printed > model("gpt3-13b").counted


def test_gpt3_175b_by_hand():
    d = 12288
    assert model("gpt3-175b").counted == 50257 * d + 2048 * d + 96 * (12 * d * d + 13 * d) + 2 * d == 174_604_259_328


@pytest.mark.parametrize("key", list(PYTHIA_TOTAL_PARAMS))
def test_pythia_counts_equal_the_model_card_exactly(key):
    assert meta_device.meta_count(model(key).spec) == PYTHIA_TOTAL_PARAMS[key]


@pytest.mark.parametrize("key", list(LLAMA_32_BILLIONS))
def test_llama_32_counts_truncate_to_the_model_card(key):
    billions = meta_device.meta_count(model(key).spec) / 1e9
    assert LLAMA_32_BILLIONS[key] <= billions < LLAMA_32_BILLIONS[key] + 0.01  # the card truncates: 1.2358 -> "1.23"


@pytest.mark.parametrize("key", list(GPT2_RELEASED_MILLIONS))
def test_gpt2_counts_match_release_names_and_paper_numbers_come_from_a_40478_vocab(key):
    assert round(model(key).counted / 1e6) == GPT2_RELEASED_MILLIONS[key]
    assert round(scale_catalog.gpt2_paper_count_explained(model(key)) / 1e6) == GPT2_PAPER_MILLIONS[key]


def test_bert_large_and_tied_gpt2_head():
    assert meta_device.meta_count(model("bert-large").spec) == 335_141_888  # BertModel, 24 × 1024
    assert "Output head" not in meta_device.meta_breakdown(model("gpt2-small").spec)


@pytest.mark.parametrize("key", [m.key for m in scale_catalog.catalog()])
def test_every_count_is_near_its_published_size(key):
    m = model(key)
    assert abs(m.counted / m.published - 1) < 0.06, f"{key}: counted {m.counted:,} vs published {m.published:,.0f}"


# -- catalog shape and sources -------------------------------------------------------------------------
def test_catalog_covers_the_issue_list():
    keys = set(scale_catalog.by_key())
    assert {"bert-base", "bert-large", "gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", "pocket-lm",
            "qwen2.5-0.5b", "llama-2-7b", "llama-3-8b"} <= keys
    assert len([k for k in keys if k.startswith("gpt3-")]) == 8
    assert len([k for k in keys if k.startswith("t5-")]) == 5
    assert any(k.startswith("smollm2-") for k in keys) and any(k.startswith("olmo-2-") for k in keys)
    assert any(k.startswith("pythia-") for k in keys)


@pytest.mark.parametrize("m", scale_catalog.catalog(), ids=lambda m: m.key)
def test_every_number_has_a_marked_source(m):
    assert m.kind in ("encoder", "decoder", "encoder-decoder")
    for src in (m.published_src, m.arch_src, m.data_src):
        assert any(mark in src for mark in "✅◐⚠"), f"{m.key}: {src!r} has no mark"
    assert 2017 < m.year < 2100


def test_kinds():
    assert model("bert-base").kind == "encoder"
    assert model("t5-small").kind == "encoder-decoder"
    assert model("gpt3-175b").kind == "decoder"


# -- pocket-lm from its config ------------------------------------------------------------------------
def test_pocket_lm_defaults_when_absent(tmp_path):
    m = scale_catalog.pocket_model(tmp_path / "missing")
    assert (m.spec.layers, m.spec.d_model, m.spec.heads, m.spec.vocab, m.spec.context, m.spec.tied) == (4, 256, 4, 4096, 256, True)
    assert m.counted == 4096 * 256 + 256 * 256 + 4 * (12 * 256 ** 2 + 13 * 256) + 2 * 256 == 4_273_664
    assert "⚠" in m.arch_src


def test_pocket_lm_reads_config_and_metrics(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(dict(n_layer=2, n_embd=64, n_head=2, vocab_size=1000, n_positions=128)))
    (tmp_path / "metrics.json").write_text(json.dumps(dict(parameters=123, train_tokens=5000,
                                                           train=dict(steps=10, batch_size=4, seq_len=32))))
    m = scale_catalog.pocket_model(tmp_path)
    assert m.counted == meta_device.meta_count(m.spec) == 1000 * 64 + 128 * 64 + 2 * (12 * 64 ** 2 + 13 * 64) + 2 * 64
    assert m.tokens == 10 * 4 * 32 and m.published == 123 and "5,000" in m.data


# -- memory, compute, builder ----------------------------------------------------------------------------
def test_weight_memory():
    assert scale.weight_bytes(GPT2_SMALL_LMHEAD, "fp32") == GPT2_SMALL_LMHEAD * 4
    assert scale.weight_bytes(GPT2_SMALL_LMHEAD, "int4") == GPT2_SMALL_LMHEAD / 2
    fits = scale.fits(175e9)
    assert fits["fp32"] == [] and fits["int4"] == []  # 87.5 GB even at 4 bits
    fits8b = scale.fits(8_030_261_248)
    # 16.06 decimal GB = 14.96 GiB: it fits a 16 GiB card (cards sold as "16 GB" have 16 GiB)
    assert fits8b["bf16"] == ["laptop (16 GiB)", "T4 (16 GiB)", "A100 (80 GiB)", "H100 (80 GiB)"]
    assert scale.fits(8.7e9)["bf16"] == ["A100 (80 GiB)", "H100 (80 GiB)"]  # 17.4 GB > 16 GiB = 17.18 GB


def test_training_compute_matches_gpt3_paper():
    flops = scale.training_flops(model("gpt3-175b").counted, 300e9)
    assert abs(flops / GPT3_175B_TRAINING_FLOPS - 1) < 0.01


def test_flops_per_token_gpt2_small():
    non_embedding = GPT2_SMALL_LMHEAD - 50257 * 768 - 1024 * 768
    f = scale.flops_per_token(model("gpt2-small").spec)
    assert f["forward"] == 2 * non_embedding + 2 * 12 * 1024 * 768
    assert f["training"] == 3 * f["forward"]


def test_builder_reproduces_gpt2_small_and_finds_it():
    spec = scale.gpt2_spec(12, 768, 12, 50257, 1024)
    assert scale.count(spec) == GPT2_SMALL_LMHEAD
    assert scale_catalog.same_architecture(spec).key == "gpt2-small"
    assert scale_catalog.closest(GPT2_SMALL_LMHEAD).key == "gpt2-small"
    assert scale_catalog.same_architecture(scale.gpt2_spec(3, 100, 5, 999, 77)) is None


def test_human_formatting():
    assert scale.human(174_604_259_328) == "175B"
    assert scale.human(124_439_808) == "124M"
    assert scale.human_bytes(16e9) == "16 GB"


# -- ?models= -----------------------------------------------------------------------------------------
def test_parse_selection():
    assert scale_catalog.parse_selection(None) == (list(scale_catalog.DEFAULT_SELECTION), [])
    assert scale_catalog.parse_selection("") == (list(scale_catalog.DEFAULT_SELECTION), [])
    assert scale_catalog.parse_selection("GPT3-175B, bert-base,bert-base,nope") == (["gpt3-175b", "bert-base"], ["nope"])
    assert set(scale_catalog.DEFAULT_SELECTION) <= set(scale_catalog.by_key())


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_selection_never_raises(raw):
    known, unknown = scale_catalog.parse_selection(raw)
    assert set(known) <= set(scale_catalog.by_key())
    assert all(len(u) <= 40 for u in unknown)


def test_categorize_rejects_unknown_names():
    with pytest.raises(ValueError):
        meta_device.categorize("something.weird.weight")


# -- BERT fill-mask ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_bert_folder(tmp_path_factory):
    need_shared()
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    tok = AutoTokenizer.from_pretrained(str(BERT_TOKENIZER))
    torch.manual_seed(0)
    m = BertForMaskedLM(BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=128, max_position_embeddings=64)).eval()
    folder = tmp_path_factory.mktemp("tiny-bert")
    m.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_fill_mask_matches_transformers_pipeline(tiny_bert_folder):
    from transformers import pipeline

    text = "She opened the [MASK] and walked in."
    ours = masked_lm.MaskedLM.load(str(tiny_bert_folder)).fill(text, top_k=5)
    oracle = pipeline("fill-mask", model=str(tiny_bert_folder), tokenizer=str(tiny_bert_folder), top_k=5)(text)
    assert [g.token for g in ours] == [o["token_str"].strip() for o in oracle]
    assert [g.prob for g in ours] == pytest.approx([o["score"] for o in oracle], rel=1e-4)


def test_fill_mask_needs_a_mask_and_survives_odd_text(tiny_bert_folder):
    lm = masked_lm.MaskedLM.load(str(tiny_bert_folder))
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        lm.fill("no blank here")
    assert len(lm.fill("🙂 \x07 [MASK] 中文 " * 3, top_k=3)) == 3
    long_text = "word " * 5000 + "[MASK]" + " end" * 5000  # far past the 64-token context: a window around the mask
    assert len(lm.fill(long_text, top_k=2)) == 2


def test_bert_weights_offline_fail_fast_and_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.network_available.cache_clear()
    if hub.cached_snapshot("google-bert/bert-base-uncased") is not None:
        pytest.skip("bert-base-uncased is in this machine's hub cache")
    with pytest.raises(hub.ModelUnavailable, match="no network"):  # raised by resolve(), before any hub call
        masked_lm.MaskedLM.load("google-bert/bert-base-uncased")
    hub.network_available.cache_clear()


@given(st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=3000))
@settings(max_examples=200, deadline=None)
def test_clean_sentence_leaves_encodable_printable_text(text):
    cleaned = masked_lm.clean_sentence(text)
    cleaned.encode("utf-8")  # no lone surrogates left
    assert len(cleaned) <= masked_lm.MAX_SENTENCE
    assert all(c in "\n\t" or not (ord(c) < 32 or 127 <= ord(c) < 160) for c in cleaned)


def test_clean_sentence_examples():
    assert masked_lm.clean_sentence("a\ud800b\x00c\x07 [MASK]\n🙂") == "abc [MASK]\n🙂"


def test_flops_per_token_leave_out_the_untied_output_head():
    """Kaplan et al. 2020 (Table 1): C_forward ≈ 2N + 2·L·n_ctx·d with N ≈ 12·L·d² non-embedding parameters,
    embedding and unembedding both excluded: L=12, d=768, V=50257, n_ctx=1024 gives 1.9e8 forward, 5.7e8 training,
    tied or not."""
    L, d, ctx = 12, 768, 1024
    kaplan_forward = 2 * 12 * L * d * d + 2 * L * ctx * d
    for tied in (True, False):
        f = scale.flops_per_token(scale.gpt2_spec(L, d, 12, 50257, ctx, tied=tied))
        assert f"{f['forward']:.1e}" == "1.9e+08" and f"{f['training']:.1e}" == "5.7e+08"
        assert abs(f["forward"] / kaplan_forward - 1) < 0.01  # biases and norms are the rest
    untied = scale.flops_per_token(scale.Spec("llama", 4, 256, 4, 4096, 256, 688, tied=False))
    tied = scale.flops_per_token(scale.Spec("llama", 4, 256, 4, 4096, 256, 688, tied=True))
    assert untied == tied
