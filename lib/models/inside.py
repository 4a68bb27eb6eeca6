"""Look inside a causal LM: the logit lens and the attention pattern, from one forward pass.

Logit lens: each layer's hidden state (the residual stream) sent through the model's own final
norm and output head, as if the model stopped there. Row 0 is the embeddings, row L the last
layer's output, so row L is exactly what the model predicts. Some models return
`hidden_states[-1]` after the final norm (GPT-2, Llama in transformers 5.x: `capture_outputs`
ties it to `last_hidden_state`), others before it; we never use that entry: row L is the model's
own logits, and rows 0..L-1 (always before the norm) go through the norm and head once.

Some models scale their output logits (Granite `logits_scaling`, Cohere `logit_scale`, Falcon-H1
`lm_head_multiplier`, MiniCPM3 ...) inside their own forward, after the head. Every lens row must get the
same scaling, so the lens checks itself: the last block's output (captured at the final norm's input) goes
through norm, head and soft-capping, and must equal the model's own logits up to one scale factor, which
then applies to every row. A model whose logits are not reproduced that way is refused, never shown wrong.

Attention needs weights, which only the eager implementation returns; the model is switched to
eager for this one pass (under the model's lock, in its `forward`) and back. A model that cannot switch (Falcon warns and
keeps sdpa, whose weights then ignore the causal mask) gets eager through its config for the pass. The
weights are checked to be causal (nothing attends to a later position); otherwise the pass is refused.
Everything returned is plain NumPy.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from typing import Callable, ContextManager, Sequence

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


def output_logits(model, normed):
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
            if model.config._attn_implementation != "eager":  # the switch is refused with only a warning (Falcon)
                model.config._attn_implementation = "eager"
        try:
            yield
        finally:
            if model.config._attn_implementation != before:
                try:
                    model.set_attn_implementation(before)
                finally:
                    model.config._attn_implementation = before

    return switch()


def _capture_input(module, seen: list):
    """Context manager: `seen` receives the module's input tensor at each call inside it."""

    @contextlib.contextmanager
    def capture():
        def hook(_module, args, kwargs):
            first = args[0] if args else next(iter(kwargs.values()), None)
            seen.append(first)

        handle = module.register_forward_pre_hook(hook, with_kwargs=True)
        try:
            yield seen
        finally:
            handle.remove()

    return capture()


def lens_scale(model, norm, last_block_output, model_logits) -> float:
    """The factor that turns norm + head (+ soft-capping) of the last block's output into the model's own logits.

    1.0 for most models; Granite's 1/logits_scaling, Cohere's logit_scale and the like otherwise. A ValueError
    when no single factor reproduces the model's logits (the lens would be wrong on every row)."""

    ours = output_logits(model, norm(last_block_output)).float()  # (1, T, vocab)
    theirs = model_logits.float()
    if ours.shape != theirs.shape:
        raise ValueError(f"the logit lens can't reproduce {type(model).__name__}'s logits")
    scale = float((ours * theirs).sum() / (ours * ours).sum().clamp_min(1e-30))
    if abs(scale - 1.0) < 1e-6:
        scale = 1.0
    error = float((theirs - scale * ours).abs().max())
    if not math.isfinite(scale) or error > 1e-3 * max(1.0, float(theirs.abs().max())):
        raise ValueError(f"the logit lens can't reproduce {type(model).__name__}'s own logits from its last layer, "
                         "so its layer-by-layer view is not shown")
    return scale


def check_causal(attentions) -> None:
    """A ValueError unless every weight on a later position is zero (a causal LM's attention)."""
    import torch

    t = attentions[0].shape[-1]
    if t < 2:
        return
    later = torch.ones(t, t, dtype=torch.bool).triu(1)  # (T, T): key after query
    if any(float(a[..., later].float().abs().amax()) > 1e-4 for a in attentions):  # a: (1, H, T, T)
        raise ValueError("this model's attention weights are not causal here (its attention implementation "
                         "does not return the weights it uses), so they are not shown")


def forward_pass(model, input_ids, during: ContextManager | None = None, **kwargs):
    """One pass of a bare transformers model without gradients. `input_ids`: token ids or a (batch, T) tensor;
    kwargs go to the model; `during` is held for the pass alone. output_attentions=True switches the model to
    eager attention for this pass."""
    import torch

    batch = input_ids if torch.is_tensor(input_ids) else torch.tensor([[int(i) for i in input_ids]])
    eager = _eager(model) if kwargs.get("output_attentions") else contextlib.nullcontext()
    with torch.inference_mode(), eager, (during or contextlib.nullcontext()):
        return model(batch, **kwargs)


def look_inside(model, ids: Sequence[int], forward: Callable | None = None) -> Inside:
    """One forward pass with hidden states and attentions; the lens for every (layer, position).

    `forward(ids, during=..., **kwargs)` runs the pass: a shared model passes its own `forward`, which holds its
    lock; by default the bare model runs it (`forward_pass`)."""
    import torch

    ids = tuple(int(i) for i in ids)
    if not ids:
        raise ValueError("an empty prompt has nothing to look inside")
    norm = final_norm(model)
    seen: list = []
    run = forward or functools.partial(forward_pass, model)
    out = run(ids, during=_capture_input(norm, seen), output_hidden_states=True, output_attentions=True,
              use_cache=False)
    if out.attentions is None or any(a is None for a in out.attentions):
        raise ValueError(f"{type(model).__name__} did not return attention weights")
    check_causal(out.attentions)
    if not seen or seen[-1] is None:
        raise ValueError(f"can't find where {type(model).__name__} applies its final norm")
    n_layers, t = len(out.attentions), len(ids)
    with torch.inference_mode():
        scale = lens_scale(model, norm, seen[-1], out.logits)
    # Rows 0..L-1: embeddings and each block's output, all before the final norm. hidden_states[L] may or may
    # not have the norm applied already (it depends on the model), so row L is the model's own logits.
    residual = torch.cat(out.hidden_states[:n_layers])  # (L, T, d)
    final_id = int(out.logits[0, -1].argmax())
    top_ids, top_probs = np.zeros((n_layers + 1, t), np.int64), np.zeros((n_layers + 1, t), np.float32)
    final_ranks, final_probs = np.zeros(n_layers + 1, np.int64), np.zeros(n_layers + 1, np.float32)

    def score(layers: slice, logits) -> None:  # logits (rows, T, vocab)
        logits = logits.float()
        best = logits.max(dim=-1)
        lse = torch.logsumexp(logits, dim=-1)  # (rows, T)
        top_ids[layers], top_probs[layers] = best.indices.numpy(), (best.values - lse).exp().numpy()
        last = logits[:, -1]  # (rows, vocab)
        target = last[:, final_id : final_id + 1]
        final_ranks[layers] = ((last > target).sum(-1) + 1).numpy()
        final_probs[layers] = (target[:, 0] - lse[:, -1]).exp().numpy()

    rows = max(1, 512 // t)  # layers per head matmul: one big matmul is faster, a bounded one keeps memory small
    with torch.inference_mode():
        for start in range(0, n_layers, rows):
            chunk = slice(start, min(n_layers, start + rows))
            score(chunk, scale * output_logits(model, norm(residual[chunk])).float())  # (rows, T, vocab)
        score(slice(n_layers, n_layers + 1), out.logits)
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
