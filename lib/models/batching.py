"""Continuous batching: one background thread per model runs every session's generation, one forward pass per step.

A class pressing Generate together used to queue 300 sequences of forward passes behind one lock, while a small
model's pass costs about the same for 1 row or 100. Here each request becomes a `Sequence` with its own knobs,
seed, stopping rule and KV cache; a request arriving mid-batch joins at the next step (as vLLM's scheduler does,
in-process). Identical requests in flight (a class on the same link and seed) share one sequence.

Same link, same text: a sequence's logits must not depend on who else is in the batch. On CPU a matrix product's
rows change in the last bits with the number of rows (PyTorch picks another kernel below 4 rows here), and a
left-padded batch with an attention mask differs by ~4e-6. So, for GPT-2 models (the bundled pocket-lm family and
gpt2 itself), a step runs the row-wise layers (projections, MLP, output head) on all sequences at once with the
batch padded to at least `MIN_ROWS` rows, and attention over each sequence's own cache, as it would run alone (a
group's shared prompt is read once, as a product padded to `MIN_ROWS` rows: `AttentionPlan`). The prompt's first
pass (prefill) is each sequence's own, and computed once per prompt: a class on one link sends the same prompt with
300 seeds, so the others copy its keys, values and logits (`PromptCache`). Caches
live in pools of slots (`KVPool`), so a step writes and gathers a whole group of equally long caches in one
indexing call rather than one per sequence. Other architectures step each sequence alone, still interleaved by
this thread: the same text, without the batching speed-up.

On a machine with more cores, a big step is shared among `workers` threads (`Scheduler.in_parts`), each running
torch single-threaded on its own share of the sequences: a share is just a smaller batch, so the bits stay the same.
A page that shows only the text asks for no per-token readouts (`n_alternatives=0`), a tenth of a step's time.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor, wait
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence as Seq

import numpy as np

if TYPE_CHECKING:
    from lib.sampling.knobs import Knobs

MIN_ROWS = 16    # batched row-wise layers never run with fewer rows, so their kernel (and bits) never change
PART_ROWS = 32   # a step's sequences are split among the workers only when each part gets at least this many
MAX_ACTIVE = 384  # sequences per step (a class of 100 pressing "three continuations" is 300); later ones wait
SUMMARY_ROWS = 16  # rows summarised per array (512 KB of float64 for pocket-lm's vocabulary: cache-sized)
PROMPTS_KEPT, PROMPT_FLOATS = 32, 1 << 23  # prompt caches kept: at most 32 prompts and 8M floats (32 MB)
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
    picks: list[tuple[StepBatch, int]] = field(default_factory=list)  # per token: its step's readouts, its row
    notes: list[str] = field(default_factory=list)
    cache: Any = None  # the model's own cache (architectures stepped alone)
    slot: tuple[KVPool, int] | None = None  # batched: where its keys and values live
    cached: int = 0             # positions held in its cache
    prompt: PromptEntry | None = None  # batched: its prompt's pass, which attention reads instead of the slot's copy
    listeners: list[queue.SimpleQueue] = field(default_factory=list)  # told when it is done
    watchers: list[queue.SimpleQueue] = field(default_factory=list)   # told after every token, too
    error: BaseException | None = None

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)

    @property
    def steps(self) -> Steps:
        """Its tokens' readouts (`Step`s), each built when first read."""
        return Steps(self.picks)

    def tell(self, message) -> None:
        """Step counts go to the watchers only: waking 300 waiting threads at every step would queue them all
        for the interpreter, between the class's slider moves."""
        for listener in self.watchers if isinstance(message, int) else self.listeners + self.watchers:
            listener.put(message)


class Scheduler:
    """The one generation loop of a model (`lib.models.next_token.HFCausalLM`). Thread-safe."""

    def __init__(self, lm, min_rows: int = MIN_ROWS, max_active: int = MAX_ACTIVE, workers: int = 1):
        self.lm, self.min_rows, self.max_active = lm, min_rows, max_active
        self.workers = max(1, workers)
        self._helpers: ThreadPoolExecutor | None = None  # workers - 1 threads; this loop's thread is the first worker
        self.batched = batchable(lm.model)
        self._wake = threading.Condition()
        self._pending: list[Sequence] = []
        self._active: list[Sequence] = []
        self._thread: threading.Thread | None = None
        self.pools: dict[int, KVPool] = {}  # by capacity; only this loop's thread touches them
        self.prompts = PromptCache()
        self.largest_batch = 0  # for tests and benchmarks: the most sequences one step has run
        self.prefills = 0       # for tests and benchmarks: prompts this scheduler has run through the model
        self.split_steps = 0    # for tests and benchmarks: steps whose sequences were split among the workers

    # -- requests (any thread) ---------------------------------------------------------------------------
    def generate(self, ids: Seq[int], max_new_tokens: int, knobs=None, seed: int = 0, n_alternatives: int = 10,
                 on_step: Callable[[int], None] | None = None, use_cache: bool = True) -> Sequence:
        """Queue a request and wait for it; `on_step(i)` is called in the caller's thread after token i."""
        listener = self.submit(ids, max_new_tokens, knobs, seed, n_alternatives, use_cache, progress=on_step is not None)
        return wait_for(listener, on_step)

    def submit(self, ids: Seq[int], max_new_tokens: int, knobs=None, seed: int = 0, n_alternatives: int = 10,
               use_cache: bool = True, progress: bool = False) -> queue.SimpleQueue:
        """Queue a request without waiting: the queue receives the finished Sequence (with `progress`, each step's
        count before it)."""
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
            (same.watchers if progress else same.listeners).append(listener)
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
                        self.prompts.clear()
                        if self._helpers is not None:
                            self._helpers.shutdown(wait=False)
                            self._helpers = None
                        return
                room = self.max_active - len(self._active)
                self._active += self._pending[:room]
                del self._pending[:room]
                active = list(self._active)
            finished = self.run_step(active)
            with self._wake:
                self._active = [s for s in self._active if s not in finished]
            for seq in finished:
                seq.tell(seq)

    def run_step(self, active: list[Sequence]) -> set[Sequence]:
        """One forward pass for every active sequence, then one token each; returns those done (or failed).
        The loop calls it; tests call it directly to choose who is in the batch at each step."""
        import torch

        try:
            with self.lm.forward_lock, torch.inference_mode():
                logits = self._batched(active) if self.batched else [self._alone(seq) for seq in active]
            self.largest_batch = max(self.largest_batch, len(active))
            done = self._advance(active, np.stack(logits))
        except Exception as exc:  # noqa: BLE001 - each request's own thread raises it; the loop goes on
            for seq in active:
                seq.error = exc
            done = set(active)
        for seq in done:
            self._release(seq)
        return done

    def _advance(self, active: list[Sequence], logits: np.ndarray) -> set[Sequence]:
        """Each sequence picks its next token from its row of `logits` (B, vocab; float32, as generate() casts them)
        with its own knobs and random generator; returns those that are done."""
        from lib.sampling import apply

        def pick(a: int, b: int) -> StepBatch:
            part = active[a:b]
            tokens = apply.pick_many(logits[a:b], [seq.knobs for seq in part], [seq.ids for seq in part],
                                     [seq.rng for seq in part])
            return summarize(self.lm, logits[a:b], tokens, [seq.n_alternatives for seq in part])

        picked = [(batch, row) for batch in self.in_parts(pick, len(active)) for row in range(len(batch.tokens))]
        done, eos = set(), self.lm.tokenizer.eos_token_id  # read once: a tokenizer attribute costs ~3 µs a read
        for seq, (batch, row) in zip(active, picked):
            token = batch.tokens[row]
            seq.picks.append((batch, row))
            seq.ids.append(token)
            seq.tell(len(seq.picks))
            if len(seq.picks) >= seq.max_new_tokens or token == eos:
                done.add(seq)
        return done

    def _window(self, seq: Sequence) -> list[int]:
        """What a sequence without a cache feeds: its last `context_length` tokens (the window slides)."""
        window = self.lm.context_length
        if len(seq.ids) > window and not seq.notes:
            seq.notes.append(WINDOW_NOTE)
        seq.cached, seq.prompt = 0, None
        return seq.ids[-window:]

    def _batched(self, active: list[Sequence]) -> list[np.ndarray]:
        """A GPT-2's pass for all: a sequence with a cache feeds its last token, a new one its window, unless its
        prompt ran before or runs in this pass (then it copies that prompt's keys, values and logits)."""
        window = self.lm.context_length
        fed: list[tuple[int, Sequence, list[int]]] = []  # (index in active, sequence, its new tokens)
        copies: list[tuple[int, Sequence, tuple[int, ...]]] = []
        sources: dict[tuple[int, ...], PromptEntry | None] = {}  # prompt -> its first pass (None: in this pass)
        logits: list[Any] = [None] * len(active)
        needs = {seq: self._capacity(seq) for seq in active if seq.slot is None}  # the arriving ones
        for capacity, count in Counter(needs.values()).items():
            self._pool(capacity).reserve(count)  # a class arriving at once: each pool grows once, not ten times
        for i, seq in enumerate(active):
            if seq.slot is not None:
                fed.append((i, seq, seq.ids[-1:]))
                continue
            pool = self._pool(needs[seq])
            seq.slot, feed = (pool, pool.take()), self._window(seq)
            prompt = tuple(feed)
            if seq.picks:
                fed.append((i, seq, feed))  # a window that slid: its own pass
                continue
            if prompt not in sources:
                sources[prompt] = self.prompts.get(prompt)
                if sources[prompt] is None:
                    fed.append((i, seq, feed))  # the first with this prompt: its pass serves the others
                    continue
            copies.append((i, seq, prompt))
        if fed:
            seqs, feeds = [seq for _, seq, _ in fed], [f for _, _, f in fed]
            out = self.in_parts(lambda a, b: batched_step(self.lm.model, seqs[a:b], feeds[a:b], self.min_rows).numpy(),
                                len(fed))
            for row, (i, seq, feed) in zip((row for part in out for row in part), fed):  # (B, vocab)
                logits[i] = row
                if seq.cached == 0:
                    self.prefills += 1
                    if not seq.picks:
                        sources[tuple(feed)] = seq.prompt = self.prompts.keep(tuple(feed), seq, row)
                seq.cached += len(feed)
        for i, seq, prompt in copies:
            entry = sources[prompt]
            assert entry is not None  # kept above, in this pass or an earlier one
            logits[i] = entry.copy_into(seq)
        for seq in active:
            if not seq.use_cache or seq.cached >= window:
                self._release(seq)  # the next token would fall outside the context: slide the window from now on
        return logits

    def in_parts(self, work: Callable[[int, int], Any], n: int) -> list:
        """`work(a, b)` on contiguous shares of n sequences, side by side on the workers (each share is a smaller
        batch, and a row's bits do not depend on its batch); the results in order. A class's 300 sequences take
        a two-core machine's step from ~70 to ~40 ms. Each worker runs torch on one thread: no intra-op threads
        spin against the scripts. Shares only write their own sequences' slots; slots are taken before."""
        import torch

        parts = min(self.workers, n // PART_ROWS)
        if parts <= 1:
            return [work(0, n)]
        if self._helpers is None:
            self._helpers = ThreadPoolExecutor(self.workers - 1, thread_name_prefix=f"generate:{self.lm.name}")

        def in_inference_mode(a: int, b: int):
            with torch.inference_mode():  # a per-thread mode
                return work(a, b)

        bounds = [n * k // parts for k in range(parts + 1)]
        others = [self._helpers.submit(in_inference_mode, a, b) for a, b in zip(bounds[1:-1], bounds[2:])]
        self.split_steps += 1
        try:
            first = work(0, bounds[1])
        finally:  # a failed share fails the step, but only once no other share still writes into its slots
            wait(others)
        return [first, *(future.result() for future in others)]

    def _capacity(self, seq: Sequence) -> int:
        """The cache a sequence without a slot needs: its window and the tokens it still makes, as a power of two
        (so pools are few)."""
        window = self.lm.context_length
        need = min(window, min(len(seq.ids), window) + seq.max_new_tokens - len(seq.picks))
        return min(window, 1 << max(4, (need - 1).bit_length()))

    def _pool(self, capacity: int) -> KVPool:
        pool = self.pools.get(capacity)
        if pool is None:
            pool = self.pools[capacity] = KVPool(self.lm.model.config, capacity)
        return pool

    def _release(self, seq: Sequence) -> None:
        seq.cache = None
        if seq.slot is not None:
            pool, slot = seq.slot
            seq.slot = None
            if pool.give(slot):  # empty: free its buffers
                self.pools.pop(pool.capacity, None)

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


def summarize(lm, logits: np.ndarray, tokens: list[int], counts: list[int]) -> StepBatch:
    """The readouts of one step for every row that asks for them (`counts[i]` > 0; 0 is a text-only request):
    the chosen token's rank and probability, the top `counts[i]` alternatives and the entropy, computed for the
    whole batch at once, each row on its own (row-wise reductions, so a row's numbers do not depend on the others).
    Same maths as lib.sampling.distribution's log_softmax, order and entropy_nats."""
    wanted = [b for b, count in enumerate(counts) if count > 0]
    if not wanted:
        return StepBatch(lm, tokens, counts, None, {})
    n = min(max(counts), logits.shape[1])
    rows = logits if len(wanted) == len(tokens) else logits[wanted]
    chosen = [tokens[b] for b in wanted]
    parts = [readouts(rows[start : start + SUMMARY_ROWS], chosen[start : start + SUMMARY_ROWS], n)
             for start in range(0, len(wanted), SUMMARY_ROWS)]
    return StepBatch(lm, tokens, counts, tuple(np.concatenate(p) for p in zip(*parts)),
                     {b: i for i, b in enumerate(wanted)})


class StepBatch:
    """One step's readouts for a whole batch, as arrays (`readouts`); row b's `Step` is built when someone reads it.
    A class's 300 continuations carry 100,000 rows of alternatives, which /sampling never shows: building them in
    the loop cost more than the forward pass, mostly in the garbage collections their objects set off."""

    def __init__(self, lm, tokens: list[int], counts: list[int], columns: tuple[np.ndarray, ...] | None,
                 summarized: dict[int, int]):
        self.lm, self.tokens, self.counts, self.summarized = lm, tokens, counts, summarized  # row -> its readouts' row
        arrays: tuple[np.ndarray, ...] = columns or (np.empty(0),) * 8
        self.ranks, self.chosen, self.chosen_probs, self.entropy, self.top, self.scores, self.probs, self.cums = arrays

    def raw(self, b: int) -> bytes:
        return self.lm.raws[self.tokens[b]]

    def step(self, b: int):
        from lib.sampling.distribution import Step, TokenRow

        if b not in self.summarized:
            raise LookupError("this continuation was generated as text only (n_alternatives=0): it has no readouts")
        lm, token, count, b = self.lm, self.tokens[b], self.counts[b], self.summarized[b]
        texts, raws, label = lm.texts, lm.raws, lm.label
        rows = zip(range(1, count + 1), self.top[b, :count].tolist(), self.scores[b, :count].tolist(),
                   self.probs[b, :count].tolist(), self.cums[b, :count].tolist())
        return Step(TokenRow(int(self.ranks[b]), token, texts[token], raws[token], label(token),
                             float(self.chosen[b]), float(self.chosen_probs[b]), float("nan")),
                    tuple(TokenRow(r, i, texts[i], raws[i], label(i), score, prob, cum) for r, i, score, prob, cum in rows),
                    float(self.entropy[b]))


class Steps(SequenceABC):
    """A sequence's steps as a read-only sequence of `Step`s, each built from its batch's arrays on first read."""

    def __init__(self, picks: Seq[tuple[StepBatch, int]]):
        self._picks = tuple(picks)
        self._built: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self._picks)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        i = range(len(self))[index]  # negative indices; IndexError past the end
        if i not in self._built:
            batch, row = self._picks[i]
            self._built[i] = batch.step(row)
        return self._built[i]

    def __eq__(self, other) -> bool:
        if isinstance(other, (Steps, tuple, list)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    @property
    def raws(self) -> list[bytes]:
        """Each chosen token's bytes, without building any step (a text-only continuation has no other readout)."""
        return [batch.raw(row) for batch, row in self._picks]


def readouts(logits: np.ndarray, tokens: list[int], n: int) -> tuple[np.ndarray, ...]:
    """summarize's numbers for some rows (R, V): the chosen tokens' ranks, log-probabilities and probabilities, the
    entropies (R,), and the n most likely tokens with their log-probabilities, probabilities and running sums (R, n)."""
    import torch

    x = logits.astype(np.float64)  # (R, V)
    top_score = x.max(axis=1, keepdims=True)
    lp = x - (top_score + np.log(np.exp(x - top_score).sum(axis=1, keepdims=True)))  # (R, V) log-probabilities
    chosen = lp[np.arange(len(tokens)), tokens]  # (R,)
    ranks = (lp > chosen[:, None]).sum(axis=1) + 1
    entropy = -(np.exp(lp) * lp).sum(axis=1)  # a model's logits are finite, so every log-probability is too
    # the n most likely by the float32 logits: the same order as their log-probabilities (one shift per row)
    top = torch.topk(torch.from_numpy(logits), n, dim=1, sorted=False).indices.numpy()
    scores = np.take_along_axis(lp, top, axis=1)
    order = np.lexsort((top, -scores), axis=1)  # most likely first, ties by id
    top, scores = np.take_along_axis(top, order, axis=1), np.take_along_axis(scores, order, axis=1)
    probs = np.exp(scores)
    return ranks, chosen, np.exp(chosen), entropy, top, scores, probs, np.cumsum(probs, axis=1)


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


class KVPool:
    """The caches of every sequence with one capacity: per layer, keys and values (slots, H, capacity, D), a slot
    per sequence. A step writes and gathers all equally long caches of a pool with one indexing call each."""

    def __init__(self, config, capacity: int):
        self.capacity, self.layers = capacity, config.n_layer
        self.shape = (config.n_head, capacity, config.n_embd // config.n_head)
        self.keys: list = []
        self.values: list = []
        self.free: list[int] = []
        self.used = 0

    def take(self) -> int:
        self.reserve(1)
        self.used += 1
        return self.free.pop()

    def reserve(self, count: int) -> None:
        """Room for `count` more slots (growing copies every buffer, so a crowd grows it once)."""
        if len(self.free) < count:
            self._grow(self.used + count)

    def give(self, slot: int) -> bool:
        """Free a slot; True when no slot is in use any more."""
        self.free.append(slot)
        self.used -= 1
        return self.used == 0

    def _grow(self, at_least: int) -> None:
        import torch

        old = len(self.keys[0]) if self.keys else 0
        new = max(8, old + old // 2, at_least)

        def grown(buffer):
            out = torch.empty((new, *self.shape))  # untouched slots cost no memory until written
            if buffer is not None:
                out[:old] = buffer
            return out

        self.keys = [grown(b) for b in self.keys or [None] * self.layers]
        self.values = [grown(b) for b in self.values or [None] * self.layers]
        self.free.extend(range(new - 1, old - 1, -1))  # lowest slots first


@dataclass(eq=False)
class PromptEntry:
    """A prompt's first pass: per layer its keys and values (H, n, D), and its last position's logits (vocab,)."""

    keys: list
    values: list
    logits: np.ndarray

    @property
    def floats(self) -> int:
        return 2 * sum(k.numel() for k in self.keys)

    def copy_into(self, seq: Sequence) -> np.ndarray:
        """Give `seq` (with a fresh slot) this prompt's cache, as if it had run it; returns its logits."""
        assert seq.slot is not None
        pool, slot = seq.slot
        for layer, (keys, values) in enumerate(zip(self.keys, self.values)):
            pool.keys[layer][slot, :, : keys.shape[1]] = keys
            pool.values[layer][slot, :, : keys.shape[1]] = values
        seq.cached, seq.prompt = self.keys[0].shape[1], self
        return self.logits


class PromptCache:
    """The first pass of recent prompts, so a class on one link runs its prompt through the model once. The copy
    is exact, and the pass itself is the one the prompt would get alone (the batch does not change its bits)."""

    def __init__(self, kept: int = PROMPTS_KEPT, floats: int = PROMPT_FLOATS):
        self.kept, self.budget = kept, floats
        self._entries: OrderedDict[tuple[int, ...], PromptEntry] = OrderedDict()

    def get(self, prompt: tuple[int, ...]) -> PromptEntry | None:
        entry = self._entries.get(prompt)
        if entry is not None:
            self._entries.move_to_end(prompt)
        return entry

    def keep(self, prompt: tuple[int, ...], seq: Sequence, logits: np.ndarray) -> PromptEntry:
        """Store the pass `seq` has just run for `prompt` (its slot holds it); the oldest entries go past the limits,
        never the newest."""
        assert seq.slot is not None
        pool, slot, n = *seq.slot, len(prompt)
        entry = PromptEntry([k[slot, :, :n].clone() for k in pool.keys], [v[slot, :, :n].clone() for v in pool.values],
                            np.array(logits))
        self._entries[prompt] = entry
        while len(self._entries) > 1 and (len(self._entries) > self.kept
                                          or sum(e.floats for e in self._entries.values()) > self.budget):
            self._entries.popitem(last=False)
        return entry

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


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
    plan = AttentionPlan(seqs, feeds, min_rows)
    x = padded(gpt.wte(tokens) + gpt.wpe(positions), min_rows)  # (rows, C)
    for layer, block in enumerate(gpt.h):
        x = x + block.attn.c_proj(plan.attend(block.attn, block.ln_1(x), layer))
        x = x + mlp(block.mlp, block.ln_2(x))
    last = torch.tensor([len(feed) for feed in feeds]).cumsum(0) - 1
    assert int(last[-1]) == n - 1
    return model.lm_head(gpt.ln_f(padded(x[last], min_rows)))[: len(seqs)].float()  # (B, vocab)


def mlp(module, h):
    """GPT-2's MLP on `h` (rows, C). Its tanh GELU, transformers' NewGELUActivation (five element-wise passes), runs
    as PyTorch's one fused kernel: the same formula, within 3e-7, in two fifths of the time."""
    from torch.nn.functional import gelu
    from transformers.activations import NewGELUActivation

    if not isinstance(module.act, NewGELUActivation):
        return module(h)
    return module.c_proj(gelu(module.c_fc(h), approximate="tanh"))  # dropout: none at inference


def as_index(positions: list[int]):
    """A slice where `positions` run consecutively (indexing with it makes views, not copies), else a tensor."""
    import torch

    if positions == list(range(positions[0], positions[0] + len(positions))):
        return slice(positions[0], positions[0] + len(positions))
    return torch.tensor(positions)


class AttentionPlan:
    """Where a step's rows attend, worked out once for all layers: a new sequence's rows causally over its prompt
    alone; sequences adding one token, grouped by pool, cache length and prompt, over their caches together.

    A class's caches are mostly one prompt's keys and values, copied into every slot. A group reads that shared
    part once, from its `PromptEntry`, as one product per head for all its rows (padded to `min_rows`, so a row's
    bits do not depend on the group's size), and only the rest from each slot: half the memory a step reads,
    and a third of its attention time. A sequence alone takes the same path, as a group of one."""

    def __init__(self, seqs: list[Sequence], feeds: list[list[int]], min_rows: int):
        self.min_rows = min_rows
        self.prompts: list[tuple[slice, KVPool, int]] = []  # (its rows, pool, slot)
        grouped: dict[tuple[KVPool, int, PromptEntry | None], list[tuple[int, int]]] = {}  # -> (row, slot)
        start = 0
        for seq, feed in zip(seqs, feeds):
            assert seq.slot is not None
            pool, slot = seq.slot
            if len(feed) > 1:  # a new sequence (cached == 0): causal is the whole mask
                self.prompts.append((slice(start, start + len(feed)), pool, slot))
            else:
                grouped.setdefault((pool, seq.cached + 1, seq.prompt), []).append((start, slot))
            start += len(feed)
        self.groups = [(pool, length, prompt, as_index([r for r, _ in members]), as_index([s for _, s in members]))
                       for (pool, length, prompt), members in grouped.items()]

    def attend(self, attn, h, layer: int):
        """GPT2Attention's core on `h` (rows, C): q, k, v from one batched projection, keys and values written into
        each sequence's slot, attention as planned. Returns (rows, C)."""
        import torch
        from torch.nn.functional import scaled_dot_product_attention

        heads = (h.shape[0], attn.num_heads, attn.head_dim)
        q, k, v = (t.view(heads).transpose(0, 1) for t in attn.c_attn(h).split(attn.split_size, dim=-1))  # (H, rows, D)
        out = torch.zeros(heads[1], heads[0], heads[2], dtype=h.dtype)  # (H, rows, D)
        for rows, pool, slot in self.prompts:
            n = rows.stop - rows.start
            keys, values = pool.keys[layer][slot], pool.values[layer][slot]  # (H, capacity, D)
            keys[:, :n], values[:, :n] = k[:, rows], v[:, rows]
            out[:, rows] = scaled_dot_product_attention(q[None, :, rows], keys[None, :, :n], values[None, :, :n],
                                                        is_causal=True, scale=attn.scaling)[0]  # (H, n, D)
        for pool, length, prompt, rows, slots in self.groups:
            keys, values = pool.keys[layer], pool.values[layer]  # (slots, H, capacity, D)
            keys[slots, :, length - 1] = k[:, rows].transpose(0, 1)  # (G, H, D)
            values[slots, :, length - 1] = v[:, rows].transpose(0, 1)
            shared = None if prompt is None else (prompt.keys[layer], prompt.values[layer])
            p = 0 if shared is None else shared[0].shape[1]
            out[:, rows] = self.one_token(q[:, rows], shared, keys[slots, :, p:length], values[slots, :, p:length],
                                          attn.scaling)
        return out.transpose(0, 1).reshape(h.shape[0], -1)  # (rows, C)

    def one_token(self, q, shared, keys, values, scale: float):
        """Attention of one new row per sequence: q (H, G, D) over `shared` (keys, values (H, p, D), the same for
        all G; None: p = 0) followed by each sequence's own keys and values (G, H, n, D), as one softmax over all
        p + n scores. Returns (H, G, D)."""
        import torch

        g = q.shape[1]
        p = 0 if shared is None else shared[0].shape[1]
        own = torch.matmul(q.transpose(0, 1).unsqueeze(2), keys.transpose(-1, -2))[:, :, 0]  # (G, H, n)
        if shared is not None:
            common = torch.matmul(self.rows_first(q), shared[0].transpose(1, 2))[:, :g]  # (H, G, p)
            own = torch.cat([common.transpose(0, 1), own], dim=-1)  # (G, H, length)
        weights = torch.softmax(own * scale, dim=-1)  # (G, H, length)
        mixed = torch.matmul(weights[:, :, None, p:], values)[:, :, 0].transpose(0, 1)  # (H, G, D)
        if shared is not None:
            mixed = mixed + torch.matmul(self.rows_first(weights[:, :, :p].transpose(0, 1)), shared[1])[:, :g]
        return mixed

    def rows_first(self, x):
        """x (H, G, ...) as a contiguous (H, max(G, min_rows), ...): a product's rows keep their bits at any G."""
        return padded(x.transpose(0, 1), self.min_rows).transpose(0, 1).contiguous()


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
