"""The sampling knobs: one ordered table, in the spirit of transformers' LogitsProcessorList.

Each knob mirrors one transformers LogitsProcessor (same checks, same tie rules, removed tokens set to -inf,
input never modified in place) and is one row of `KNOBS`: its functions, off value, check, label, slider,
explanation and its name on OpenAI-compatible servers. Everything else (generate()'s order,
`lib.sampling.apply.apply_knobs`, the sliders and the URL) is read from the table, so a new knob is one
function, one row and one field of `Knobs` here (a row without its field fails at import).

Precision: generate() casts a local model's logits to float32 and runs its processors in float32. Float32
scores (what a local model gives) are therefore reshaped in float32: the element-wise knobs and top-k in NumPy
(bit-identical), top-p, min-p and typical-p through transformers' own processors (their float32 softmax and
sort decide near-flat cuts), so the cut matches generate() bit for bit. Float64 scores (API log-probabilities)
use the NumPy knobs below, which match the processors in float64.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from lib.sampling.distribution import log_softmax

NEG_INF = -np.inf
# Below this, float32 logits divided by T overflow to inf and the softmax is NaN (inf - inf); 0 is greedy.
MIN_TEMPERATURE = 1e-3


def softmax(x: np.ndarray) -> np.ndarray:
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


def finite_indices(x: np.ndarray) -> np.ndarray | None:
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
    cum = np.cumsum(softmax(sorted_values))
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
    survivors = finite_indices(x)
    if survivors is not None:
        # Tie order within the survivors alone can differ from a sort of the whole vector; if ties are split, redo.
        removed = _top_p_removed(x[survivors], p, min_tokens_to_keep, exact_ties=False)
        if removed is not None:
            return _remove_where(x, survivors, removed)
    removed = _top_p_removed(x, p, min_tokens_to_keep, exact_ties=True)
    assert removed is not None  # exact_ties=True always decides
    return _remove_where(x, None, removed)


def min_p(scores: np.ndarray, p: float, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Drop tokens whose probability is below p times the top token's probability."""
    if not 0 <= p <= 1.0:
        raise ValueError(f"min_p has to be a float in the [0, 1] interval, but is {p}")
    _check_keep(min_tokens_to_keep)
    x = np.asarray(scores, dtype=np.float64)
    survivors = finite_indices(x)
    probs = softmax(x if survivors is None else x[survivors])
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
    cum = np.cumsum(softmax(x[order]))
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
    survivors = finite_indices(x) if min_tokens_to_keep == 1 else None
    if survivors is not None:
        return _remove_where(x, survivors, _typical_removed(x[survivors], mass, 1))
    return _remove_where(x, None, _typical_removed(x, mass, min_tokens_to_keep))


# Uniform signatures for the table: (scores, the knob's value, context ids) -> new scores.
Shape = Callable[[np.ndarray, Any, Sequence[int]], np.ndarray]


def _penalty32(x: np.ndarray, penalty: float, context_ids: Sequence[int]) -> np.ndarray:
    """The repetition penalty in float32 arithmetic, as RepetitionPenaltyLogitsProcessor on float32 logits."""
    x = x.copy()
    ids = np.unique(np.asarray(list(context_ids), dtype=np.int64))
    if ids.size:
        seen, penalty32 = x[ids], np.float32(penalty)
        x[ids] = np.where(seen < 0, seen * penalty32, seen / penalty32)
    return x


def _transformers(warper: str) -> Shape:
    """The float32 path through transformers' own processor `warper`, built with the knob's value."""
    def run(x: np.ndarray, value: float, _context_ids: Sequence[int]) -> np.ndarray:
        import torch
        from transformers.generation import logits_process

        processor = getattr(logits_process, warper)(float(value))
        return processor(None, torch.from_numpy(x.copy())[None, :])[0].numpy()
    return run


class Slider(NamedTuple):
    lo: float
    hi: float
    step: float
    on: float | None = None    # the value when switched on; None: always shown, starting at the off value
    label: str | None = None   # the slider's own label when it differs from the knob's


@dataclass(frozen=True)
class Knob:
    """One row of the table. `apply` works in float64; `apply32` in generate()'s float32 arithmetic (None: `apply`,
    cast back to float32, which is exact for a knob that only compares, like top-k)."""

    name: str                        # the field of `Knobs`, the URL parameter and transformers' argument
    label: str
    off: float | int                 # the value that changes nothing; its type is the knob's type
    valid: Callable[[Any], bool | np.bool_]
    error: str                       # raised by `Knobs` when `valid` fails
    apply: Shape
    apply32: Shape | None
    slider: Slider
    explain: tuple[str, str]         # words, LaTeX formula
    server: str | None = None        # its parameter on OpenAI-compatible servers; None: an extension (vLLM)
    server_max: float | None = None  # the largest value those servers take
    warper: bool = True              # a LogitsWarper: only when sampling, after every processor; False: a
                                     # LogitsProcessor, which greedy decoding applies too

    def active(self, value: Any) -> bool:
        return value != self.off


KNOBS: tuple[Knob, ...] = (
    Knob("temperature", "Temperature", 1.0, lambda t: t == 0 or MIN_TEMPERATURE <= t < np.inf,
         f"temperature must be 0 (greedy) or at least {MIN_TEMPERATURE:g}",
         lambda x, t, _: greedy(x) if t == 0 else temperature(x, float(t)),
         lambda x, t, _: greedy(x) if t == 0 else x / np.float32(t),
         Slider(0.0, 3.0, 0.05, label="Temperature (0 = greedy)"),
         ("Divide every logit by T before the softmax. T < 1 sharpens, T > 1 flattens; T = 0 means always take the "
          "most likely token (greedy).", r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}"),
         server="temperature", server_max=2.0),
    Knob("top_k", "Top-k", 0, lambda k: isinstance(k, (int, np.integer)) and k >= 0,
         "top_k must be a whole number, 0 for off",
         lambda x, k, _: top_k(x, int(k)), None, Slider(1, 100, 1, on=10),
         ("Keep the k most likely tokens (and any tied with the k-th); the rest get probability 0.",
          r"\text{keep } i \iff z_i \ge z_{(k)}")),
    Knob("top_p", "Top-p (nucleus)", 1.0, lambda p: 0 <= p <= 1, "top_p must be between 0 and 1",
         lambda x, p, _: top_p(x, p), _transformers("TopPLogitsWarper"), Slider(0.01, 1.0, 0.01, on=0.9),
         ("Nucleus sampling: keep the smallest set of most likely tokens whose probability adds up to p.",
          r"\text{keep } i \iff \sum_{j:\,p_j > p_i} p_j < p"),
         server="top_p"),
    Knob("min_p", "Min-p", 0.0, lambda p: 0 <= p <= 1, "min_p must be between 0 and 1",
         lambda x, p, _: min_p(x, p), _transformers("MinPLogitsWarper"), Slider(0.0, 1.0, 0.01, on=0.05),
         ("Keep tokens at least min-p times as likely as the top token. Adapts to how sure the model is.",
          r"\text{keep } i \iff p_i \ge p_{\min} \cdot \max_j p_j")),
    Knob("typical_p", "Typical-p", 1.0, lambda m: 0 < m <= 1, "typical_p must be above 0 and at most 1",
         lambda x, m, _: typical_p(x, m), _transformers("TypicalLogitsWarper"), Slider(0.01, 0.99, 0.01, on=0.9),
         ("Keep the tokens whose surprise (-log p) is closest to the average surprise (the entropy), until their "
          "mass reaches the threshold.", r"\text{rank by } \left| -\log p_i - H(p) \right|")),
    Knob("repetition_penalty", "Repetition penalty", 1.0, lambda r: r > 0, "repetition_penalty must be above 0",
         lambda x, r, ids: repetition_penalty(x, ids, r), _penalty32, Slider(1.0, 3.0, 0.05, on=1.3),
         ("Make tokens already in the text less likely: positive logits are divided by the penalty, negative ones "
          "multiplied.", r"z_i \leftarrow \begin{cases} z_i / \theta & z_i > 0 \\ z_i \cdot \theta & z_i \le 0 \end{cases}"),
         warper=False),
)
BY_NAME = {row.name: row for row in KNOBS}
# generate()'s order: the processors, then the warpers, each in table order (stable sort).
ORDER = tuple(row.name for row in sorted(KNOBS, key=lambda row: row.warper))
LABELS = {row.name: row.label for row in KNOBS}
# Pages that sample beside a greedy answer of their own (/next-token, /training-stages): the table's temperature
# slider without its greedy 0, so every page moves temperature over the same range in the same steps.
_T = BY_NAME["temperature"].slider
SAMPLING_TEMPERATURE = Slider(_T.step, _T.hi, _T.step, label="Temperature")


@dataclass(frozen=True)
class Knobs:
    """The knobs' settings, one field per row of `KNOBS` (same name, type and off value as its default), so an IDE
    sees them: Knobs(temperature=0.7, top_p=0.9). A new knob adds its row above and its field here."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    typical_p: float = 1.0
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        for row in KNOBS:
            if not row.valid(getattr(self, row.name)):
                raise ValueError(row.error)

    def active(self) -> list[str]:
        """Names of the knobs that change anything, in generate()'s order."""
        return [name for name in ORDER if BY_NAME[name].active(getattr(self, name))]


def _check_fields_match_table() -> None:
    """Knobs and KNOBS name the same knobs with the same defaults: a row without a field fails at import."""
    fields_ = [(f.name, f.type, f.default) for f in fields(Knobs)]
    rows = [(row.name, type(row.off).__name__, row.off) for row in KNOBS]
    if fields_ != rows:
        raise TypeError(f"Knobs fields {fields_} do not match the KNOBS table {rows}")


_check_fields_match_table()


def server_params(knobs: Knobs | None) -> tuple[dict[str, float], dict[str, Any], list[str]]:
    """What an OpenAI-compatible server is sent for these knobs: its own parameters, the active knobs it has no
    parameter for (name -> value; vLLM takes them as extensions), and notes. No knobs or temperature 0 is greedy:
    temperature 0 alone. A knob without a switch (temperature) is always sent, the others only when active."""
    if knobs is None or knobs.temperature == 0:
        return {"temperature": 0.0}, {}, []
    params: dict[str, float] = {}
    extra: dict[str, Any] = {}
    notes: list[str] = []
    for row in KNOBS:
        value = getattr(knobs, row.name)
        if row.server is None:
            if row.active(value):
                extra[row.name] = value
        elif row.slider.on is None or row.active(value):
            value = float(value)
            if row.server_max is not None and value > row.server_max:
                notes.append(f"The API takes {row.server}s up to {row.server_max:g}, so {value:g} was sent as "
                             f"{row.server_max:g}.")
                value = row.server_max
            params[row.server] = value
    return params, extra, notes
