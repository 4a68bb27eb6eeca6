"""Look inside a causal LM: the logit lens and the attention pattern, from one forward pass.

Logit lens: each layer's hidden state (the residual stream) sent through the model's own final
norm and output head, as if the model stopped there. Row 0 is the embeddings, row L the last
layer's output, so row L is exactly what the model predicts. Some models return
`hidden_states[-1]` after the final norm (GPT-2, Llama in transformers 5.x), others before it;
we never use that entry: the last row is built from the input the final norm actually received
(a forward hook), so every row goes through norm and head exactly once.

Attention needs weights, which only the eager implementation returns; the model is switched to
eager for this one pass (under the model's lock) and back. Everything returned is plain NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

FINAL_NORM_NAMES = ("ln_f", "norm", "final_layer_norm", "final_layernorm", "norm_f", "final_norm")


@dataclass(frozen=True)
class Inside:
    ids: tuple[int, ...]
    top_ids: np.ndarray      # (L+1, T) int: each layer's top next token at each position
    top_probs: np.ndarray    # (L+1, T) float: its probability at that layer
    final_id: int            # the model's own prediction after the last position
    final_ranks: np.ndarray  # (L+1,) rank (1 = top) of final_id at each layer, last position
    final_probs: np.ndarray  # (L+1,) its probability at each layer, last position
    attentions: np.ndarray   # (L, H, T, T) float32: row = query position, column = key position

    @property
    def n_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def n_heads(self) -> int:
        return self.attentions.shape[1]


def final_norm(model):
    """The norm applied just before the output head, found by name, else the base model's last norm child."""
    base = getattr(model, "base_model", model)
    for holder in (base, getattr(base, "decoder", None), model):
        for name in FINAL_NORM_NAMES:
            module = getattr(holder, name, None) if holder is not None else None
            if module is not None and hasattr(module, "forward"):
                return module
    norms = [m for _, m in base.named_children() if "norm" in type(m).__name__.lower()]
    if not norms:
        raise ValueError(f"can't find the final norm of {type(model).__name__}")
    return norms[-1]


def head_scores(model, normed):
    """Output-head logits for final-norm outputs (any leading shape), with the model's logit soft-capping if it has one."""
    logits = model.get_output_embeddings()(normed)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        import torch

        logits = torch.tanh(logits / cap) * cap
    return logits


def _eager(model):
    """Context manager: the model uses eager attention (which returns weights) inside, its own outside."""
    import contextlib

    @contextlib.contextmanager
    def switch():
        before = model.config._attn_implementation
        if before != "eager":
            model.set_attn_implementation("eager")
        try:
            yield
        finally:
            if before != "eager":
                model.set_attn_implementation(before)

    return switch()


def look_inside(model, ids: Sequence[int], lock=None) -> Inside:
    """One forward pass with hidden states and attentions; the lens for every (layer, position).

    `lock`, when given, guards the pass (a model shared between sessions)."""
    import contextlib

    import torch

    ids = tuple(int(i) for i in ids)
    if not ids:
        raise ValueError("an empty prompt has nothing to look inside")
    norm = final_norm(model)
    captured = []
    hook = norm.register_forward_hook(lambda mod, args, out: captured.append(args[0]))
    try:
        with (lock or contextlib.nullcontext()), torch.inference_mode(), _eager(model):
            out = model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True, use_cache=False)
    finally:
        hook.remove()
    if len(captured) != 1 or out.attentions is None or any(a is None for a in out.attentions):
        raise ValueError(f"{type(model).__name__} did not expose its final norm or attention weights")
    residual = list(out.hidden_states[: len(out.attentions)]) + [captured[0]]  # L+1 x (1, T, d), all before the norm
    final_id = int(out.logits[0, -1].argmax())

    n, t = len(residual), len(ids)
    top_ids, top_probs = np.zeros((n, t), np.int64), np.zeros((n, t), np.float32)
    final_ranks, final_probs = np.zeros(n, np.int64), np.zeros(n, np.float32)
    with torch.inference_mode():
        for layer, h in enumerate(residual):  # one (T, vocab) block at a time keeps memory small
            logp = torch.log_softmax(head_scores(model, norm(h[0])).float(), dim=-1)  # (T, vocab)
            best = logp.max(dim=-1)
            top_ids[layer], top_probs[layer] = best.indices.numpy(), best.values.exp().numpy()
            last = logp[-1]
            final_ranks[layer] = int((last > last[final_id]).sum()) + 1
            final_probs[layer] = float(last[final_id].exp())
    attentions = torch.cat([a.float() for a in out.attentions]).numpy()  # (L, H, T, T)
    return Inside(ids, top_ids, top_probs, final_id, final_ranks, final_probs, attentions)


# -- finding heads -------------------------------------------------------------------------------
HEAD_PATTERNS = {
    "previous token": "attention from each token to the one just before it",
    "first token": "attention from each token to the very first token (a common 'resting place')",
    "itself": "attention from each token to itself",
}


def head_scores_table(attentions: np.ndarray, pattern: str) -> np.ndarray:
    """(L, H) mean attention weight on the pattern's key, over query positions 1..T-1 (position 0 can only see itself)."""
    a = np.asarray(attentions)  # (L, H, T, T)
    t = a.shape[-1]
    if t < 2:
        return np.zeros(a.shape[:2])
    q = np.arange(1, t)
    key = {"previous token": q - 1, "first token": np.zeros_like(q), "itself": q}[pattern]
    return a[:, :, q, key].mean(axis=-1)


def top_heads(attentions: np.ndarray, pattern: str, n: int = 5) -> list[tuple[int, int, float]]:
    """The n (layer, head, score) with the highest score for a pattern, best first (layers and heads from 0)."""
    scores = head_scores_table(attentions, pattern)
    order = np.argsort(-scores, axis=None, kind="stable")[:n]
    return [(int(i // scores.shape[1]), int(i % scores.shape[1]), float(scores.flat[i])) for i in order]
