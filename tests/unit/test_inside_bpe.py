"""BPE replay ends in the tokenizer's own segmentation (and tiktoken's, for GPT-2); live-trained BPE too."""

import functools

import pytest

from lib.tokens.bpe_replay import BPETables, labels, replay, symbol_label, train_bpe
from lib.models.hub import BUNDLED
from tests.conftest import GPT2_TOKENIZER, need_shared

WORDS = ["hello", " tokenization", "Antidisestablishmentarianism", "supercalifragilisticexpialidocious",
         "🙂", "👩‍👩‍👧‍👦", "你好世界", "東京都", "12345678", "3.14159", "2026-11-30", " naïve café", "Ünïcödé",
         "   spaces", "tab\there", "line\nbreak", "don't", "HTTP/2.0", "x" * 40, "ab" * 30, "Привет мир",
         "مرحبا", "<|endoftext|>".replace("|", "¦")]


@functools.cache
def gpt2():
    need_shared()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(GPT2_TOKENIZER)).backend_tokenizer


@functools.cache
def pocket():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(BUNDLED["pocket-lm"] / "tokenizer.json"))


@functools.cache
def tables(which):
    return BPETables(gpt2() if which == "gpt2" else pocket())


@pytest.mark.parametrize("which", ["gpt2", "pocket"])
@pytest.mark.parametrize("word", WORDS)
def test_replay_ends_in_the_tokenizers_own_segmentation(which, word):
    tok = gpt2() if which == "gpt2" else pocket()
    got = replay(tables(which), word)
    assert got.tokens == tok.encode(word, add_special_tokens=False).tokens


@pytest.mark.parametrize("word", WORDS)
def test_gpt2_replay_matches_tiktoken(word):
    import tiktoken

    enc = tiktoken.get_encoding("gpt2")
    got = replay(tables("gpt2"), word)
    assert [symbol_bytes(t) for t in got.tokens] == [enc.decode_single_token_bytes(i) for i in enc.encode_ordinary(word)]


def symbol_bytes(symbol):
    from lib.tokens.bpe_replay import _symbol_bytes

    return bytes(_symbol_bytes()[c] for c in symbol)


def test_each_step_merges_one_pair_with_rising_ranks():
    got = replay(tables("gpt2"), "Antidisestablishmentarianism")
    piece = got.pieces[0]
    assert list(piece.start) == list("Antidisestablishmentarianism")
    ranks = [s.rank for s in piece.steps]
    assert ranks == sorted(ranks)  # a merged token exists only after its own merge, so ranks only go up
    for before, step in zip([piece.start] + [s.symbols for s in piece.steps], piece.steps):
        assert "".join(step.symbols) == "".join(before) and len(step.symbols) < len(before)
        assert step.left + step.right in step.symbols


def test_labels_show_spaces_and_partial_bytes():
    got = replay(tables("gpt2"), " 🙂")
    assert symbol_label("Ġ") == "␣"
    assert any(label.startswith("<") for label in labels(got.pieces[0].start))  # single bytes of the emoji


TRAIN_TEXT = (open(GPT2_TOKENIZER.parent.parent / "corpora" / "tinyshakespeare.txt", encoding="utf-8").read()[:20_000]
              if GPT2_TOKENIZER.exists() else "the cat sat on the mat " * 200)


@pytest.mark.parametrize("n_merges", [10, 100, 400])
def test_live_trained_bpe_replay_equals_its_own_encode(n_merges):
    tok = train_bpe(TRAIN_TEXT, n_merges)
    trained = BPETables(tok)
    assert 0 < len(trained.merges) <= n_merges
    for word in WORDS + ["the king", " thou art", "ROMEO:", TRAIN_TEXT[:200]]:
        assert replay(trained, word).tokens == tok.encode(word).tokens


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="paste"):
        train_bpe("   ", 10)
    with pytest.raises(ValueError, match="short"):
        replay(tables("pocket"), "x" * 1000)
    with pytest.raises(ValueError, match="word"):
        replay(tables("pocket"), "")
