"""Logit lens and attention against transformers itself (random weights, real architectures)."""

import functools

import numpy as np
import pytest
import torch

from lib.models.inside import look_inside, top_heads

IDS = [464, 3290, 286, 4881, 318, 6342, 13, 383, 3139, 286, 4486, 318]


@functools.cache
def gpt2(tie_last=None):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=3, n_embd=64, n_head=4, n_positions=64)  # real 50,257 vocabulary
    if tie_last is not None:
        cfg.tie_last_hidden_states = tie_last
    return GPT2LMHeadModel(cfg).eval()


@functools.cache
def llama(tied=False):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    cfg = LlamaConfig(num_hidden_layers=3, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=8000, tie_word_embeddings=tied, rms_norm_eps=1e-5)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # random init leaves the RMSNorm weight at 1: make the final norm matter
        model.model.norm.weight.uniform_(0.2, 3.0)
    return model


MODELS = {"gpt2": gpt2, "gpt2-untied-last": lambda: gpt2(False), "llama": llama, "llama-tied": lambda: llama(True)}


def oracle_probs(model, ids):
    with torch.no_grad():
        return torch.softmax(model(torch.tensor([ids])).logits[0].double(), -1).numpy()  # (T, vocab)


@pytest.mark.parametrize("name", MODELS)
def test_last_layer_of_the_lens_is_the_models_own_prediction(name):
    model = MODELS[name]()
    before = model.config._attn_implementation
    data = look_inside(model, IDS)
    assert model.config._attn_implementation == before  # switched back after the pass
    probs = oracle_probs(model, IDS)
    np.testing.assert_array_equal(data.top_ids[-1], probs.argmax(-1))
    np.testing.assert_allclose(data.top_probs[-1], probs.max(-1), rtol=1e-4)
    assert data.final_id == probs[-1].argmax() and data.final_ranks[-1] == 1
    np.testing.assert_allclose(data.final_probs[-1], probs[-1].max(), rtol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_every_layer_goes_through_the_named_final_norm_and_head(name):
    model = MODELS[name]()
    norm = model.transformer.ln_f if hasattr(model, "transformer") else model.model.norm
    captured = []
    blocks = model.transformer.h if hasattr(model, "transformer") else model.model.layers
    hooks = [b.register_forward_hook(lambda m, a, out: captured.append(out[0] if isinstance(out, tuple) else out))
             for b in blocks]
    with torch.no_grad():
        out = model(torch.tensor([IDS]), output_hidden_states=True)
    for h in hooks:
        h.remove()
    residual = [out.hidden_states[0]] + captured  # embeddings, then each block's output (before the final norm)
    data = look_inside(model, IDS)
    assert data.top_ids.shape == (len(blocks) + 1, len(IDS))
    for layer, h in enumerate(residual):
        with torch.no_grad():
            p = torch.softmax((norm(h[0]) @ model.lm_head.weight.T).double(), -1).numpy()
        np.testing.assert_array_equal(data.top_ids[layer], p.argmax(-1))
        np.testing.assert_allclose(data.top_probs[layer], p.max(-1), rtol=1e-4)
        rank = (p[-1] > p[-1, data.final_id]).sum() + 1
        assert data.final_ranks[layer] == rank


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_attention_matches_transformers_eager_attentions(name):
    model = MODELS[name]()
    data = look_inside(model, IDS)
    a = data.attentions
    assert a.shape == (3, 4, len(IDS), len(IDS))
    np.testing.assert_allclose(a.sum(-1), 1, atol=1e-5)
    assert np.all(np.triu(a, k=1) == 0)
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            ref = torch.cat(model(torch.tensor([IDS]), output_attentions=True).attentions).numpy()
    finally:
        model.set_attn_implementation(before)
    np.testing.assert_allclose(a, ref, atol=1e-6)


def test_outputs_do_not_change():
    model = gpt2()
    before = oracle_probs(model, IDS)
    look_inside(model, IDS)
    np.testing.assert_array_equal(oracle_probs(model, IDS), before)


def test_top_heads_finds_a_planted_previous_token_head():
    t = 6
    a = np.tile(np.tril(np.ones((t, t))) / np.arange(1, t + 1)[:, None], (2, 3, 1, 1))  # uniform causal attention
    a[1, 2] = np.eye(t, k=-1)
    a[1, 2, 0, 0] = 1
    a[0, 1] = 0
    a[0, 1, :, 0] = 1
    assert top_heads(a, "previous token", 1)[0][:2] == (1, 2)
    assert top_heads(a, "previous token", 1)[0][2] == pytest.approx(1.0)
    assert top_heads(a, "first token", 1)[0][:2] == (0, 1)


def test_empty_prompt_is_refused():
    with pytest.raises(ValueError, match="empty"):
        look_inside(gpt2(), [])
