"""Count a model's parameters a second way: build the real transformers class on the meta device.

The config is written here in code from a `scale.Spec` (no downloads, no memory), and the parameters are
summed and sorted into the same parts as `scale.breakdown`, so the two counts check each other.
"""

from __future__ import annotations

import functools
import re

from lib.scale.maths import Spec


def hf_class_and_config(spec: Spec):
    """The transformers model class and a config written here in code (nothing is downloaded)."""
    import transformers as tf

    s, common = spec, dict(vocab_size=spec.vocab, tie_word_embeddings=spec.tied)
    if s.family == "gpt2":
        special = min(50256, s.vocab - 1)  # GPT-2's <|endoftext|>, kept inside small vocabularies
        return tf.GPT2LMHeadModel, tf.GPT2Config(n_layer=s.layers, n_embd=s.d_model, n_head=s.heads, n_positions=s.context,
                                                   n_inner=s.d_ff, bos_token_id=special, eos_token_id=special, **common)
    if s.family == "bert":
        return tf.BertModel, tf.BertConfig(num_hidden_layers=s.layers, hidden_size=s.d_model, num_attention_heads=s.heads,
                                           intermediate_size=s.d_ff, max_position_embeddings=s.context, **common)
    if s.family == "t5":
        return tf.T5ForConditionalGeneration, tf.T5Config(d_model=s.d_model, d_ff=s.d_ff, num_layers=s.layers,
                                                          num_decoder_layers=s.decoder_layers, num_heads=s.heads,
                                                          d_kv=s.head_dim, **common)
    rope = dict(num_hidden_layers=s.layers, hidden_size=s.d_model, num_attention_heads=s.heads,
                num_key_value_heads=s.n_kv, intermediate_size=s.d_ff, max_position_embeddings=s.context, **common)
    if s.family == "llama":
        return tf.LlamaForCausalLM, tf.LlamaConfig(head_dim=s.head_dim, **rope)
    if s.family == "qwen2":
        return tf.Qwen2ForCausalLM, tf.Qwen2Config(**rope)
    if s.family == "olmo2":
        return tf.Olmo2ForCausalLM, tf.Olmo2Config(**rope)
    if s.family == "neox":
        rope.pop("num_key_value_heads")
        return tf.GPTNeoXForCausalLM, tf.GPTNeoXConfig(**rope)
    raise ValueError(f"no transformers class for family {s.family!r}")


_CATEGORY_PATTERNS = (  # first match wins: norms sit inside attention blocks, position biases inside attention
    ("Norms", re.compile(r"(^|\.)(ln_\w+|ln_f|layernorm|layer_norm|final_layer_norm|norm|\w+_layernorm|q_norm|k_norm|final_layer_norm)(\.|$)", re.I)),
    ("Embeddings", re.compile(r"(wte|wpe|word_embeddings|position_embeddings|token_type_embeddings|embed_tokens|embed_in|shared|relative_attention_bias)\.")),
    ("Output head", re.compile(r"^(lm_head|embed_out)\.")),
    ("Pooler", re.compile(r"(^|\.)pooler\.")),
    ("Attention", re.compile(r"(attn|attention|SelfAttention|EncDecAttention|self_attn)\.", re.I)),
    ("MLP", re.compile(r"(mlp|intermediate|output\.dense|DenseReluDense)\.")),
)


def categorize(param_name: str) -> str:
    for category, pattern in _CATEGORY_PATTERNS:
        if pattern.search(param_name):
            return category
    raise ValueError(f"no category for parameter {param_name!r}")


@functools.lru_cache(maxsize=128)
def meta_breakdown(spec: Spec) -> dict[str, int]:
    """Build the transformers model on the meta device (no memory, no download) and sort its parameters.

    Shared (tied) tensors are counted once, as `named_parameters()` lists them once.
    """
    import torch

    cls, config = hf_class_and_config(spec)
    with torch.device("meta"):
        model = cls(config)
    totals: dict[str, int] = {}
    for name, p in model.named_parameters():
        category = categorize(name)
        totals[category] = totals.get(category, 0) + p.numel()
    return totals


def meta_count(spec: Spec) -> int:
    return sum(meta_breakdown(spec).values())
