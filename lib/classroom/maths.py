"""The guessing game's maths: class guesses and the model's probabilities on the same words.

Definitions (the pages say the same in words):
- A guess is normalised to one word: Unicode NFKC, invisible characters (zero-width, bidi, control) removed, first
  whitespace-separated word, surrounding punctuation dropped (unless the word is only punctuation), lower-cased with
  str.lower (casefold would turn "Straße" into "strasse", another word). The true next word and the
  model's tokens go through the same function.
- The model's probability of a word w is the probability that its next tokens spell " w" (leading
  space, as GPT-style tokenizers write a word after another), summed over three spellings: w,
  W-capitalised and W-UPPER. A word of several tokens gets the product of its tokens' conditional
  probabilities (one forward pass per extra token). Trailing spaces of the prompt are dropped first.
  Words whose tokens begin another word's (frog / frogs) overlap, so "everything else" is clamped at 0.
- The class's surprise at the true word uses add-one smoothing over the guessed words plus one
  "unseen" slot: q = (count + 1) / (N + K + 1) with N guesses and K distinct words; bits = -log2 q.
  The model's surprise is -log2 of its word probability. Both are averaged over revealed rounds.
"""

from __future__ import annotations

import math
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

PUNCT = string.punctuation + "“”‘’«»…–—¿¡"


# Characters nobody can see: control (NUL, ...), format (zero-width, bidi overrides, BOM, soft hyphen), surrogates,
# private use and unassigned code points.
INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))


def visible(text: str) -> str:
    """The text with NFKC applied and every invisible character removed (what a guess keeps as typed)."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in INVISIBLE)


def normalise(text: str) -> str:
    """One comparable word: visible characters (NFKC), first word, outer punctuation dropped, lower case.

    str.lower, not casefold: casefold spells "Straße" as "strasse" and a Greek final ς as σ, which are other
    words to the model."""
    words = visible(text).split()
    if not words:
        return ""
    word = words[0]
    return (word.strip(PUNCT) or word).lower()


def spellings(word: str) -> list[str]:
    """The surface forms scored for a normalised word: as is, Capitalised, UPPER (distinct)."""
    out: list[str] = []
    for s in (word, word[:1].upper() + word[1:], word.upper()):
        if s not in out:
            out.append(s)
    return out


def logsumexp(values: Sequence[float]) -> float:
    vals = [v for v in values if v != -math.inf]
    if not vals:
        return -math.inf
    m = max(vals)
    return m + math.log(sum(math.exp(v - m) for v in vals))


class WordScorer:
    """The model's log-probability of a word coming next after one prompt.

    encode(text) -> token ids of a continuation; next_logprobs(extra_ids) -> log-probabilities (vocab,)
    of the token after prompt + extra_ids. Results are memoised per scorer (one per prompt)."""

    def __init__(self, encode: Callable[[str], Sequence[int]], next_logprobs: Callable[[tuple[int, ...]], np.ndarray]):
        self.encode, self.next_logprobs = encode, next_logprobs
        self._steps: dict[tuple[int, ...], np.ndarray] = {}
        self._words: dict[str, float] = {}

    def _step(self, extra: tuple[int, ...]) -> np.ndarray:
        if extra not in self._steps:
            self._steps[extra] = self.next_logprobs(extra)
        return self._steps[extra]

    def sequence_logprob(self, ids: Sequence[int]) -> float:
        """log P(ids as the next tokens) = sum of log P(token i | prompt, tokens before i)."""
        total = 0.0
        for i, t in enumerate(ids):
            total += float(self._step(tuple(ids[:i]))[t])
            if total == -math.inf:
                break
        return total

    def word_logprob(self, word: str) -> float:
        """Natural-log probability of a normalised word (summed over its spellings)."""
        if word not in self._words:
            scores = [self.sequence_logprob(self.encode(" " + s)) for s in spellings(word)] if word else []
            self._words[word] = logsumexp(scores)
        return self._words[word]

    def word_prob(self, word: str) -> float:
        return math.exp(self.word_logprob(word))

    def first_step(self) -> np.ndarray:
        return self._step(())


def model_words(text_of: Callable[[int], str], logprobs: np.ndarray, n: int = 6, scan: int = 60) -> list[str]:
    """The model's likeliest next words: whole-word tokens (leading space) among its top `scan` tokens, normalised."""
    order = np.argsort(-np.asarray(logprobs))[:scan]
    out: list[str] = []
    for i in order:
        text = text_of(int(i))
        word = normalise(text)
        if text.startswith(" ") and word and word not in out:
            out.append(word)
            if len(out) == n:
                break
    return out


@dataclass(frozen=True)
class HistRow:
    word: str           # normalised word, or "" for "everything else"
    count: int          # class guesses for this word
    share: float        # count / all guesses
    model_prob: float   # the model's probability of the word (for the rest row: what is left)


def histogram(counts: Counter, model_prob: Callable[[str], float], extra_words: Sequence[str] = (),
              top: int = 10) -> list[HistRow]:
    """Class vs model on the same words: the top class words, then the model's own words, then one
    "everything else" row for each side (the class's other guesses; the model's remaining probability)."""
    total = sum(counts.values())
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:top]
    words += [w for w in extra_words if w not in words]
    rows = [HistRow(w, counts.get(w, 0), counts.get(w, 0) / total if total else 0.0, model_prob(w)) for w in words]
    rest_count = total - sum(r.count for r in rows)
    rest_prob = max(0.0, 1.0 - sum(r.model_prob for r in rows))
    rows.append(HistRow("", rest_count, rest_count / total if total else 0.0, rest_prob))
    return rows


def class_surprise_bits(counts: Counter, true_word: str) -> float | None:
    """-log2((count(true) + 1) / (N + K + 1)); None when nobody guessed."""
    n, k = sum(counts.values()), len(counts)
    if n == 0:
        return None
    return -math.log2((counts.get(true_word, 0) + 1) / (n + k + 1))


def model_surprise_bits(word_logprob: float) -> float:
    return -word_logprob / math.log(2)


def average_bits(per_round: Sequence[tuple[float | None, float]]) -> tuple[float, float, int]:
    """Average (class bits, model bits) over the rounds where both exist; and how many rounds that is."""
    both = [(c, m) for c, m in per_round if c is not None and math.isfinite(m)]
    if not both:
        return math.nan, math.nan, 0
    return sum(c for c, _ in both) / len(both), sum(m for _, m in both) / len(both), len(both)


def rank_among(word: str, counts: Counter) -> int:
    """1-based rank of a word among the class's guesses (ties share a rank)."""
    mine = counts.get(word, 0)
    return 1 + sum(1 for c in counts.values() if c > mine)


def hf_scorer(model, prompt_text: str) -> WordScorer:
    """A WordScorer for a local transformers model (lib.models.next_token.HFCausalLM) after `prompt_text`."""
    from lib.sampling.distribution import log_softmax

    prompt = prompt_text.rstrip()

    def next_logprobs(extra: tuple[int, ...]) -> np.ndarray:
        return log_softmax(model.logits(model.encode(prompt, extra).ids))  # (vocab,)

    return WordScorer(model.tokenize, next_logprobs)  # a typed "<|endoftext|>" is text, as on every page
