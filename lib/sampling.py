"""Sampling knobs as NumPy transforms of one cached score vector, exactly as transformers' generate().

Each knob mirrors one transformers LogitsProcessor (same checks, same tie rules, removed tokens
set to -inf, input never modified in place). `apply_knobs` runs them in generate()'s order:
repetition penalty, then temperature, top-k, top-p, min-p, typical-p. Probabilities are always
over the whole vocabulary; nothing is renormalised over a cut set.

Precision: generate() casts a local model's logits to float32 and runs its processors in float32.
Float32 scores (what a local model gives) are therefore reshaped in float32: the element-wise knobs
and top-k in NumPy (bit-identical), top-p, min-p and typical-p through transformers' own processors
(their float32 softmax and sort decide near-flat cuts), so the cut matches generate() bit for bit.
Float64 scores (API log-probabilities) use the NumPy knobs below, which match the processors in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

from lib.distribution import entropy_nats, log_softmax

NEG_INF = -np.inf


def _softmax(x: np.ndarray) -> np.ndarray:
    """exp(x - max) / sum, the formula torch.softmax uses, so threshold comparisons agree with transformers."""
    e = np.exp(np.asarray(x, dtype=np.float64) - np.max(x))
    return e / e.sum()


def _torch_sort_ascending(x: np.ndarray) -> np.ndarray:
    """The permutation torch.sort gives, ties included: transformers breaks ties this way, so we do too."""
    import torch

    return torch.sort(torch.from_numpy(x), descending=False).indices.numpy()


def _tie_is_split(sorted_values: np.ndarray, remove_sorted: np.ndarray) -> bool:
    """True when equal values sit on both sides of the keep/remove line: then which of them survive
    depends on the sort's order within ties."""
    return bool(np.any((remove_sorted[:-1] != remove_sorted[1:]) & (sorted_values[:-1] == sorted_values[1:])))


def _check_keep(min_tokens_to_keep: int) -> None:
    if not isinstance(min_tokens_to_keep, (int, np.integer)) or min_tokens_to_keep < 1:
        raise ValueError(f"min_tokens_to_keep has to be a positive integer, but is {min_tokens_to_keep}")


def repetition_penalty(scores: np.ndarray, context_ids: Sequence[int], penalty: float) -> np.ndarray:
    """Each id seen in the context once: negative scores are multiplied, positive ones divided."""
    if not penalty > 0:
        raise ValueError(f"repetition_penalty has to be a strictly positive float, but is {penalty}")
    out = np.array(scores, dtype=np.float64, copy=True)
    ids = np.unique(np.asarray(list(context_ids), dtype=np.int64))
    if ids.size:
        seen = out[ids]
        out[ids] = np.where(seen < 0, seen * penalty, seen / penalty)
    return out


def temperature(scores: np.ndarray, t: float) -> np.ndarray:
    if not (isinstance(t, (float, np.floating)) and t > 0):
        raise ValueError(f"temperature has to be a strictly positive float, but is {t!r}")
    return np.asarray(scores, dtype=np.float64) / t


def greedy(scores: np.ndarray) -> np.ndarray:
    """Temperature 0: only the argmax survives (first index on ties, like torch.argmax)."""
    out = np.full(len(scores), NEG_INF, dtype=np.asarray(scores).dtype)
    best = int(np.argmax(scores))
    out[best] = scores[best]
    return out


def top_k(scores: np.ndarray, k: int, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Keep every token whose score is >= the k-th largest (ties with the k-th are kept)."""
    if not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"top_k has to be a strictly positive integer, but is {k}")
    x = np.asarray(scores, dtype=np.float64)
    k = min(max(int(k), min_tokens_to_keep), x.size)
    kth = np.partition(x, -k)[-k]
    return np.where(x < kth, NEG_INF, x)


def _survivors(x: np.ndarray) -> np.ndarray | None:
    """Indices of the finite scores when an earlier knob cut the rest to -inf, else None. Top-p and
    typical-p then work on these few alone: the -inf tokens have probability 0 and stay removed."""
    finite = np.isfinite(x)
    if finite.all() or not finite.any():
        return None
    return np.flatnonzero(finite)


def _remove_where(x: np.ndarray, survivors: np.ndarray | None, removed: np.ndarray) -> np.ndarray:
    """Scores with the removed tokens set to -inf; `removed` indexes `survivors` when it is given."""
    if survivors is None:
        return np.where(removed, NEG_INF, x)
    out = x.copy()
    out[survivors[removed]] = NEG_INF
    return out


def _top_p_removed(x: np.ndarray, p: float, min_tokens_to_keep: int, exact_ties: bool) -> np.ndarray | None:
    order = np.argsort(x)
    sorted_values = x[order]  # the same values, position by position, as torch.sort gives
    cum = np.cumsum(_softmax(sorted_values))
    remove_sorted = cum <= (1 - p)
    remove_sorted[-min_tokens_to_keep:] = False
    if _tie_is_split(sorted_values, remove_sorted):
        if not exact_ties:
            return None
        order = _torch_sort_ascending(x)  # transformers' own tie order decides which tied tokens go
    removed = np.empty_like(remove_sorted)
    removed[order] = remove_sorted
    return removed


def top_p(scores: np.ndarray, p: float, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Nucleus: drop the low tail whose ascending cumulative probability is <= 1 - p."""
    p = float(p)
    if p < 0 or p > 1.0:
        raise ValueError(f"top_p has to be a float > 0 and < 1, but is {p}")
    _check_keep(min_tokens_to_keep)
    x = np.asarray(scores, dtype=np.float64)
    survivors = _survivors(x)
    if survivors is not None:
        # Tie order within the survivors alone can differ from a sort of the whole vector; if ties are split, redo.
        removed = _top_p_removed(x[survivors], p, min_tokens_to_keep, exact_ties=False)
        if removed is not None:
            return _remove_where(x, survivors, removed)
    return _remove_where(x, None, _top_p_removed(x, p, min_tokens_to_keep, exact_ties=True))


def min_p(scores: np.ndarray, p: float, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Drop tokens whose probability is below p times the top token's probability."""
    if not 0 <= p <= 1.0:
        raise ValueError(f"min_p has to be a float in the [0, 1] interval, but is {p}")
    _check_keep(min_tokens_to_keep)
    x = np.asarray(scores, dtype=np.float64)
    survivors = _survivors(x)
    probs = _softmax(x if survivors is None else x[survivors])
    remove = probs < p * probs.max()
    if min_tokens_to_keep > 1:  # the top token always passes p * max <= max, so one needs no sort
        remove[np.argsort(-probs, kind="stable")[: min(min_tokens_to_keep, probs.size)]] = False
    return _remove_where(x, survivors, remove)


def _typical_removed(x: np.ndarray, mass: float, min_tokens_to_keep: int) -> np.ndarray:
    normalized = log_softmax(x)
    p = np.exp(normalized)
    with np.errstate(invalid="ignore"):  # -inf * 0 is nan; nansum drops it, as torch does
        ent = -np.nansum(normalized * p)
    shifted = np.abs(-normalized - ent)
    # The cut is a threshold on `shifted`, so with one token kept at least, the order within ties can't change it.
    order = np.argsort(shifted) if min_tokens_to_keep == 1 else _torch_sort_ascending(shifted)
    sorted_shifted = shifted[order]
    cum = np.cumsum(_softmax(x[order]))
    last = min(int((cum < mass).sum()), x.size - 1)
    remove_sorted = sorted_shifted > sorted_shifted[last]
    remove_sorted[:min_tokens_to_keep] = False
    removed = np.empty_like(remove_sorted)
    removed[order] = remove_sorted
    return removed


def typical_p(scores: np.ndarray, mass: float, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Locally typical sampling: keep tokens whose surprise is closest to the entropy, up to `mass`."""
    mass = float(mass)
    if not 0 < mass < 1:
        raise ValueError(f"typical_p has to be a float > 0 and < 1, but is {mass}")
    _check_keep(min_tokens_to_keep)
    x = np.asarray(scores, dtype=np.float64)
    survivors = _survivors(x) if min_tokens_to_keep == 1 else None
    if survivors is not None:
        return _remove_where(x, survivors, _typical_removed(x[survivors], mass, 1))
    return _remove_where(x, None, _typical_removed(x, mass, min_tokens_to_keep))


@dataclass(frozen=True)
class Knobs:
    """Off values: temperature 1, top_k 0, top_p 1, min_p 0, typical_p 1, repetition_penalty 1."""

    temperature: float = 1.0  # 0 means greedy
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    typical_p: float = 1.0
    repetition_penalty: float = 1.0

    def __post_init__(self):
        checks = [
            (self.temperature >= 0, "temperature must be 0 (greedy) or more"),
            (isinstance(self.top_k, (int, np.integer)) and self.top_k >= 0, "top_k must be a whole number, 0 for off"),
            (0 <= self.top_p <= 1, "top_p must be between 0 and 1"),
            (0 <= self.min_p <= 1, "min_p must be between 0 and 1"),
            (0 < self.typical_p <= 1, "typical_p must be above 0 and at most 1"),
            (self.repetition_penalty > 0, "repetition_penalty must be above 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def active(self) -> list[str]:
        """Names of the knobs that change anything, in generate()'s order."""
        on = {
            "repetition_penalty": self.repetition_penalty != 1.0,
            "temperature": self.temperature != 1.0,
            "top_k": self.top_k > 0,
            "top_p": self.top_p < 1.0,
            "min_p": self.min_p > 0.0,
            "typical_p": self.typical_p < 1.0,
        }
        return [name for name in ORDER if on[name]]

    def as_query(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


ORDER = ("repetition_penalty", "temperature", "top_k", "top_p", "min_p", "typical_p")
LABELS = {"repetition_penalty": "Repetition penalty", "temperature": "Temperature", "top_k": "Top-k",
          "top_p": "Top-p (nucleus)", "min_p": "Min-p", "typical_p": "Typical-p"}


@dataclass(frozen=True)
class Stage:
    name: str
    scores: np.ndarray
    survivors: int


@dataclass(frozen=True)
class Reshaped:
    stages: tuple[Stage, ...]   # the input first, then one per active knob
    probs: np.ndarray           # final probabilities over the full vocabulary

    @property
    def final_scores(self) -> np.ndarray:
        return self.stages[-1].scores

    @property
    def kept(self) -> np.ndarray:
        """Tokens no knob cut (score not -inf), as generate() sees them; a kept token's probability may
        still round to 0 (temperature 0.001 removes nothing)."""
        return np.isfinite(self.final_scores)

    def scores_before(self, name: str) -> np.ndarray:
        """The scores the knob `name` receives: the output of the last active knob before it in ORDER."""
        position = ORDER.index(name)
        earlier = [s for s in self.stages if s.name == "model" or ORDER.index(s.name) < position]
        return earlier[-1].scores


def apply_knobs(scores: np.ndarray, knobs: Knobs, context_ids: Sequence[int] = ()) -> Reshaped:
    """Every active knob in generate()'s order, in the scores' own precision (see the module docstring)."""
    if np.asarray(scores).dtype == np.float32:
        return _apply_knobs_float32(np.asarray(scores), knobs, context_ids)
    x = np.asarray(scores, dtype=np.float64)
    stages = [Stage("model", x, int(np.isfinite(x).sum()))]
    for name in knobs.active():
        if name == "repetition_penalty":
            x = repetition_penalty(x, context_ids, knobs.repetition_penalty)
        elif name == "temperature":
            x = greedy(x) if knobs.temperature == 0 else temperature(x, float(knobs.temperature))
        elif name == "top_k":
            x = top_k(x, int(knobs.top_k))
        elif name == "top_p":
            x = top_p(x, knobs.top_p)
        elif name == "min_p":
            x = min_p(x, knobs.min_p)
        elif name == "typical_p":
            x = typical_p(x, knobs.typical_p)
        stages.append(Stage(name, x, int(np.isfinite(x).sum())))
    return Reshaped(tuple(stages), _probabilities(x))


def _apply_knobs_float32(scores: np.ndarray, knobs: Knobs, context_ids: Sequence[int]) -> Reshaped:
    """generate()'s float32 arithmetic. Element-wise knobs (penalty, temperature) and top-k's comparisons are
    bit-identical in NumPy float32; knobs built on a float32 softmax, sort and cumsum run through transformers'
    own processors, so the cut is exactly the one generate() makes."""
    import torch
    from transformers.generation import logits_process as lp

    warpers = {"top_p": lambda: lp.TopPLogitsWarper(float(knobs.top_p)),
               "min_p": lambda: lp.MinPLogitsWarper(float(knobs.min_p)),
               "typical_p": lambda: lp.TypicalLogitsWarper(float(knobs.typical_p))}
    x = scores.astype(np.float32, copy=False)
    stages = [Stage("model", x, int(np.isfinite(x).sum()))]
    for name in knobs.active():
        if name == "repetition_penalty":
            x = x.copy()
            ids = np.unique(np.asarray(list(context_ids), dtype=np.int64))
            if ids.size:
                seen, penalty = x[ids], np.float32(knobs.repetition_penalty)
                x[ids] = np.where(seen < 0, seen * penalty, seen / penalty)
        elif name == "temperature":
            x = greedy(x) if knobs.temperature == 0 else x / np.float32(knobs.temperature)
        elif name == "top_k":
            x = top_k(x, int(knobs.top_k)).astype(np.float32)  # comparisons only: float32 values kept as they are
        else:
            x = warpers[name]()(None, torch.from_numpy(x.copy())[None, :])[0].numpy()
        stages.append(Stage(name, x, int(np.isfinite(x).sum())))
    return Reshaped(tuple(stages), _probabilities(x))


def greedy_choice(scores: np.ndarray, knobs: Knobs | None, context_ids: Sequence[int]) -> int:
    """The token generate(do_sample=False) picks: argmax after the processors it applies without sampling
    (here the repetition penalty; temperature, top-k, top-p, min-p and typical-p only act when sampling)."""
    x = np.asarray(scores)
    if knobs is not None and knobs.repetition_penalty != 1.0:
        x = apply_knobs(x, Knobs(repetition_penalty=knobs.repetition_penalty), context_ids).final_scores
    return int(np.argmax(x))


def _probabilities(x: np.ndarray) -> np.ndarray:
    """Softmax over the whole vocabulary; after a cut only the survivors need exponentiating."""
    x = np.asarray(x, dtype=np.float64)
    survivors = _survivors(x)
    if survivors is None:
        return _softmax(x)
    probs = np.zeros(x.size)
    probs[survivors] = _softmax(x[survivors])
    return probs


def summary(probs: np.ndarray, original: np.ndarray, kept: np.ndarray | None = None) -> dict[str, float]:
    """Readouts: entropy (nats), effective number of choices, original mass kept, survivors.

    `kept` marks the tokens no knob cut (`Reshaped.kept`); None means nothing was cut. It is never
    inferred from `probs > 0`: at a low temperature most kept tokens have a probability that rounds to 0."""
    h = entropy_nats(probs)
    kept = np.ones(len(original), dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
    return {"entropy": h, "effective_choices": float(np.exp(h)), "mass_kept": float(original[kept].sum()),
            "survivors": int(kept.sum())}


def sample(probs: np.ndarray, rng: np.random.Generator, n: int = 1) -> np.ndarray:
    """Draw n token indices from a probability vector."""
    p = np.asarray(probs, dtype=np.float64)
    possible = np.flatnonzero(p)  # the same draws as over the whole vector: zero-probability steps add nothing
    return possible[rng.choice(possible.size, size=n, p=p[possible] / p.sum())]


def top_p_view(result: Reshaped, limit: int = 2000) -> np.ndarray:
    """The distribution top-p actually sees (after repetition penalty, temperature and top-k), most likely
    first, its first `limit` tokens: the cumulative chart is drawn over this, so its crossing of p is
    where top-p cuts."""
    probs = _probabilities(result.scores_before("top_p"))
    n = min(limit, probs.size)
    top = np.argpartition(-probs, n - 1)[:n] if n < probs.size else np.arange(probs.size)
    return np.sort(probs[top])[::-1]
