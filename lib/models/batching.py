"""Continuous batching: one background thread per model runs every session's generation, one forward pass per step.

A class pressing Generate together used to queue 300 sequences of forward passes behind one lock, while a small
model's pass costs about the same for 1 row or 100. Here each request becomes a `Sequence` with its own knobs,
seed, stopping rule and KV cache; a request arriving mid-batch joins at the next step (as vLLM's scheduler does,
in-process). Identical requests in flight (a class on the same link and seed) share one sequence.

Same link, same text: a sequence's logits must not depend on who else is in the batch. On CPU a matrix product's
rows change in the last bits with the number of rows (PyTorch picks another kernel below 4 rows here), and a
left-padded batch with an attention mask differs by ~4e-6. So, for GPT-2 models (the bundled pocket-lm family and
gpt2 itself), a step runs the row-wise layers (projections, MLP, output head) on all sequences at once with the
batch padded to at least `MIN_ROWS` rows, and attention per sequence over its own cache, with the shapes it would
have alone. The prompt's first pass (prefill) is each sequence's own. Other architectures step each sequence
alone, still interleaved by this thread: the same text, without the batching speed-up.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence as Seq

import numpy as np

if TYPE_CHECKING:
    from lib.sampling.knobs import Knobs

MIN_ROWS = 16    # batched row-wise layers never run with fewer rows, so their kernel (and bits) never change
MAX_ACTIVE = 128  # sequences per step; later requests join as earlier ones finish
PAUSE_SHARE, MAX_PAUSE_S = 0.25, 0.05  # after each step, pause a quarter of its time (at most 50 ms) ...
PAUSE_FROM = 8                          # ... when it ran this many sequences or more
IDLE_EXIT_S = 60.0  # the loop's thread ends after this long without work
WINDOW_NOTE = "The text outgrew the context, so the oldest tokens were dropped as it went on."


@dataclass(eq=False)
class Sequence:
    """One request being generated: its own ids, random generator, steps and KV cache."""

    key: tuple
    ids: list[int]
    max_new_tokens: int
    knobs: Knobs | None
    seed: int
    n_alternatives: int
    use_cache: bool = True
    rng: np.random.Generator = field(init=False)
    steps: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cache: Any = None  # batched: per layer (keys, values), each (H, capacity, D); else the model's own cache
    cached: int = 0             # positions held in `cache`
    listeners: list[queue.SimpleQueue] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)

    def tell(self, message) -> None:
        for listener in self.listeners:
            listener.put(message)


class Scheduler:
    """The one generation loop of a model (`lib.models.next_token.HFCausalLM`). Thread-safe."""

    def __init__(self, lm, min_rows: int = MIN_ROWS, max_active: int = MAX_ACTIVE):
        self.lm, self.min_rows, self.max_active = lm, min_rows, max_active
        self.batched = batchable(lm.model)
        self._wake = threading.Condition()
        self._pending: list[Sequence] = []
        self._active: list[Sequence] = []
        self._thread: threading.Thread | None = None
        self.largest_batch = 0  # for tests and benchmarks: the most sequences one step has run

    # -- requests (any thread) ---------------------------------------------------------------------------
    def generate(self, ids: Seq[int], max_new_tokens: int, knobs=None, seed: int = 0, n_alternatives: int = 10,
                 on_step: Callable[[int], None] | None = None, use_cache: bool = True) -> Sequence:
        """Queue a request and wait for it; `on_step(i)` is called in the caller's thread after token i."""
        return wait_for(self.submit(ids, max_new_tokens, knobs, seed, n_alternatives, use_cache), on_step)

    def submit(self, ids: Seq[int], max_new_tokens: int, knobs=None, seed: int = 0, n_alternatives: int = 10,
               use_cache: bool = True) -> queue.SimpleQueue:
        """Queue a request without waiting: the queue receives each step's count, then the finished Sequence."""
        ids = [int(i) for i in ids]
        if not ids:
            raise ValueError("an empty prompt has no next token")
        if not all(0 <= i < self.lm.vocab_size for i in ids):
            raise ValueError(f"token ids must be between 0 and {self.lm.vocab_size - 1}")
        key = (tuple(ids), int(max_new_tokens), knobs, int(seed), int(n_alternatives), bool(use_cache))
        listener: queue.SimpleQueue = queue.SimpleQueue()
        with self._wake:
            same = next((s for s in self._pending + self._active if s.key == key), None)
            if same is None:
                same = Sequence(key, ids, int(max_new_tokens), knobs, int(seed), int(n_alternatives), bool(use_cache))
                if same.max_new_tokens <= 0:
                    listener.put(same)
                    return listener
                self._pending.append(same)
            same.listeners.append(listener)
            self._start()
            self._wake.notify()
        return listener

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=f"generate:{self.lm.name}", daemon=True)
            self._thread.start()

    # -- the loop (its own thread) -----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._active:
                    if not self._wake.wait(IDLE_EXIT_S):
                        self._thread = None  # idle: let an evicted model be freed; the next request restarts it
                        return
                room = self.max_active - len(self._active)
                self._active += self._pending[:room]
                del self._pending[:room]
                active = list(self._active)
            started = time.perf_counter()
            finished = self.run_step(active)
            with self._wake:
                self._active = [s for s in self._active if s not in finished]
            for seq in finished:
                seq.cache = None  # free its buffers
                seq.tell(seq)
            # One interpreter runs this loop and every session's script: while a class generates, leave the
            # scripts a share of it between steps, so a slider moved meanwhile is not queued behind the batch.
            if len(active) >= PAUSE_FROM:
                time.sleep(min(MAX_PAUSE_S, PAUSE_SHARE * (time.perf_counter() - started)))

    def run_step(self, active: list[Sequence]) -> set[Sequence]:
        """One forward pass for every active sequence, then one token each; returns those done (or failed).
        The loop calls it; tests call it directly to choose who is in the batch at each step."""
        import torch

        try:
            with self.lm.forward_lock, torch.inference_mode():
                logits = self._batched(active) if self.batched else [self._alone(seq) for seq in active]
            self.largest_batch = max(self.largest_batch, len(active))
            return self._advance(active, np.stack(logits))
        except Exception as exc:  # noqa: BLE001 - each request's own thread raises it; the loop goes on
            for seq in active:
                seq.error = exc
            return set(active)

    def _advance(self, active: list[Sequence], logits: np.ndarray) -> set[Sequence]:
        """Each sequence picks its next token from its row of `logits` (B, vocab; float32, as generate() casts them)
        with its own knobs and random generator; returns those that are done."""
        from lib.sampling.apply import pick_next

        tokens = [pick_next(row, seq.knobs, seq.ids, seq.rng) for seq, row in zip(active, logits)]
        steps = summarize(self.lm, logits, tokens, [seq.n_alternatives for seq in active])
        done = set()
        for seq, token, step in zip(active, tokens, steps):
            seq.steps.append(step)
            seq.ids.append(token)
            seq.tell(len(seq.steps))
            if len(seq.steps) >= seq.max_new_tokens or token == self.lm.tokenizer.eos_token_id:
                done.add(seq)
        return done

    def _window(self, seq: Sequence) -> list[int]:
        """What a sequence without a cache feeds: its last `context_length` tokens (the window slides)."""
        window = self.lm.context_length
        if len(seq.ids) > window and not seq.notes:
            seq.notes.append(WINDOW_NOTE)
        seq.cached = 0
        return seq.ids[-window:]

    def _batched(self, active: list[Sequence]) -> list[np.ndarray]:
        """A GPT-2's pass for all: a new sequence feeds its window, one with a cache its last token."""
        window = self.lm.context_length
        feeds = []
        for seq in active:
            if seq.cache is None:
                feeds.append(self._window(seq))
                capacity = min(window, len(feeds[-1]) + seq.max_new_tokens - len(seq.steps))
                seq.cache = new_cache(self.lm.model.config, capacity)
            else:
                feeds.append(seq.ids[-1:])
        logits = batched_step(self.lm.model, active, feeds, self.min_rows)  # (B, vocab)
        for seq, feed in zip(active, feeds):
            seq.cached += len(feed)
            if not seq.use_cache or seq.cached >= window:
                seq.cache = None  # the next token would fall outside the context: slide the window from now on
        return list(logits.numpy())

    def _alone(self, seq: Sequence) -> np.ndarray:
        """Any other model: this sequence's own pass through the model, with the model's own cache."""
        import torch

        lm = self.lm
        if seq.cache is None:
            feed = self._window(seq)
            out = lm.model(torch.tensor([feed]), use_cache=seq.use_cache, **lm.last_only)
            seq.cached = len(feed)
        else:
            out = lm.model(torch.tensor([seq.ids[-1:]]), past_key_values=seq.cache, use_cache=True, **lm.last_only)
            seq.cached += 1
        keep = seq.use_cache and seq.cached < lm.context_length
        seq.cache = out.past_key_values if keep else None
        return out.logits[0, -1].float().numpy()  # (vocab,)


def summarize(lm, logits: np.ndarray, tokens: list[int], counts: list[int]) -> list:
    """One `Step` per row: the chosen token's row (rank, probability), the top `counts[i]` alternatives and the
    entropy, computed for the whole batch at once, each row on its own (row-wise reductions, so a row's numbers do
    not depend on the others). Same maths as lib.sampling.distribution's log_softmax, order and entropy_nats."""
    import torch

    from lib.sampling.distribution import Step, TokenRow

    x = logits.astype(np.float64)  # (B, V)
    top_score = x.max(axis=1, keepdims=True)
    lp = x - (top_score + np.log(np.exp(x - top_score).sum(axis=1, keepdims=True)))  # (B, V) log-probabilities
    rows = np.arange(len(tokens))
    chosen = lp[rows, tokens]  # (B,)
    ranks = (lp > chosen[:, None]).sum(axis=1) + 1
    entropy = -(np.exp(lp) * lp).sum(axis=1)  # a model's logits are finite, so every log-probability is too
    n = min(max(1, *counts), lp.shape[1])
    # the n most likely by the float32 logits: the same order as their log-probabilities (one shift per row)
    top = torch.topk(torch.from_numpy(logits), n, dim=1, sorted=False).indices.numpy()
    scores = np.take_along_axis(lp, top, axis=1)
    order = np.lexsort((top, -scores), axis=1)  # most likely first, ties by id
    top, scores = np.take_along_axis(top, order, axis=1), np.take_along_axis(scores, order, axis=1)
    probs = np.exp(scores)
    cums = np.cumsum(probs, axis=1)

    def row(rank: int, i: int, logprob: float, prob: float, cum: float) -> TokenRow:
        return TokenRow(rank, i, lm.texts[i], lm.raws[i], lm.label(i), logprob, prob, cum)

    return [Step(row(int(ranks[b]), int(token), float(chosen[b]), float(np.exp(chosen[b])), float("nan")),
                 tuple(row(r + 1, int(top[b, r]), float(scores[b, r]), float(probs[b, r]), float(cums[b, r]))
                       for r in range(max(1, counts[b]))),
                 float(entropy[b]))
            for b, token in enumerate(tokens)]


def wait_for(listener: queue.SimpleQueue, on_step: Callable[[int], None] | None = None) -> Sequence:
    """The finished Sequence a `Scheduler.submit` queue ends with; `on_step(i)` after each token meanwhile."""
    while True:
        message = listener.get()
        if isinstance(message, Sequence):
            if message.error is not None:
                raise message.error
            return message
        if on_step is not None:
            on_step(message)


def new_cache(config, capacity: int) -> list:
    """Per layer, key and value buffers (H, capacity, D) for one sequence."""
    import torch

    heads = config.n_head
    shape = (heads, capacity, config.n_embd // heads)
    return [(torch.empty(shape), torch.empty(shape)) for _ in range(config.n_layer)]


def batchable(model) -> bool:
    """A plain GPT-2 (self-attention only, the upcast-and-reorder variant off): `batched_step` runs it."""
    cfg = model.config
    return (cfg.model_type == "gpt2" and not getattr(cfg, "add_cross_attention", False)
            and not getattr(cfg, "reorder_and_upcast_attn", False) and not getattr(cfg, "scale_attn_by_inverse_layer_idx", False)
            and hasattr(model, "transformer"))


def padded(rows, min_rows: int):
    """`rows` (n, ...) with zero rows added up to `min_rows`: a product's kernel, and so its bits, depend on n."""
    import torch

    if rows.shape[0] >= min_rows:
        return rows
    return torch.cat([rows, rows.new_zeros((min_rows - rows.shape[0], *rows.shape[1:]))])


def batched_step(model, seqs: list[Sequence], feeds: list[list[int]], min_rows: int):
    """One pass of a GPT-2 for every sequence: `feeds[i]` are sequence i's new tokens, at positions from
    `seqs[i].cached`. The row-wise layers run on all new tokens at once (at least `min_rows` rows); attention runs
    per sequence over its own cache. Returns float32 logits (B, vocab) at each sequence's last new token."""
    import torch

    gpt = model.transformer
    tokens = torch.tensor([t for feed in feeds for t in feed])
    positions = torch.tensor([seq.cached + i for seq, feed in zip(seqs, feeds) for i in range(len(feed))])
    n = len(tokens)
    x = padded(gpt.wte(tokens) + gpt.wpe(positions), min_rows)  # (rows, C)
    for layer, block in enumerate(gpt.h):
        x = x + block.attn.c_proj(per_sequence_attention(block.attn, block.ln_1(x), seqs, feeds, layer))
        x = x + block.mlp(block.ln_2(x))
    last = torch.tensor([len(feed) for feed in feeds]).cumsum(0) - 1
    assert int(last[-1]) == n - 1
    return model.lm_head(gpt.ln_f(padded(x[last], min_rows)))[: len(seqs)].float()  # (B, vocab)


def per_sequence_attention(attn, h, seqs: list[Sequence], feeds: list[list[int]], layer: int):
    """GPT2Attention's core: q, k, v from one batched projection, then each sequence's new positions attend over
    its own cache. A new sequence attends causally over its prompt alone; sequences adding one token with equally
    long caches attend in one call, each on its own copied keys and values (the same shapes and layout as alone:
    scaled_dot_product_attention's rows do not depend on how many there are). Returns (rows, C)."""
    import torch
    from torch.nn.functional import scaled_dot_product_attention

    heads = (h.shape[0], attn.num_heads, attn.head_dim)
    q, k, v = (t.view(heads).transpose(0, 1) for t in attn.c_attn(h).split(attn.split_size, dim=-1))  # (H, rows, D)
    out = torch.zeros(heads[1], heads[0], heads[2], dtype=h.dtype)  # (H, rows, D)
    by_length: dict[int, list[tuple[int, Sequence]]] = {}
    start = 0
    for seq, feed in zip(seqs, feeds):
        n, t = len(feed), seq.cached
        new = slice(start, start + n)
        keys, values = seq.cache[layer]  # (H, capacity, D)
        keys[:, t : t + n], values[:, t : t + n] = k[:, new], v[:, new]
        if n > 1:  # a new sequence (t == 0): causal is the whole mask
            out[:, new] = scaled_dot_product_attention(q[None, :, new], keys[None, :, :n], values[None, :, :n],
                                                       is_causal=True, scale=attn.scaling)[0]  # (H, n, D)
        else:
            by_length.setdefault(t + 1, []).append((start, seq))
        start += n
    for length, group in by_length.items():
        rows = torch.tensor([row for row, _ in group])
        keys = torch.stack([seq.cache[layer][0][:, :length] for _, seq in group])  # (G, H, length, D)
        values = torch.stack([seq.cache[layer][1][:, :length] for _, seq in group])
        query = q[:, rows].transpose(0, 1).unsqueeze(2)  # (G, H, 1, D)
        mixed = scaled_dot_product_attention(query, keys, values, scale=attn.scaling)  # (G, H, 1, D)
        out[:, rows] = mixed[:, :, 0].transpose(0, 1)
    return out.transpose(0, 1).reshape(h.shape[0], -1)  # (rows, C)


def naive_padded_logits(model, prompts: list[list[int]]):
    """The naive way to batch (for the batch-invariance test and bench only): left-pad every prompt to the longest
    and run them together with an attention mask. Returns (B, vocab) last-position logits."""
    import torch

    longest = max(len(p) for p in prompts)
    ids = torch.tensor([[0] * (longest - len(p)) + list(p) for p in prompts])
    mask = torch.tensor([[0] * (longest - len(p)) + [1] * len(p) for p in prompts])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        return model(ids, attention_mask=mask, position_ids=positions).logits[:, -1].float()
