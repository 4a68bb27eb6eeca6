"""Game maths against hand-computed numbers and against the model's own softmax (torch, one forward pass)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from lib.classroom.maths import (HistRow, WordScorer, average_bits, class_surprise_bits, hf_scorer, histogram, model_surprise_bits,
                            model_words, normalise, rank_among, spellings)


@pytest.mark.parametrize("text, word", [
    ("  Mat ", "mat"), ("MAT!", "mat"), ("mat, really", "mat"), ("“Frogs”", "frogs"), ("Straße", "straße"),
    ("ΛΌΓΟΣ", "λόγος"), ("λόγος", "λόγος"), ("\u200bmat\u200d", "mat"), ("\u202emat", "mat"), ("\ufeffMat\x00", "mat"),
    ("\u200b\u200c\u2066", ""), ("\x00", ""), ("\ufeff", ""),
    ("ﬁsh", "fish"), ("...", "..."), ("", ""), ("   ", ""), ("don't", "don't"), ("<b>x</b>", "b>x</b"),
])
def test_normalise(text, word):
    assert normalise(text) == word


def test_spellings_are_distinct():
    assert spellings("mat") == ["mat", "Mat", "MAT"]
    assert spellings("a") == ["a", "A"]
    assert spellings("42") == ["42"]


def test_class_surprise_hand_computed():
    counts = Counter({"mat": 6, "floor": 3, "sofa": 1})  # N=10, K=3
    assert class_surprise_bits(counts, "mat") == pytest.approx(-math.log2(7 / 14))
    assert class_surprise_bits(counts, "sofa") == pytest.approx(-math.log2(2 / 14))
    assert class_surprise_bits(counts, "rug") == pytest.approx(-math.log2(1 / 14))  # unseen: the floor
    assert class_surprise_bits(Counter(), "mat") is None


def test_model_surprise_and_averages_hand_computed():
    assert model_surprise_bits(math.log(0.25)) == pytest.approx(2.0)
    c, m, n = average_bits([(1.0, 2.0), (None, 5.0), (3.0, 4.0)])
    assert (c, m, n) == (pytest.approx(2.0), pytest.approx(3.0), 2)
    assert math.isnan(average_bits([])[0])


def test_histogram_same_words_and_everything_else():
    counts = Counter({"mat": 5, "floor": 3, "sofa": 1, "rug": 1})
    probs = {"mat": 0.4, "floor": 0.1, "sofa": 0.05, "rug": 0.0, "bed": 0.2}
    rows = histogram(counts, probs.get, extra_words=["bed", "mat"], top=3)
    assert [r.word for r in rows] == ["mat", "floor", "rug", "bed", ""]  # ties by word: rug before sofa
    assert rows[0] == HistRow("mat", 5, 0.5, 0.4)
    assert rows[3] == HistRow("bed", 0, 0.0, 0.2)
    assert rows[-1].count == 1 and rows[-1].share == pytest.approx(0.1)  # sofa
    assert rows[-1].model_prob == pytest.approx(1 - (0.4 + 0.1 + 0.0 + 0.2))
    assert sum(r.count for r in rows) == 10


def test_histogram_rest_is_clamped_and_empty_class_is_fine():
    rows = histogram(Counter(), {"a": 0.7, "b": 0.6}.get, extra_words=["a", "b"])
    assert rows[-1].model_prob == 0.0 and all(r.share == 0.0 for r in rows)


def test_rank_among():
    counts = Counter({"mat": 5, "floor": 3, "sofa": 3, "rug": 1})
    assert [rank_among(w, counts) for w in ("mat", "floor", "sofa", "rug", "none")] == [1, 2, 2, 4, 5]


# -- against the model ---------------------------------------------------------------------------
PROMPT = "The cat sat on the"


def _oracle_logprob(tiny_gpt2, prompt_ids, cont_ids):
    """log P(cont | prompt) from one forward pass over prompt + cont (teacher forcing)."""
    import torch

    ids = list(prompt_ids) + list(cont_ids)
    with torch.inference_mode():
        logits = tiny_gpt2.model(torch.tensor([ids])).logits[0].double()  # (T, vocab)
    lp = torch.log_softmax(logits, dim=-1)
    start = len(prompt_ids)
    return sum(float(lp[start - 1 + i, t]) for i, t in enumerate(cont_ids))


def test_single_token_word_is_the_softmax_sum_over_spellings(tiny_gpt2, gpt2_tokenizer):
    scorer = hf_scorer(tiny_gpt2, PROMPT + "  ")  # trailing spaces are dropped
    prompt_ids = gpt2_tokenizer(PROMPT)["input_ids"]
    import torch

    with torch.inference_mode():
        probs = torch.softmax(tiny_gpt2.model(torch.tensor([prompt_ids])).logits[0, -1].double(), -1)
    ids = [gpt2_tokenizer(s)["input_ids"] for s in (" mat", " Mat", " MAT")]
    assert len(ids[0]) == 1 and len(ids[1]) == 1  # single tokens in GPT-2's vocabulary
    expected = sum(math.exp(_oracle_logprob(tiny_gpt2, prompt_ids, i)) for i in ids)
    assert float(probs[ids[0][0]] + probs[ids[1][0]]) < expected + 1e-12  # MAT adds a little
    assert scorer.word_prob("mat") == pytest.approx(expected, rel=1e-6)


def test_multi_token_word_is_the_product_of_its_tokens(tiny_gpt2, gpt2_tokenizer):
    scorer = hf_scorer(tiny_gpt2, PROMPT)
    prompt_ids = gpt2_tokenizer(PROMPT)["input_ids"]
    word = "hippopotamus"
    ids = [gpt2_tokenizer(" " + s)["input_ids"] for s in spellings(word)]
    assert len(ids[0]) > 1
    expected = math.log(sum(math.exp(_oracle_logprob(tiny_gpt2, prompt_ids, i)) for i in ids))
    assert scorer.word_logprob(word) == pytest.approx(expected, rel=1e-6)
    assert scorer.word_prob(word) < math.exp(float(scorer.first_step()[ids[0][0]]))  # below its first piece


def test_model_words_are_whole_word_tokens_in_probability_order(tiny_gpt2):
    scorer = hf_scorer(tiny_gpt2, PROMPT)
    lp = scorer.first_step()
    words = model_words(lambda i: tiny_gpt2.token_row(i).text, lp, n=5, scan=200)
    assert len(words) == 5 and len(set(words)) == 5
    for w in words:
        assert w == normalise(w) and w
    # the first word is the normalised text of the likeliest token that starts with a space
    import numpy as np

    first = next(int(i) for i in np.argsort(-lp) if tiny_gpt2.texts[int(i)].startswith(" ") and normalise(tiny_gpt2.texts[int(i)]))
    assert words[0] == normalise(tiny_gpt2.texts[first])


def test_a_word_is_scored_as_typed_not_case_folded():
    """casefold spells "Straße" as "strasse" and the final ς as σ: the model would score another word."""
    asked: list[str] = []

    def encode(text: str) -> list[int]:
        asked.append(text)
        return [0]

    scorer = WordScorer(encode, lambda extra: np.zeros(1))  # (vocab=1,)
    for typed, lowered in (("Straße", "straße"), ("ΛΌΓΟΣ", "λόγος")):
        assert normalise(typed) == lowered
        scorer.word_logprob(normalise(typed))
    assert " straße" in asked and " strasse" not in asked
    assert " λόγος" in asked and " λόγοσ" not in asked
