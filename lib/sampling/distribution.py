"""Next-token distributions as plain data.

A distribution is either *complete* (a score for every token in the vocabulary, as a local model
gives) or *partial* (the top K log-probabilities an API returns; the rest of the mass is unknown
in detail). Pages get tidy rows from `top_rows`, never HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

from lib.text import WHITESPACE_GLYPHS, show_whitespace


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Stable log-softmax in float64; -inf scores stay -inf."""
    x = np.asarray(scores, dtype=np.float64)
    m = np.max(x)
    if not np.isfinite(m):
        raise ValueError("every score is -inf: no token can be chosen")
    return x - (m + np.log(np.sum(np.exp(x - m))))


def entropy_nats(probs: np.ndarray) -> float:
    p = np.asarray(probs, dtype=np.float64)
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())


def token_label(text: str, raw: bytes) -> str:
    """Readable label for one token: visible whitespace; raw bytes when not whole UTF-8."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return " ".join(f"<{b:02X}>" for b in raw)
    if not decoded and text:
        decoded = text
    shown = show_whitespace(decoded)
    return "".join(c if c.isprintable() or c in WHITESPACE_GLYPHS.values() else f"<U+{ord(c):04X}>" for c in shown) or "∅"


@dataclass(frozen=True)
class TokenRow:
    rank: int
    id: int          # -1 when the backend does not say
    text: str
    raw: bytes
    label: str
    logprob: float
    prob: float
    cum_prob: float


@dataclass(frozen=True)
class Step:
    chosen: TokenRow            # the generated token, with its probability under the model
    alternatives: tuple[TokenRow, ...]
    entropy: float


@dataclass(frozen=True)
class Distribution:
    """scores: raw logits (complete) or log-probabilities (partial), indexed like `ids`/`texts`."""

    scores: np.ndarray
    ids: np.ndarray
    texts: Sequence[str]
    raws: Sequence[bytes]
    complete: bool
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    @cached_property
    def logprobs(self) -> np.ndarray:
        if self.complete:
            return log_softmax(self.scores)
        return np.asarray(self.scores, dtype=np.float64)

    @cached_property
    def probs(self) -> np.ndarray:
        return np.exp(self.logprobs)

    @property
    def known_mass(self) -> float:
        return 1.0 if self.complete else float(min(1.0, self.probs.sum()))

    def rank(self, token_id: int) -> int:
        """1 for the most likely token; tied tokens share the better rank."""
        lp = self.logprobs
        return int((lp > lp[token_id]).sum()) + 1

    def entropy(self) -> float:
        """Exact for complete distributions; for partial ones, the entropy of the known tokens only."""
        return self._entropy

    @property
    def at_least(self) -> str:
        """"≥ " before a partial distribution's entropy: the unseen tokens' terms are all >= 0, so it is a lower
        bound; "" for a complete one."""
        return "" if self.complete else "≥ "

    @cached_property
    def _entropy(self) -> float:
        return entropy_nats(self.probs)

    def order(self, n: int | None = None) -> np.ndarray:
        """Indices by descending probability (stable for ties), first n only. Remembered per n: a page
        asks again on every widget move."""
        orders = self.__dict__.setdefault("_orders", {})
        if n not in orders:
            lp = self.logprobs
            if n is not None and n < len(lp):
                part = np.argpartition(-lp, n)[:n]
                found = part[np.lexsort((part, -lp[part]))]
            else:
                found = np.lexsort((np.arange(len(lp)), -lp))
            found.setflags(write=False)
            orders[n] = found
        return orders[n]

    def top_rows(self, n: int) -> list[TokenRow]:
        lp = self.logprobs
        rows, cum = [], 0.0
        for rank, i in enumerate(self.order(max(1, n)), start=1):
            p = float(np.exp(lp[i]))
            cum += p
            rows.append(TokenRow(rank, int(self.ids[i]), self.texts[i], self.raws[i],
                                 token_label(self.texts[i], self.raws[i]), float(lp[i]), p, cum))
        return rows

    def rest_mass(self, n: int) -> float:
        """Probability of everything outside the top n (including the unknown tail of a partial one)."""
        return max(0.0, 1.0 - float(self.probs[self.order(n)].sum()))


class TokenTable:
    """Text and bytes of every id in a vocabulary, computed once per tokenizer."""

    def __init__(self, texts: list[str], raws: list[bytes]):
        self.texts, self.raws = texts, raws

    @classmethod
    def from_hf(cls, tokenizer) -> TokenTable:
        size = len(tokenizer)
        pieces = tokenizer.convert_ids_to_tokens(list(range(size)))
        byte_decoder = gpt2_byte_decoder() if is_byte_level(tokenizer) else None
        texts, raws = [], []
        for piece in pieces:
            piece = piece or ""
            if byte_decoder and all(c in byte_decoder for c in piece) and piece not in tokenizer.all_special_tokens:
                raw = bytes(byte_decoder[c] for c in piece)
                texts.append(raw.decode("utf-8", errors="replace"))
            else:
                text = piece.replace("▁", " ") if piece not in tokenizer.all_special_tokens else piece
                if text.startswith("<0x") and text.endswith(">") and len(text) == 6:  # SentencePiece byte fallback
                    raw = bytes([int(text[3:5], 16)])
                    text = raw.decode("utf-8", errors="replace")
                else:
                    raw = text.encode("utf-8")
                texts.append(text)
            raws.append(raw)
        return cls(texts, raws)


def is_byte_level(tokenizer) -> bool:
    """Whether a transformers tokenizer spells its tokens in GPT-2's byte alphabet (a ByteLevel pre-tokenizer or
    decoder, alone or inside a Sequence)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and any("ByteLevel" in repr(part) for part in (backend.pre_tokenizer, backend.decoder))


def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's byte-to-unicode table, inverted."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}
