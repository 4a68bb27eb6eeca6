"""Pure segmentation: token ids and their bytes become Segments that line up with the text.

Tokens that split a character (an emoji is often 2 to 4 byte-level tokens) are grouped, as tiktokenizer
does, until their bytes decode to whole graphemes; a segment that still is not whole UTF-8 keeps its raw
bytes and is marked `partial`, so nothing is ever shown as `�`. Nothing here loads a tokenizer: `split`
and `from_ids` take a backend from lib/tokens/loading.py (encode, tokens, token_bytes, special_ids,
special_strings, byte_level, decode; unk_id optionally).
"""

from __future__ import annotations

import builtins

import re
from dataclasses import dataclass, field
from typing import Sequence

import regex  # grapheme clusters (\X); a dependency of tiktoken and transformers

from lib.text import clean_text as text_clean, lone_surrogates

MAX_GROUP = 64  # a pathological grapheme (thousands of combining marks) is cut at a character boundary
_GRAPHEME = regex.compile(r"\X")
BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")

# ---------------------------------------------------------------------------------------------
# Data returned to pages


@dataclass(frozen=True)
class Segment:
    index: int
    ids: tuple[int, ...]          # one id, or several that together make whole characters
    text: str                     # what the tokens spell (token strings for WordPiece/SentencePiece)
    bytes: bytes
    char_start: int               # span in Segmentation.text; empty for added special tokens
    char_end: int
    partial: bool = False         # bytes are not whole UTF-8: show them as bytes
    special: bool = False         # a special token such as [CLS] or <|im_start|>
    token_bytes: tuple[builtins.bytes, ...] = ()  # bytes of each id, for the hover (the type, not the field)


@dataclass(frozen=True)
class Counts:
    tokens: int
    characters: int
    words: int

    @property
    def chars_per_token(self) -> float:
        return self.characters / self.tokens if self.tokens else 0.0


@dataclass(frozen=True)
class Segmentation:
    tokenizer: str
    label: str
    text: str                         # the text as tokenized (lone surrogates replaced)
    ids: tuple[int, ...]
    segments: tuple[Segment, ...]     # may stop early when a limit was asked for
    notes: tuple[str, ...] = field(default=())

    @property
    def n_tokens(self) -> int:
        return len(self.ids)

    @property
    def complete(self) -> bool:
        return sum(len(s.ids) for s in self.segments) == len(self.ids)

    @property
    def counts(self) -> Counts:
        return count(self.text, len(self.ids))


def count(text: str, n_tokens: int) -> Counts:
    return Counts(tokens=n_tokens, characters=len(text), words=len(text.split()))


# ---------------------------------------------------------------------------------------------
# Input cleaning


def clean_text(text: str) -> tuple[str, tuple[str, ...]]:
    """lib.text.clean_text, plus a note saying how many code points it replaced."""
    fixed, lone = text_clean(text), lone_surrogates(text)
    if not lone:
        return fixed, ()  # valid, or surrogate pairs now joined
    return fixed, (f"The text held {lone} unpaired surrogate code point(s), which are not valid Unicode; "
                              "each was replaced by U+FFFD (�) before tokenizing.",)


def parse_ids(raw: str, max_ids: int = 200_000) -> list[int]:
    """'[814, 527]', '814 527' or '814,527' -> [814, 527]; ValueError names the bad parts."""
    parts = [p for p in re.split(r"[\s,;\[\]()]+", raw.strip()) if p]
    bad = [p for p in parts if not re.fullmatch(r"-?\d{1,12}", p)]
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5])
        raise ValueError(f"Token ids are whole numbers separated by spaces or commas; these are not: {shown}.")
    if len(parts) > max_ids:
        raise ValueError(f"{len(parts):,} ids is more than the {max_ids:,} this page decodes at once.")
    return [int(p) for p in parts]


# ---------------------------------------------------------------------------------------------
# Segmentation


def _grapheme_byte_ends(text: str):
    """Byte offsets where grapheme clusters end, in order."""
    if text.isascii() and "\r\n" not in text:
        yield from range(1, len(text) + 1)
        return
    pos = 0
    for m in _GRAPHEME.finditer(text):
        g = m.group()
        pos += len(g) if g.isascii() else len(g.encode("utf-8"))
        yield pos


def _decodes(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _one_per_token(text: str, ids: Sequence[int], tbytes: Sequence[bytes], special: set[int],
                   limit: int | None) -> list[Segment]:
    """Byte-level tokens, ungrouped: a token that splits a character is partial and keeps its bytes."""
    char_of_byte = [k for k, c in enumerate(text) for _ in range(len(c.encode("utf-8")))] + [len(text)]
    out: list[Segment] = []
    pos = 0
    for tid, tb in zip(ids, tbytes):
        if limit is not None and len(out) >= limit:
            break
        if tid in special:
            out.append(Segment(len(out), (tid,), tb.decode("utf-8", "backslashreplace"), tb,
                               char_of_byte[pos], char_of_byte[pos], special=True, token_bytes=(tb,)))
            continue
        decoded = _decodes(tb)
        start, end = char_of_byte[pos], char_of_byte[pos + len(tb) - 1] + 1 if tb else char_of_byte[pos]
        out.append(Segment(len(out), (tid,), decoded if decoded is not None else tb.decode("utf-8", "backslashreplace"),
                           tb, start, end, decoded is None, token_bytes=(tb,)))
        pos += len(tb)
    return out


class _ByteGroups:
    """Byte-level tokens gathered into Segments of whole UTF-8 characters; bytes that never become whole
    are shown escaped and marked partial. `spell_all`: every segment's shown text, partial and special
    ones too, advances the character position (when the text is spelled from the ids, not given)."""

    def __init__(self, spell_all: bool):
        self.spell_all = spell_all
        self.out: list[Segment] = []
        self.ids: list[int] = []
        self.bytes: list[bytes] = []
        self.char = 0

    def add(self, tid: int, tb: bytes) -> None:
        self.ids.append(tid)
        self.bytes.append(tb)

    def flush(self, force: bool = True) -> None:
        """Emit the gathered tokens as one segment; unless forced, only once their bytes decode."""
        if not self.ids:
            return
        data = b"".join(self.bytes)
        decoded = _decodes(data)
        if decoded is None and not force:
            return
        shown = decoded if decoded is not None else data.decode("utf-8", "backslashreplace")
        width = len(shown) if decoded is not None or self.spell_all else 0
        self.out.append(Segment(len(self.out), tuple(self.ids), shown, data, self.char, self.char + width,
                                decoded is None, token_bytes=tuple(self.bytes)))
        self.char += width
        self.ids.clear()
        self.bytes.clear()

    def special(self, tid: int, tb: bytes) -> None:
        self.flush()
        shown = tb.decode("utf-8", "backslashreplace")
        width = len(shown) if self.spell_all else 0
        self.out.append(Segment(len(self.out), (tid,), shown, tb, self.char, self.char + width, special=True,
                                token_bytes=(tb,)))
        self.char += width

    def full(self, limit: int | None) -> bool:
        return limit is not None and len(self.out) >= limit

    def place(self, ids: Sequence[int], tbytes: Sequence[bytes], special: set[int], limit: int | None):
        """Yield the ordinary tokens for the caller to add and group; special tokens become segments of their
        own on the way. Stops at `limit` segments; at the end, whatever is still gathered is flushed."""
        for tid, tb in zip(ids, tbytes):
            if self.full(limit):
                return
            if tid in special:
                self.special(tid, tb)
            else:
                yield tid, tb
        self.flush()


def _group_by_graphemes(text: str, ids: Sequence[int], tbytes: Sequence[bytes], special: set[int],
                        limit: int | None) -> list[Segment]:
    """Byte-level tokens -> segments ending on grapheme boundaries of `text`."""
    ends = _grapheme_byte_ends(text)
    boundary = next(ends, None)
    groups = _ByteGroups(spell_all=False)
    pos = 0
    for tid, tb in groups.place(ids, tbytes, special, limit):
        groups.add(tid, tb)
        pos += len(tb)
        while boundary is not None and boundary < pos:
            boundary = next(ends, None)
        if boundary == pos or len(groups.ids) >= MAX_GROUP:
            groups.flush(force=False)
    return groups.out


def _group_by_offsets(text: str, ids: Sequence[int], tokens: Sequence[str], tbytes: Sequence[bytes],
                      offsets: Sequence[tuple[int, int]], special: set[int], limit: int | None) -> list[Segment]:
    """WordPiece / SentencePiece tokens -> segments; tokens sharing characters (byte fallback) are grouped."""
    out: list[Segment] = []
    group: list[int] = []  # positions in ids
    cursor = 0

    def flush() -> None:
        nonlocal cursor
        if not group:
            return
        data = b"".join(tbytes[k] for k in group)
        if all(BYTE_FALLBACK.fullmatch(tokens[k]) for k in group):
            decoded = _decodes(data)
            shown, partial = (decoded, False) if decoded is not None else (data.decode("utf-8", "backslashreplace"), True)
        else:
            shown, partial = "".join(tokens[k] for k in group), False
        start, end = offsets[group[0]][0], max(offsets[k][1] for k in group)
        out.append(Segment(len(out), tuple(ids[k] for k in group), shown, data, start, end, partial,
                           token_bytes=tuple(tbytes[k] for k in group)))
        cursor = end
        group.clear()

    for k, tid in enumerate(ids):
        if limit is not None and len(out) >= limit:
            break
        start, end = offsets[k]
        if tid in special and start == end:
            flush()
            out.append(Segment(len(out), (tid,), tokens[k], tbytes[k], cursor, cursor, special=True,
                               token_bytes=(tbytes[k],)))
            continue
        if group and start < max(offsets[g][1] for g in group):
            group.append(k)
            continue
        flush()
        group.append(k)
    if limit is None or len(out) < limit:
        flush()
    return out


def _special_note(backend, text: str) -> tuple[str, ...]:
    typed = sorted(s for s in backend.special_strings if s and s in text)
    if not typed:
        return ()
    names = ", ".join(typed[:4])
    return (f"The text contains {names}, the name of a special token of this tokenizer. Typed by you it is plain "
            "text, split into ordinary tokens (OpenAI's API does the same); only the application can insert the "
            "real special token, for example through a chat template.",)


def split(name: str, label: str, backend, text: str, limit: int | None = None, group: bool = True) -> Segmentation:
    """Tokenize `text` with `backend`. Counts are exact; `limit` caps how many segments are built.

    group=False gives one segment per byte-level token, so tokens that split a character show as bytes.
    """
    clean, notes = clean_text(text)
    ids, offsets = backend.encode(clean)
    special = backend.special_ids(ids)
    notes += _special_note(backend, clean)
    added = [i for k, i in enumerate(ids) if i in special and (offsets is None or offsets[k][0] == offsets[k][1])]
    if added:
        shown = ", ".join(dict.fromkeys(backend.tokens(added)))
        notes += (f"The tokenizer adds {len(added)} special token(s) of its own ({shown}); they count as tokens.",)
    unk = getattr(backend, "unk_id", None)
    if unk is not None and unk in special and unk in ids:
        notes += (f"{ids.count(unk)} piece(s) of the text are not in the vocabulary and became "
                  f"{backend.tokens([unk])[0]}: the model cannot see what they were.",)
    tbytes = backend.token_bytes(ids)
    segments: list[Segment] | None = None
    if backend.byte_level:
        plain = b"".join(b for i, b in zip(ids, tbytes) if i not in special)
        if offsets is None or plain == clean.encode("utf-8"):
            segments = (_group_by_graphemes if group else _one_per_token)(clean, ids, tbytes, special, limit)
    if segments is None:
        segments = _group_by_offsets(clean, ids, backend.tokens(ids), tbytes, offsets, special, limit)
    return Segmentation(name, label, clean, tuple(ids), tuple(segments), notes)


def from_ids(name: str, label: str, backend, ids: list[int], limit: int | None,
             notes: tuple[str, ...] = ()) -> Segmentation:
    """Ids back to text and segments. Ids that end mid-character keep their bytes (partial), never `�`."""
    special = backend.special_ids(ids)
    tbytes = backend.token_bytes(ids)
    out: list[Segment] = []
    if backend.byte_level:
        groups = _ByteGroups(spell_all=True)
        for tid, tb in groups.place(ids, tbytes, special, limit):
            if groups.ids:
                try:
                    b"".join(groups.bytes + [tb]).decode("utf-8")
                except UnicodeDecodeError as err:
                    if err.reason != "unexpected end of data":  # can never become whole: show what we have
                        groups.flush()
            groups.add(tid, tb)
            if _decodes(b"".join(groups.bytes)) is not None or len(groups.ids) >= MAX_GROUP:
                groups.flush()
        out = groups.out
        text = "".join(s.text for s in out) if limit is None else \
            b"".join(tbytes).decode("utf-8", "backslashreplace")
    else:
        tokens = backend.tokens(ids)
        char = 0
        for k, (tid, tok, tb) in enumerate(zip(ids, tokens, tbytes)):
            if limit is not None and k >= limit:
                break
            out.append(Segment(k, (tid,), tok, tb, char, char + len(tok), special=tid in special, token_bytes=(tb,)))
            char += len(tok)
        text = backend.decode(ids)
    return Segmentation(name, label, text, tuple(ids), tuple(out), notes)

