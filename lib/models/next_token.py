"""One interface for next-token models, and its transformers backend.

A backend gives, for a prompt, the next-token `Distribution` (complete over the vocabulary, or a
partial top-K) and can continue the prompt step by step, recording every step's alternatives. It also
says how a chat checkpoint sees a prompt, labels its tokens, and names itself for shared caches
(`cache_key`), so pages never ask which kind of backend they hold. lib/backends.open_model opens one.
The transformers backend generates through one scheduler per model (lib.models.batching): every session's
continuation joins one batched forward pass per step, each with its own KV cache, and its text does not depend on
the batch. It is safe to share between sessions: `lock` guards its tokenizer and `forward_lock` each forward pass
(never a whole generation), so a student opening a page is never queued behind another student's generation.
"""

from __future__ import annotations

import inspect
import math
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from lib.hosting import usable_cores
from lib.models import hub
from lib.sampling.distribution import Distribution, Step, TokenRow, TokenTable, token_label
from lib.models.inside import Inside, forward_pass, look_inside
from lib.sampling.knobs import Knobs

# transformers' lazy top-level module is not safe to import from two threads at once: "cannot import name
# 'AutoModelForCausalLM'" (seen on a fresh server: the warm-up thread and the lecture's first step, together).
_TRANSFORMERS_IMPORT = threading.Lock()

if TYPE_CHECKING:
    from lib.models.batching import Scheduler


@dataclass(frozen=True)
class Prompt:
    ids: tuple[int, ...]   # empty for API backends, which tokenize server-side
    dropped: int = 0       # tokens cut from the left to fit the context
    text: str = ""         # the prompt text as sent (API backends use this)

    @property
    def note(self) -> str:
        return (f"The prompt was longer than the model's context, so its first {self.dropped:,} tokens were cut."
                if self.dropped else "")


def fit_context(ids: Sequence[int], context_length: int, text: str = "") -> Prompt:
    """Keep the last `context_length` tokens: a prompt that exactly fills the context is not cut. Room for
    generated tokens is made while generating (the window slides), never by cutting what was typed."""
    ids = [int(i) for i in ids]
    dropped = max(0, len(ids) - int(context_length))
    return Prompt(tuple(ids[dropped:]), dropped, text)


@dataclass(frozen=True)
class Formatted:
    """A prompt as one checkpoint sees it: raw text for a base model, wrapped in the chat template otherwise."""
    prompt: Prompt
    templated: bool
    note: str = ""


ALTERNATIVES = 10  # a generated token's readouts list this many other likely tokens; 0: the text only


@dataclass(frozen=True)
class Generation:
    prompt: Prompt
    steps: Sequence[Step]  # a tuple, or lib.models.batching.Steps (each built when first read)
    notes: tuple[str, ...] = field(default=())
    ended: bool = False  # its last step is the model's end-of-text token: the model chose to stop there

    @property
    def text(self) -> str:
        return b"".join(self._raws()).decode("utf-8", errors="replace")

    @property
    def answer(self) -> str:
        """The text without the end-of-text token it stopped on (an answer as a reader sees it)."""
        raws = self._raws()
        return b"".join(raws[:-1] if self.ended else raws).decode("utf-8", errors="replace")

    def _raws(self) -> list[bytes]:
        raws = getattr(self.steps, "raws", None)  # batching's Steps give their bytes without building any step
        return raws if raws is not None else [s.chosen.raw for s in self.steps]


class NextTokenModel(Protocol):
    """What every backend answers, so no caller asks which kind of model it holds."""

    name: str
    context_length: int

    @property
    def cache_key(self) -> str | None:
        """The canonical name shared caches use; None for per-session API backends."""

    @property
    def has_chat_template(self) -> bool:
        """chat_prompt() can show the exact templated tokens."""

    @property
    def can_look_inside(self) -> bool:
        """A local model with weights: SharedModel.look_inside() works."""

    def encode(self, text: str, extra_ids: Sequence[int] = ()) -> Prompt: ...

    def tokenize(self, text: str) -> list[int]:
        """The ids of `text` as plain text (nothing added, nothing cut); [] where the server tokenizes."""

    def chat_prompt(self, text: str) -> Formatted:
        """`text` as a user turn with the assistant's turn opened, as this model's chat checkpoints see it."""

    def token_labels(self, ids: Sequence[int]) -> list[str]: ...

    def token_row(self, token_id: int) -> TokenRow | None:
        """One token of the vocabulary (no probability); None for an unknown id or a backend without ids."""

    def distribution(self, prompt: Prompt) -> Distribution: ...

    def generate(self, prompt: Prompt, max_new_tokens: int, knobs: Knobs | None = None, seed: int = 0,
                 n_alternatives: int = ALTERNATIVES, on_step: Callable[[int], None] | None = None) -> Generation: ...


class SharedModel(NextTokenModel, Protocol):
    """A backend with a cache_key: its logits are cached across sessions, and it can be looked inside."""

    def logits(self, ids: Sequence[int]) -> np.ndarray: ...

    def distribution_from_logits(self, logits: np.ndarray, notes: tuple[str, ...] = ()) -> Distribution: ...

    def look_inside(self, ids: Sequence[int]) -> Inside: ...


def extend_prompt(model: NextTokenModel, text: str, chosen: Sequence[TokenRow]) -> Prompt:
    """The prompt plus tokens picked by hand (step mode): by id where the backend has ids, else by text."""
    if all(row.id >= 0 for row in chosen):
        return model.encode(text, [row.id for row in chosen])
    return model.encode(text + "".join(row.text for row in chosen))


def threads_from_env(name: str, default: int) -> int:
    """A thread count from the environment: a positive whole number, else `default`."""
    try:
        return max(1, int(os.environ[name]))
    except (KeyError, ValueError):
        return default


def serving_threads() -> int:
    """torch threads per server process (set once at start-up, components/setup.py): LLMX_TORCH_THREADS, default 1.
    On a busy server (many sessions, or several app processes per machine) two or more intra-op threads per small
    forward pass spin against each other and ran a 4M-parameter model's token 20-40x slower than one thread
    (bench/class_load.py)."""
    return threads_from_env("LLMX_TORCH_THREADS", 1)


def generation_workers() -> int:
    """Threads that run one generation step side by side, each on its own share of the sequences
    (lib.models.batching): LLMX_GENERATION_WORKERS, default the cores this process may use, at most 4.
    `make serve` sets it to the cores per app process."""
    return threads_from_env("LLMX_GENERATION_WORKERS", min(4, usable_cores()))


class HFCausalLM:
    """Any transformers causal LM (hub id, local folder or bundled name)."""

    can_look_inside = True

    def __init__(self, model, tokenizer, name: str, cache_key: str | None = None):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.cache_key = cache_key  # set by load(): the canonical name it was opened by
        self.lock = threading.RLock()          # the tokenizer: fast tokenizers raise "Already borrowed" across threads
        self.forward_lock = threading.RLock()  # one forward pass at a time, so N students don't thrash the cores
        self._scheduler: Scheduler | None = None
        self._labels: dict[int, str] = {}
        cfg = model.config
        self.context_length = int(getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None) or 2048)
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        table = TokenTable.from_hf(tokenizer)
        pad = self.vocab_size - len(table.texts)
        self.texts = table.texts[: self.vocab_size] + [f"<unused {i}>" for i in range(max(0, pad))]
        self.raws = table.raws[: self.vocab_size] + [b""] * max(0, pad)
        self.ids = np.arange(self.vocab_size)
        # Only the last position's logits are ever used: skip the output layer for the others where supported.
        self.last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}

    @classmethod
    def load(cls, ref: str, progress: Callable[[float, str], None] | None = None) -> HFCausalLM:
        path, local_only = hub.resolve(ref)
        with _TRANSFORMERS_IMPORT:  # the warm-up thread and a page may load models at the same moment
            from transformers import AutoModelForCausalLM, AutoTokenizer

        if not local_only and hub.cached_snapshot(ref) is None:
            path = str(hub.download(ref, progress))
            local_only = True
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=local_only, dtype="float32")
        except (OSError, ValueError) as exc:
            raise hub.ModelUnavailable(f"Could not load '{ref}': {exc}") from exc
        model.eval()
        return cls(model, tokenizer, ref, cache_key=ref)

    # -- prompts -----------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Tokenize as plain text: special-token strings stay text, nothing is added."""
        with self.lock:
            return list(self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])

    def encode(self, text: str, extra_ids: Sequence[int] = ()) -> Prompt:
        """Tokenize as plain text; keep the last `context_length` tokens."""
        ids = self.tokenize(text) + [int(i) for i in extra_ids]
        if not ids:
            bos = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
            ids = [bos] if bos is not None else []
        return fit_context(ids, self.context_length, text)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def chat_prompt(self, text: str) -> Formatted:
        """The chat template's user turn plus the opened assistant turn; control tokens typed by the user stay
        text (`sanitize_control_tokens`). Without a template the raw prompt, with a note saying so."""
        if not self.has_chat_template:
            return Formatted(self.encode(text), False,
                             "This checkpoint's tokenizer has no chat template, so it gets the raw prompt.")
        with self.lock:
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                                     tokenize=True, return_dict=True,
                                                     sanitize_control_tokens=True)["input_ids"]
        return Formatted(fit_context(ids, self.context_length, text), True)

    # -- tokens ------------------------------------------------------------------
    def token_labels(self, ids: Sequence[int]) -> list[str]:
        """Readable labels (special tokens shown by name)."""
        return [token_label(self.texts[i], self.raws[i]) for i in ids]

    def token_row(self, token_id: int) -> TokenRow | None:
        if not 0 <= token_id < self.vocab_size:
            return None
        text, raw = self.texts[token_id], self.raws[token_id]
        return TokenRow(0, token_id, text, raw, token_label(text, raw), math.nan, math.nan, math.nan)

    # -- forward passes ----------------------------------------------------------
    def forward(self, input_ids, **kwargs):
        """One pass of the wrapped model under this model's lock, so N students don't thrash the cores; callers
        never take the lock themselves. Arguments as lib.models.inside.forward_pass (ids or a batch tensor, the
        model's own keyword arguments)."""
        with self.forward_lock:
            return forward_pass(self.model, input_ids, **kwargs)

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        """Raw next-token logits after `ids`, float64, shape (vocab,)."""
        if not ids:
            raise ValueError("an empty prompt has no next token")
        out = self.forward(ids, **self.last_only)
        return out.logits[0, -1].double().numpy()  # (vocab,)

    def distribution_from_logits(self, logits: np.ndarray, notes: tuple[str, ...] = ()) -> Distribution:
        """Scores kept in float32, the precision generate() casts logits to, so the knobs cut as it does."""
        logits = np.asarray(logits, dtype=np.float32)
        return Distribution(logits, self.ids, self.texts, self.raws, complete=True, source=self.name, notes=notes)

    def distribution(self, prompt: Prompt) -> Distribution:
        notes = (prompt.note,) if prompt.dropped else ()
        return self.distribution_from_logits(self.logits(prompt.ids), notes)

    def row(self, dist: Distribution, token_id: int) -> TokenRow:
        """One token's row in a complete distribution, with its rank."""
        lp = dist.logprobs
        return TokenRow(dist.rank(token_id), token_id, self.texts[token_id], self.raws[token_id],
                        self.label(token_id), float(lp[token_id]), float(np.exp(lp[token_id])), float("nan"))

    def label(self, token_id: int) -> str:
        """token_label of one id, made once per id: a generation shows a dozen labels per token."""
        found = self._labels.get(token_id)
        if found is None:
            found = self._labels[token_id] = token_label(self.texts[token_id], self.raws[token_id])
        return found

    def look_inside(self, ids: Sequence[int]) -> Inside:
        """The logit lens and attention maps for `ids`, in one forward pass."""
        return look_inside(self.model, ids, self.forward)

    @property
    def scheduler(self) -> Scheduler:
        """This model's one generation loop (lib.models.batching), started on first use."""
        with self.lock:
            if self._scheduler is None:
                from lib.models.batching import Scheduler

                self._scheduler = Scheduler(self, workers=generation_workers())
            return self._scheduler

    def generate(self, prompt: Prompt, max_new_tokens: int, knobs: Knobs | None = None, seed: int = 0,
                 n_alternatives: int = ALTERNATIVES, on_step: Callable[[int], None] | None = None,
                 use_cache: bool = True) -> Generation:
        """Continue the prompt token by token, in one batch with every other session's generation (the scheduler
        keeps each sequence's KV cache and its text independent of the batch); slides the window at the context
        limit. `on_step(i)` runs in the caller's thread after token i."""
        seq = self.scheduler.generate(prompt.ids, max_new_tokens, knobs, seed, n_alternatives, on_step, use_cache)
        return self._finished(prompt, seq)

    def _finished(self, prompt: Prompt, seq) -> Generation:
        ended = len(seq.steps) > 0 and seq.ids[-1] == self.tokenizer.eos_token_id
        return Generation(prompt, seq.steps, tuple(seq.notes), ended)

    def generate_many(self, prompt: Prompt, max_new_tokens: int, knobs: Knobs | None,
                      seeds: Sequence[int], n_alternatives: int = ALTERNATIVES) -> list[Generation]:
        """One continuation per seed, all queued at once so they run in the same batched steps. `n_alternatives=0`:
        text only (no per-token readouts, which cost a step about a tenth of its time)."""
        from lib.models.batching import wait_for

        listeners = [self.scheduler.submit(prompt.ids, max_new_tokens, knobs, seed, n_alternatives) for seed in seeds]
        return [self._finished(prompt, seq) for seq in map(wait_for, listeners)]
