"""Every number the model-scale page states in prose, against its published source or an independent count.

Oracles: transformers' own model classes built on the meta device (configs written here, nothing
downloaded), the GPT-3 paper's Table 2.1 (../shared/reference/facts.md), and the BERT paper's
pre-training schedule. Nothing here reads lib/scale's numbers to get an expected value.
"""

from __future__ import annotations

import re

import pytest
import torch
import transformers as tf

from tests.app.apptest import open_page


def page_text(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def meta_params(cls, config, embedding_names=()) -> tuple[int, int]:
    """(total parameters, parameters of the named embedding modules), counted by transformers on the meta device."""
    with torch.device("meta"):
        model = cls(config)
    total = sum(p.numel() for p in model.parameters())
    emb = sum(p.numel() for n, p in model.named_parameters() if any(e in n for e in embedding_names))
    return total, emb


def gpt_decoder(L, d, V=50257, C=2048):
    """GPT-2/GPT-3 decoder with tied embeddings, summed by hand: embeddings, per-layer blocks, final norm."""
    block = (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d) + 4 * d
    return V * d + C * d + L * block + 2 * d


# -- the opening line (pages/model-scale.py) ------------------------------------------------------------
def test_opening_sentence_matches_the_published_sizes():
    at = open_page("pages/model-scale.py")
    intro = at.markdown[0].value
    assert "110 million" in intro and "175 billion" in intro  # BERT README ✅; GPT-3 Table 2.1 ◐
    ratio = int(re.search(r"about ([\d,]+) times", intro).group(1).replace(",", ""))
    assert abs(ratio / (175e9 / 110e6) - 1) < 0.01


# -- GPT-3 13B: the count with d_model 5120 is 1.1% under the published 13.0B ---------------------------
def test_gpt3_13b_sentence_states_the_real_differences():
    at = open_page("pages/model-scale.py")
    text = page_text(at)
    with_5120, with_5140 = gpt_decoder(40, 5120), gpt_decoder(40, 5140)
    assert f"{with_5120:,}" in text and f"{with_5140:,}" in text
    for count in (with_5120, with_5140):
        assert f"{100 * (count / 13.0e9 - 1):+.1f}%" in text
    assert "-1.1%" in text and "within 1%" not in text


# -- embeddings share: computed for the selection --------------------------------------------------------
def test_embedding_share_sentence_for_bert_base_and_smollm2():
    bert, bert_emb = meta_params(tf.BertModel, tf.BertConfig(), ("embeddings.",))
    smol, smol_emb = meta_params(tf.LlamaForCausalLM, tf.LlamaConfig(
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, max_position_embeddings=8192, tie_word_embeddings=True), ("embed_tokens",))
    at = open_page("pages/model-scale.py", view="Where parameters live", models="bert-base,smollm2-135m")
    text = page_text(at)
    assert f"{bert_emb / bert:.1%} of BERT-base" in text and f"{smol_emb / smol:.1%} of SmolLM2 135M" in text
    assert "21.8%" in text and "21.0%" in text  # the figures
    assert "quarter to a third" not in text


# -- memory: one unit for weights and cards ---------------------------------------------------------------
def test_llama3_8b_bf16_fits_a_16_gib_card_and_the_units_say_so():
    n, _ = meta_params(tf.LlamaForCausalLM, tf.LlamaConfig(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, max_position_embeddings=8192, tie_word_embeddings=False))
    assert 16e9 < 2 * n < 16 * 2**30  # over 16 decimal GB, under 16 GiB: exactly the case the units decide
    at = open_page("pages/model-scale.py", view="Memory", models="llama-3-8b")
    text = page_text(at)
    assert "16 GiB = 17.2 GB" in text and "80 GiB = 85.9 GB" in text
    row = at.dataframe[0].value.set_index("model").loc["Llama 3 8B"]
    assert row["bf16"] == f"{2 * n / 1e9:.3g} GB · laptop, T4, A100, H100"
    assert row["fp32"].endswith("A100, H100")


# -- BERT's training tokens: processed, with the nominal figure named -----------------------------------
def test_bert_training_tokens_are_the_tokens_processed():
    steps, batch = 1_000_000, 256  # BERT paper, appendix A.2 ◐
    processed = steps * batch * (0.9 * 128 + 0.1 * 512)
    at = open_page("pages/model-scale.py", view="Compute and data", models="bert-base,gpt3-175b")
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["BERT-base", "training tokens"] == f"{processed / 1e9:.3g}B"
    source = table.loc["BERT-base", "source"]
    assert "processed" in source and f"{steps * batch * 512 / 1e9:.0f}B" in source  # the nominal count, named
    text = page_text(at)
    gpt3 = gpt_decoder(96, 12288)
    assert f"{6 * gpt3 * 300e9 / 1e23:.1f}×10²³" in text and "3.1×10²³" in text


# -- the builder's closest model: the ratio the right way round -----------------------------------------
@pytest.mark.parametrize("layers, expect_bigger", [(103, True), (80, False)])
def test_closest_model_ratio_reads_the_right_way(layers, expect_bigger):
    yours, gpt3 = gpt_decoder(layers, 12288), gpt_decoder(96, 12288)
    at = open_page("pages/model-scale.py", view="Build your own", L=str(layers), d="12288", h="96", V="50257",
                   ctx="2048")
    info = next(e.value for e in at.info if "Closest real model" in e.value)
    assert "GPT-3 175B" in info
    if expect_bigger:
        assert yours > gpt3 and f"yours is {yours / gpt3:.3g}× its size" in info
    else:
        assert yours < gpt3 and f"it is {gpt3 / yours:.3g}× yours" in info
