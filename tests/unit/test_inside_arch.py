"""The logit lens and attention on architectures with a twist, against the model itself.

Oracle for a lens row: the same model with its later blocks removed. Its own forward (embeddings, the first k
blocks, final norm, head and whatever scaling its forward applies) gives the logits the lens must show for
layer k. Models that scale their logits (Granite, Cohere, Cohere2, MiniCPM3, Falcon-H1) got the scaling only
on the last row before. Falcon's sdpa path returned non-causal weights; position 0 can only attend to itself.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from lib.models.inside import look_inside

IDS = [3, 17, 5, 42, 9, 11, 30]
SMALL = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
             num_key_value_heads=2)


def tiny(name: str):
    import transformers as tf

    configs = {
        "granite": lambda: tf.GraniteConfig(**SMALL, logits_scaling=4.0),
        "cohere": lambda: tf.CohereConfig(**SMALL, logit_scale=0.25),
        "cohere2": lambda: tf.Cohere2Config(**SMALL, logit_scale=0.25),
        "minicpm3": lambda: tf.MiniCPM3Config(**{**SMALL, "num_key_value_heads": 4}, dim_model_base=8, q_lora_rank=16, kv_lora_rank=16,
                                              qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8),
        "falcon_h1": lambda: tf.FalconH1Config(**SMALL, head_dim=8, lm_head_multiplier=0.25, mamba_d_ssm=None,
                                               mamba_expand=1, mamba_n_heads=4, mamba_d_state=8, mamba_d_conv=4,
                                               mamba_chunk_size=8),
    }
    torch.manual_seed(0)
    return tf.AutoModelForCausalLM.from_config(configs[name]()).eval()


def truncated(model, keep: int):
    """A copy of the model with only its first `keep` blocks."""
    short = copy.deepcopy(model)
    short.model.layers = short.model.layers[:keep]
    short.config.num_hidden_layers = keep
    try:
        short.config.layer_types = short.config.layer_types[:keep]
    except (AttributeError, TypeError):
        pass  # no per-layer types, or derived from num_hidden_layers (Falcon-H1)
    return short


@pytest.mark.parametrize("name", ["granite", "cohere", "cohere2", "minicpm3", "falcon_h1"])
def test_every_lens_row_is_the_model_cut_after_that_layer(name):
    model = tiny(name)
    inside = look_inside(model, IDS)
    n_layers = inside.n_layers
    for keep in range(1, n_layers + 1):
        with torch.inference_mode():
            logits = truncated(model, keep)(torch.tensor([IDS]), use_cache=False).logits[0].float()  # (T, vocab)
        probs = torch.softmax(logits, -1)
        np.testing.assert_allclose(inside.top_probs[keep], probs.max(-1).values.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(inside.final_probs[keep], float(probs[-1, inside.final_id]), rtol=1e-4)


@pytest.mark.parametrize("alibi", [False, True])
def test_falcon_attention_is_causal(alibi):
    from transformers import FalconConfig, FalconForCausalLM

    torch.manual_seed(0)
    model = FalconForCausalLM(FalconConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                           alibi=alibi)).eval()
    before = model.config._attn_implementation
    a = look_inside(model, IDS).attentions  # (L, H, T, T)
    np.testing.assert_allclose(a[:, :, 0, 0], 1.0, atol=1e-6)  # position 0 sees only itself
    assert np.triu(np.abs(a), 1).max() == 0.0
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    assert model.config._attn_implementation == before  # the shared model is left as it was
    with torch.inference_mode():  # and its own eager weights are what we showed
        eager = copy.deepcopy(model)
        eager.config._attn_implementation = "eager"
        ref = torch.cat(eager(torch.tensor([IDS]), output_attentions=True).attentions).numpy()
    np.testing.assert_allclose(a, ref, atol=1e-6)


def test_a_model_whose_logits_the_lens_cannot_reproduce_is_refused():
    model = tiny("granite")
    model.config.logits_scaling = 4.0
    head = model.lm_head

    class Shifted(torch.nn.Module):  # a non-linear twist no single factor explains
        def forward(self, x):
            return head(x) ** 2

    model.lm_head = Shifted()
    model.get_output_embeddings = lambda: head  # the lens would use the plain head
    with pytest.raises(ValueError, match="can't reproduce"):
        look_inside(model, IDS)
