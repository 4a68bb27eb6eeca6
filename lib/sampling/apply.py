"""Applying the knobs (lib.sampling.knobs) to one cached score vector, exactly as transformers' generate(), and the
readouts drawn from the result.

`apply_knobs` runs the active knobs in generate()'s order (`ORDER`: the repetition penalty, then temperature,
top-k, top-p, min-p, typical-p). Probabilities are always over the whole vocabulary; nothing is renormalised over a
cut set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lib.sampling.distribution import entropy_nats
from lib.sampling.knobs import BY_NAME, KNOBS, ORDER, Knobs, finite_indices, softmax


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
    """Every active knob in generate()'s order, in the scores' own precision (see lib.sampling.knobs): float32 scores
    through each row's float32 path, anything else in float64."""
    x = np.asarray(scores)
    float32 = x.dtype == np.float32
    if not float32:
        x = x.astype(np.float64, copy=False)
    stages = [Stage("model", x, int(np.isfinite(x).sum()))]
    for name in knobs.active():
        row, value = BY_NAME[name], getattr(knobs, name)
        if not float32:
            x = row.apply(x, value, context_ids)
        elif row.apply32 is not None:
            x = row.apply32(x, value, context_ids)
        else:
            x = row.apply(x, value, context_ids).astype(np.float32)
        stages.append(Stage(name, x, int(np.isfinite(x).sum())))
    return Reshaped(tuple(stages), _probabilities(x))


def greedy_choice(scores: np.ndarray, knobs: Knobs | None, context_ids: Sequence[int]) -> int:
    """The token generate(do_sample=False) picks: argmax after the processors it applies without sampling
    (the rows that are not warpers: the repetition penalty; the warpers only act when sampling)."""
    x = np.asarray(scores)
    if knobs is not None:
        processors = Knobs(**{row.name: getattr(knobs, row.name) for row in KNOBS if not row.warper})
        if processors.active():
            x = apply_knobs(x, processors, context_ids).final_scores
    return int(np.argmax(x))


def _probabilities(x: np.ndarray) -> np.ndarray:
    """Softmax over the whole vocabulary; after a cut only the survivors need exponentiating."""
    x = np.asarray(x, dtype=np.float64)
    survivors = finite_indices(x)
    if survivors is None:
        return softmax(x)
    probs = np.zeros(x.size)
    probs[survivors] = softmax(x[survivors])
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


def pick_next(scores: np.ndarray, knobs: Knobs | None, context_ids: Sequence[int], rng: np.random.Generator) -> int:
    """Greedy when knobs is None or temperature is 0 (after the repetition penalty, as generate(do_sample=False)
    applies it); otherwise sample after the knobs."""
    if knobs is None or knobs.temperature == 0:
        return greedy_choice(scores, knobs, context_ids)
    return int(sample(apply_knobs(scores, knobs, context_ids).probs, rng)[0])


CHUNK = 1 << 15  # scores handled at once in pick_many (8 rows of pocket-lm's vocabulary): 256 KB of float64 buffers


def pick_many(scores: np.ndarray, knobs: Sequence[Knobs | None], contexts: Sequence[Sequence[int]],
              rngs: Sequence[np.random.Generator]) -> list[int]:
    """`pick_next` for every row of `scores` (B, vocab): the same token each (its own knobs, context and
    generator, one draw each), with the work a class shares done on whole arrays. Plain greedy rows are one
    argmax; float32 rows whose only knob is temperature are divided, exponentiated and drawn from as arrays;
    rows with any other knob go through `pick_next` one by one."""
    scores = np.asarray(scores)
    tokens: list[int] = [0] * len(scores)
    plain_greedy, temperature_only = [], []
    actives: dict[Knobs, list[str]] = {}  # a class shares a few settings: each one's active knobs worked out once
    for b, (row_knobs, ctx, rng) in enumerate(zip(knobs, contexts, rngs)):
        if row_knobs is not None and row_knobs not in actives:
            actives[row_knobs] = row_knobs.active()
        active = () if row_knobs is None else actives[row_knobs]
        if row_knobs is None or (row_knobs.temperature == 0 and "repetition_penalty" not in active):
            plain_greedy.append(b)
        elif scores.dtype == np.float32 and row_knobs.temperature != 0 and set(active) <= {"temperature"}:
            temperature_only.append(b)
        else:
            tokens[b] = pick_next(scores[b], row_knobs, ctx, rng)
    if plain_greedy:
        for b, token in zip(plain_greedy, np.argmax(scores[plain_greedy], axis=1)):
            tokens[b] = int(token)
    step = max(1, CHUNK // max(1, scores.shape[1]))
    for start in range(0, len(temperature_only), step):
        rows = temperature_only[start : start + step]
        warmth = np.array([[knobs[b].temperature] for b in rows], dtype=np.float32)  # type: ignore[union-attr]
        for b, token in zip(rows, _draw_temperature(scores[rows], warmth, [rngs[b] for b in rows])):
            tokens[b] = token
    return tokens


def _draw_temperature(scores: np.ndarray, warmth: np.ndarray, rngs: Sequence[np.random.Generator]) -> list[int]:
    """`sample(apply_knobs(row, Knobs(temperature=t)).probs, rng)` for each row (R, vocab) float32 with its t (R, 1),
    as arrays: the same float32 division, float64 softmax and draw. A row the division sends to inf, or a score
    of -inf (never for an allowed temperature), goes the long way."""
    x = (scores / warmth).astype(np.float64)  # (R, V): temperature's float32 step, then _probabilities' float64
    top = x.max(axis=1, keepdims=True)
    finite = np.isfinite(top[:, 0]) & np.isfinite(x.min(axis=1))  # NaN propagates through max
    if not finite.all():
        return [_draw_temperature(scores[r : r + 1], warmth[r : r + 1], rngs[r : r + 1])[0] if finite[r]
                else int(sample(_probabilities(scores[r] / warmth[r]), rngs[r])[0]) for r in range(len(rngs))]
    x -= top
    np.exp(x, out=x)
    x /= x.sum(axis=1, keepdims=True)  # softmax() row by row: NumPy sums each row as it sums a vector
    return draw(x, rngs)


def draw(probs: np.ndarray, rngs: Sequence[np.random.Generator]) -> list[int]:
    """One draw per row of `probs` (R, vocab) with that row's generator: what `sample(row, rng)` returns.
    `Generator.choice(p=q)` takes cdf = q.cumsum(), cdf /= cdf[-1] and searches one `random()` u in it from the
    right; zero-probability entries leave the cumulative sum as it is, so searching the whole row finds the
    same token that `sample` finds among the non-zero ones. Rather than dividing whole rows, each row's token is
    guessed by comparing the sums with u * cdf[-1], then checked on the two divided sums around it (dividing by a
    positive number keeps the order, so that pair pins the token down); a guess that fails is searched in full.
    The running sums are torch's: the same sequential float64 additions as NumPy's, a quarter of the time."""
    import torch

    total = torch.cumsum(torch.from_numpy(probs / probs.sum(axis=1, keepdims=True)), dim=1).numpy()  # (R, V)
    last, u = total[:, -1], np.array([rng.random() for rng in rngs])
    tokens = np.minimum((total <= (u * last)[:, None]).sum(axis=1), total.shape[1] - 1)
    rows = np.arange(len(total))
    above = total[rows, tokens] / last > u
    below = (tokens == 0) | (total[rows, np.maximum(tokens - 1, 0)] / last <= u)
    for r in np.flatnonzero(~(above & below)):
        tokens[r] = np.searchsorted(total[r] / last[r], u[r], side="right")
    return tokens.tolist()
