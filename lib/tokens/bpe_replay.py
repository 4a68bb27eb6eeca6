"""How BPE builds a token: replay a tokenizer's own merges, step by step, and train a small BPE live.

A byte-level BPE tokenizer (GPT-2 and its descendants) first cuts text into pieces with a regex
(words with their leading space, numbers, punctuation), writes every byte of a piece as one symbol,
then repeatedly merges the adjacent pair with the best (lowest) merge rank, every occurrence left to
right, until no adjacent pair is in the merge list (GPT-2's `bpe()`; minGPT's `encode_and_show_work`).
Every step is returned as plain data; the final symbols are the tokenizer's own tokens (tests check it).
Works on a `tokenizers.Tokenizer` (the fast backend of a transformers tokenizer).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Sequence

from lib.sampling.distribution import gpt2_byte_decoder, token_label

MAX_TEXT = 300          # the replay is for a word or a short phrase
MAX_TRAIN_CHARS = 200_000


@functools.cache
def byte_symbols() -> dict[int, str]:
    """GPT-2's bytes_to_unicode: each byte as one printable character (spaces become Ġ, newlines Ċ)."""
    return {b: c for c, b in _symbol_bytes().items()}


@functools.cache
def _symbol_bytes() -> dict[str, int]:
    return gpt2_byte_decoder()


def symbol_label(symbol: str) -> str:
    """A byte-level symbol as readable text (␣ for space); bytes that are not whole UTF-8 shown as <E4>."""
    inverse = _symbol_bytes()
    if all(c in inverse for c in symbol):
        raw = bytes(inverse[c] for c in symbol)
        return token_label(raw.decode("utf-8", errors="replace"), raw)
    return token_label(symbol, symbol.encode())


@dataclass(frozen=True)
class MergeStep:
    left: str
    right: str
    rank: int                  # position in the tokenizer's merge list (0 = learned first)
    symbols: tuple[str, ...]   # the piece's symbols after this merge


@dataclass(frozen=True)
class PieceReplay:
    piece: str                 # one pre-token, in the byte-level alphabet
    start: tuple[str, ...]     # its bytes, one symbol each
    steps: tuple[MergeStep, ...]

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.steps[-1].symbols if self.steps else self.start


@dataclass(frozen=True)
class Replay:
    pieces: tuple[PieceReplay, ...]

    @property
    def tokens(self) -> list[str]:
        return [t for p in self.pieces for t in p.tokens]

    @property
    def n_steps(self) -> int:
        return sum(len(p.steps) for p in self.pieces)


class BPETables:
    """Merge ranks and settings read from a `tokenizers.Tokenizer`'s own JSON."""

    def __init__(self, tokenizer):
        from tokenizers import Tokenizer

        text = tokenizer.to_str()
        spec = json.loads(text)
        model = spec["model"]
        if model.get("type") != "BPE":
            raise ValueError(f"this tokenizer is {model.get('type')}, not BPE")
        if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix") or model.get("byte_fallback"):
            raise ValueError("the replay covers byte-level BPE tokenizers (GPT-2 style) only")
        pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {pair: i for i, pair in enumerate(pairs)}
        self.merges = pairs
        self.vocab = model["vocab"]
        self.ignore_merges = bool(model.get("ignore_merges"))
        self.tokenizer = Tokenizer.from_str(text)  # a private copy: a shared one can raise "Already borrowed"


def replay_piece(tables: BPETables, piece: str) -> PieceReplay:
    symbols = list(piece)
    start = tuple(symbols)
    if tables.ignore_merges and piece in tables.vocab:  # Llama-3-style: a whole word in the vocabulary is taken as is
        return PieceReplay(piece, start, (MergeStep(piece, "", -1, (piece,)),) if len(symbols) > 1 else ())
    steps = []
    while len(symbols) > 1:
        pairs = {(a, b) for a, b in zip(symbols, symbols[1:])}
        best = min(pairs, key=lambda p: tables.ranks.get(p, float("inf")))
        if best not in tables.ranks:
            break
        merged, i = [], 0
        while i < len(symbols):  # every occurrence, left to right
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                merged.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
        steps.append(MergeStep(best[0], best[1], tables.ranks[best], tuple(symbols)))
    return PieceReplay(piece, start, tuple(steps))


def pieces(tokenizer, text: str) -> list[str]:
    """The tokenizer's own normalisation and pre-tokenisation (byte-level alphabet)."""
    if tokenizer.normalizer is not None:
        text = tokenizer.normalizer.normalize_str(text)
    if tokenizer.pre_tokenizer is None:
        return [text] if text else []
    return [p for p, _ in tokenizer.pre_tokenizer.pre_tokenize_str(text)]


def replay(tables: BPETables, text: str) -> Replay:
    if not text:
        raise ValueError("type a word to see how it is built")
    if len(text) > MAX_TEXT:
        raise ValueError(f"the replay is for a word or a short phrase (at most {MAX_TEXT} characters)")
    return Replay(tuple(replay_piece(tables, p) for p in pieces(tables.tokenizer, text)))


# -- train your own -------------------------------------------------------------------------------
def train_bpe(text: str, n_merges: int, min_frequency: int = 2):
    """A byte-level BPE (GPT-2's pre-tokenizer and byte alphabet) trained on `text` with at most n_merges merges."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if not text.strip():
        raise ValueError("paste some text to train on")
    if len(text) > MAX_TRAIN_CHARS:
        raise ValueError(f"the text is longer than {MAX_TRAIN_CHARS:,} characters; paste a shorter one")
    if not 1 <= n_merges <= 5000:
        raise ValueError("the number of merges must be between 1 and 5,000")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + n_merges, initial_alphabet=alphabet,
                                  min_frequency=min_frequency, show_progress=False)
    tok.train_from_iterator([text], trainer)
    return tok


def merge_rows(tables: BPETables, n: int) -> list[dict]:
    """The first n merges as tidy rows."""
    return [{"rank": i, "left": symbol_label(a), "right": symbol_label(b), "new token": symbol_label(a + b)}
            for i, (a, b) in enumerate(tables.merges[:n])]


def labels(symbols: Sequence[str]) -> list[str]:
    return [symbol_label(s) for s in symbols]
