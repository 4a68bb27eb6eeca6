"""Text to tokens as plain data, for tiktoken and transformers tokenizers alike.

`segment(name, text)` returns a `Segmentation`: every token id with its bytes and the span of the
text it covers. Tokens that split a character (an emoji is often 2 to 4 byte-level tokens) are
grouped, as tiktokenizer does, until their bytes decode to whole graphemes; a segment that still
is not whole UTF-8 keeps its raw bytes and is marked `partial`, so nothing is ever shown as `�`.

Typed special-token strings such as `<|endoftext|>` are plain text here (as in OpenAI's API);
only a chat template inserts real special tokens. tiktoken never needs transformers, and
transformers (which imports torch) is imported only when a transformers tokenizer is used.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import regex  # grapheme clusters (\X); a dependency of tiktoken and transformers

from lib import hub, presets
from lib.distribution import gpt2_byte_decoder

SHARED_ASSETS = Path(__file__).resolve().parent.parent.parent / "shared" / "assets"
OPENAI_HOST = "openaipublic.blob.core.windows.net"
MAX_GROUP = 64  # a pathological grapheme (thousands of combining marks) is cut at a character boundary
_GRAPHEME = regex.compile(r"\X")
_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@dataclass(frozen=True)
class TokenizerSpec:
    name: str
    label: str
    kind: str                  # "tiktoken" or "transformers"
    source: str                # tiktoken encoding, bundled name or hub id
    about: str
    local: Path | None = None  # folder tried before the hub


REGISTRY: dict[str, TokenizerSpec] = {spec.name: spec for spec in (
    TokenizerSpec("r50k_base", "r50k_base · GPT-2, GPT-3", "tiktoken", "r50k_base",
                  "50,257 tokens (tiktoken's 'gpt2' is the same vocabulary). GPT-2 and the original GPT-3 (davinci)."),
    TokenizerSpec("p50k_base", "p50k_base · text-davinci-003", "tiktoken", "p50k_base",
                  "r50k_base plus tokens for runs of spaces, for code. text-davinci-002/003 and Codex."),
    TokenizerSpec("cl100k_base", "cl100k_base · GPT-3.5, GPT-4", "tiktoken", "cl100k_base",
                  "About 100k tokens. GPT-3.5-turbo, GPT-4 and OpenAI's embedding models."),
    TokenizerSpec("o200k_base", "o200k_base · GPT-4o", "tiktoken", "o200k_base",
                  "About 200k tokens, with many more for non-English text. GPT-4o and later. Downloaded once when online."),
    TokenizerSpec("hf:gpt2", "GPT-2 BPE (transformers)", "transformers", "openai-community/gpt2",
                  "GPT-2's byte-level BPE loaded with transformers: the same ids as r50k_base.",
                  SHARED_ASSETS / "hf-tokenizers" / "gpt2"),
    TokenizerSpec("hf:bert-base-uncased", "BERT WordPiece (bert-base-uncased)", "transformers",
                  "google-bert/bert-base-uncased",
                  "30,522 WordPiece tokens. Lowercases, strips accents, marks word continuations with ##, "
                  "and wraps the text in [CLS] … [SEP].", SHARED_ASSETS / "hf-tokenizers" / "bert-base-uncased"),
    TokenizerSpec("pocket-lm", "pocket-lm BPE (bundled)", "transformers", "pocket-lm",
                  "The bundled model's own byte-level BPE: 4,096 tokens learned from 11 novels."),
)}
ALIASES = {"gpt2": "r50k_base"}
DEFAULT_TOKENIZERS = ("cl100k_base", "r50k_base")

# ChatML, the chat format of Qwen, SmolLM2 and pocket-lm-sft, written out so it works offline.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
CHATML_GPT2 = "chatml-gpt2"


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
    token_bytes: tuple[bytes, ...] = ()  # bytes of each id, for the hover


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
    """Replace unpaired surrogates (not valid Unicode, so no tokenizer can take them) with U+FFFD."""
    try:
        text.encode("utf-8")
        return text, ()
    except UnicodeEncodeError:
        pass
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # pairs stay, lone ones go
    lone = sum(1 for c in fixed if c == "\ufffd") - text.count("\ufffd")
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
# Backends


_UNICODE_TO_BYTE = gpt2_byte_decoder()


class _Tiktoken:
    byte_level = True

    def __init__(self, encoding: str):
        import tiktoken

        self.enc = tiktoken.get_encoding(encoding)
        self.vocab_size = self.enc.n_vocab
        self.special_strings = frozenset(self.enc.special_tokens_set)

    def encode(self, text: str) -> tuple[list[int], None]:
        return self.enc.encode_ordinary(text), None

    def token_bytes(self, ids: Sequence[int]) -> list[bytes]:
        return self.enc.decode_tokens_bytes(ids)

    def special_ids(self, ids: Sequence[int]) -> set[int]:
        return {i for i in set(ids) if self.enc.is_special_token(i)}

    def tokens(self, ids: Sequence[int]) -> list[str]:
        return [b.decode("utf-8", "backslashreplace") for b in self.token_bytes(ids)]

    def check_ids(self, ids: Sequence[int]) -> None:
        bad = []
        for i in set(ids):
            try:
                self.enc.decode_single_token_bytes(i)
            except (KeyError, OverflowError, ValueError):
                bad.append(i)
        if bad:
            raise ValueError(f"Not ids of this tokenizer: {', '.join(map(str, sorted(bad)[:8]))} "
                             f"(its ids go from 0 to {self.enc.max_token_value:,}).")


class _Transformers:
    """A transformers tokenizer with a lock: fast tokenizers raise 'Already borrowed' across threads."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.lock = threading.Lock()
        decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
        self.byte_level = "ByteLevel" in repr(decoder)
        self.vocab_size = len(tokenizer)
        added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        self._special = set(tokenizer.all_special_ids) | {i for i, t in added.items() if getattr(t, "special", False)}
        self.special_strings = frozenset(tokenizer.convert_ids_to_tokens(sorted(self._special)))
        self.unk_id = getattr(tokenizer, "unk_token_id", None)

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        with self.lock:
            enc = self.tok(text, add_special_tokens=True, split_special_tokens=True, return_offsets_mapping=True,
                           verbose=False)
        return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]

    def tokens(self, ids: Sequence[int]) -> list[str]:
        with self.lock:
            return self.tok.convert_ids_to_tokens(list(ids))

    def token_bytes(self, ids: Sequence[int]) -> list[bytes]:
        return [self._bytes(t, i in self._special) for t, i in zip(self.tokens(ids), ids)]

    def _bytes(self, token: str, special: bool) -> bytes:
        if not special and self.byte_level and all(c in _UNICODE_TO_BYTE for c in token):
            return bytes(_UNICODE_TO_BYTE[c] for c in token)
        fallback = _BYTE_FALLBACK.fullmatch(token)
        if fallback and not special:
            return bytes([int(fallback.group(1), 16)])
        return token.encode("utf-8")

    def special_ids(self, ids: Sequence[int]) -> set[int]:
        return self._special.intersection(ids)

    def check_ids(self, ids: Sequence[int]) -> None:
        bad = sorted({i for i in ids if not 0 <= i < self.vocab_size})
        if bad:
            raise ValueError(f"Not ids of this tokenizer: {', '.join(map(str, bad[:8]))} "
                             f"(its ids go from 0 to {self.vocab_size - 1:,}).")

    def decode(self, ids: Sequence[int]) -> str:
        with self.lock:
            return self.tok.decode(list(ids))


def _tiktoken_cache_dir() -> Path:
    if "TIKTOKEN_CACHE_DIR" not in os.environ and (SHARED_ASSETS / "tiktoken-cache").is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(SHARED_ASSETS / "tiktoken-cache")
    import tempfile

    return Path(os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
                or Path(tempfile.gettempdir()) / "data-gym-cache")


def tiktoken_cached(encoding: str) -> bool:
    """Whether tiktoken has this encoding's file on disk (so loading it needs no network)."""
    from tiktoken_ext.openai_public import ENCODING_CONSTRUCTORS  # light: no download happens here

    if encoding not in ENCODING_CONSTRUCTORS:
        return False
    urls = {"gpt2": ["https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
                     "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json"]}.get(
        encoding, [f"https://openaipublic.blob.core.windows.net/encodings/{encoding}.tiktoken"])
    folder = _tiktoken_cache_dir()
    return all((folder / hashlib.sha1(u.encode()).hexdigest()).exists() for u in urls)


@functools.lru_cache(maxsize=1)
def _openai_reachable() -> bool:
    return hub.network_available(OPENAI_HOST)


def _hub_tokenizer_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return False
    return any(isinstance(try_to_load_from_cache(repo_id, f), str)
               for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json"))


def _tokenizer_folder(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json",
                                                                 "vocab.txt", "tokenizer.model"))


def _load_transformers(ref: str, local: Path | None = None, hub_id: str | None = None):
    """AutoTokenizer from a local folder, the bundled assets, the hub cache or (online) the hub."""
    if local is not None and _tokenizer_folder(local):
        target, local_only = str(local), True
    elif ref in hub.BUNDLED:
        if not _tokenizer_folder(hub.BUNDLED[ref]):
            raise hub.ModelUnavailable(f"The bundled {ref} is not in {hub.BUNDLED[ref]} yet (it appears once its "
                                       "training finishes). The tiktoken tokenizers work meanwhile.")
        target, local_only = str(hub.BUNDLED[ref]), True
    elif (folder := hub.local_folder(hub.check_ref(ref))) is not None:  # never in hosted mode
        if not _tokenizer_folder(folder):
            raise hub.ModelUnavailable(f"The folder '{ref}' holds no tokenizer files.")
        target, local_only = str(folder), True
    else:
        repo = hub_id or ref
        if not re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", repo):
            raise hub.ModelUnavailable(f"'{ref}' is not a tokenizer this page knows, nor a valid hub id "
                                       "(like 'Qwen/Qwen2.5-0.5B').")
        if _hub_tokenizer_cached(repo):
            target, local_only = repo, not hub.network_available()
        elif hub.network_available():
            target, local_only = repo, False
        else:
            raise hub.ModelUnavailable(f"The tokenizer '{repo}' is not downloaded on this machine and there is no "
                                       "network. Offline, use the tiktoken tokenizers, GPT-2, BERT or the bundled pocket-lm.")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(target, local_files_only=local_only)
    except Exception as exc:  # transformers and the hub client raise many types; one clear message
        raise hub.ModelUnavailable(f"Could not load the tokenizer '{ref}': {type(exc).__name__}: {exc}") from exc


def canonical(name: str) -> str:
    name = name.strip()
    return ALIASES.get(name, name)


def label(name: str) -> str:
    spec = REGISTRY.get(canonical(name))
    return spec.label if spec else canonical(name)


def short_label(name: str) -> str:
    return label(name).split(" · ")[0]


def availability(name: str) -> str | None:
    """None when the tokenizer can load here, else a one-line reason. Cheap: loads nothing."""
    spec = REGISTRY.get(canonical(name))
    if spec is None:
        return None  # a hub id or folder: only trying tells
    if spec.kind == "tiktoken":
        if tiktoken_cached(spec.source) or _openai_reachable():
            return None
        return (f"{spec.name} is not cached on this machine and there is no network to download it. "
                "r50k_base, p50k_base and cl100k_base work offline.")
    if spec.local is not None and _tokenizer_folder(spec.local):
        return None
    if spec.source in hub.BUNDLED:
        return None if _tokenizer_folder(hub.BUNDLED[spec.source]) else \
            f"The bundled {spec.source} is not here yet (it appears once its training finishes)."
    if _hub_tokenizer_cached(spec.source) or hub.network_available():
        return None
    return f"{spec.label} is not on this machine and there is no network to download it."


@functools.lru_cache(maxsize=16)
def load(name: str):
    """The backend for a registry name, alias, bundled name, local folder or hub id (cached per process)."""
    name = canonical(name)
    spec = REGISTRY.get(name)
    if spec is not None and spec.kind == "tiktoken":
        reason = availability(name)
        if reason:
            raise hub.ModelUnavailable(reason)
        try:
            return _Tiktoken(spec.source)
        except Exception as exc:  # network or cache trouble inside tiktoken
            raise hub.ModelUnavailable(f"Could not load {name}: {type(exc).__name__}: {exc}") from exc
    if spec is not None:
        return _Transformers(_load_transformers(spec.source, spec.local, spec.source))
    return _Transformers(_load_transformers(name))


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
        if all(_BYTE_FALLBACK.fullmatch(tokens[k]) for k in group):
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


def segment(name: str, text: str, limit: int | None = None, group: bool = True) -> Segmentation:
    """Tokenize `text` with tokenizer `name`. Counts are exact; `limit` caps how many segments are built.

    group=False gives one segment per byte-level token, so tokens that split a character show as bytes.
    """
    name = canonical(name)
    backend = load(name)
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
    return Segmentation(name, label(name), clean, tuple(ids), tuple(segments), notes)


def decode(name: str, ids: Sequence[int], limit: int | None = None) -> Segmentation:
    """Ids back to text and segments. Ids that end mid-character keep their bytes (partial), never `�`."""
    name = canonical(name)
    backend = load(name)
    ids = [int(i) for i in ids]
    backend.check_ids(ids)
    return _segments_from_ids(name, backend, ids, limit)


def _segments_from_ids(name: str, backend, ids: list[int], limit: int | None, notes: tuple[str, ...] = ()) -> Segmentation:
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
    return Segmentation(name, label(name), text, tuple(ids), tuple(out), notes)


# ---------------------------------------------------------------------------------------------
# Chat formats


@dataclass(frozen=True)
class ChatSource:
    name: str
    label: str
    about: str


def chat_sources(extra: Sequence[str] = ()) -> list[ChatSource]:
    """Chat tokenizers usable here: the bundled SFT model, cached/online hub instruct models, ChatML on GPT-2."""
    out = []
    sft = hub.BUNDLED["pocket-lm-sft"]
    if _tokenizer_folder(sft):
        out.append(ChatSource("pocket-lm-sft", "pocket-lm-sft (bundled chat model, ChatML)",
                              "The bundled chat model's own tokenizer and chat template."))
    from lib.catalog import CATALOG

    online = None
    for ref in [e.id for e in CATALOG if e.chat and e.id not in hub.BUNDLED] + list(extra):
        if _hub_tokenizer_cached(ref) or (online := hub.network_available() if online is None else online):
            out.append(ChatSource(ref, f"{ref} (its own chat template)", "An instruct model's tokenizer from the hub."))
    out.append(ChatSource(CHATML_GPT2, "ChatML format on GPT-2's tokenizer (offline stand-in)",
                          "The ChatML template kept in lib/tokenization.py (Qwen, SmolLM2 and pocket-lm-sft use it), "
                          "applied to GPT-2's tokenizer. GPT-2 was never trained to chat, so <|im_start|> and "
                          "<|im_end|> are added as new special tokens (ids 50257 and 50258), as chat fine-tuning of "
                          "a base model does."))
    return out


@functools.lru_cache(maxsize=4)
def _chat_backend(source: str) -> _Transformers:
    if source == CHATML_GPT2:
        spec = REGISTRY["hf:gpt2"]
        tok = _load_transformers(spec.source, spec.local, spec.source)
        tok.add_special_tokens({"additional_special_tokens": list(CHATML_TOKENS)})
        tok.chat_template = CHATML_TEMPLATE
        return _Transformers(tok)
    tok = _load_transformers(source)
    if not getattr(tok, "chat_template", None):
        raise hub.ModelUnavailable(f"'{source}' has no chat template, so it is not an instruct model's tokenizer.")
    return _Transformers(tok)


@dataclass(frozen=True)
class ChatFormat:
    source: str
    rendered: str              # the whole conversation as one string, special tokens written out
    segmentation: Segmentation
    notes: tuple[str, ...] = ()


def chat_format(source: str, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True,
                limit: int | None = None) -> ChatFormat:
    """The conversation as the model sees it: one token sequence from transformers' apply_chat_template.

    Control tokens typed inside a message stay plain text (sanitize_control_tokens), so a user cannot
    close their own turn early.
    """
    backend = _chat_backend(source)
    msgs = [{"role": m["role"], "content": clean_text(m["content"])[0]} for m in messages]
    with backend.lock:
        rendered = backend.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt)
        ids = backend.tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=add_generation_prompt,
                                              sanitize_control_tokens=True, return_dict=True)["input_ids"]
    notes: tuple[str, ...] = ()
    typed = sorted({s for s in backend.special_strings for m in msgs if s and s in m["content"]})
    if typed:
        notes = (f"A message contains {', '.join(typed)}. It was encoded as plain text, not as the control token, "
                 "so a message cannot end its own turn or pose as another role.",)
    seg = _segments_from_ids(source, backend, list(ids), limit)
    return ChatFormat(source, rendered, seg, notes)


# ---------------------------------------------------------------------------------------------
# Presets


PRESETS: dict[str, str] = {
    "they are splashing": " they are splashing",
    "Pandas and frogs (lecture)": ("When I arrived back at the panda breeding facility after the extraordinary rain of "
                                   "live frogs, I couldn't believe what I saw."),
    "Numbers and arithmetic": "127 + 677 = 804\n1234567 × 89 = 109876463\n3.14159, 2,048 and 1e-9\nIn 2023 GPT-4 cost $20/month.",
    "Code": ("def fib(n: int) -> int:\n    if n < 2:\n        return n\n\treturn fib(n - 1) + fib(n - 2)\n\n"
             "print([fib(i) for i in range(10)])  # 0 1 1 2 3 5 8 ..."),
    "A very long word": "Pneumonoultramicroscopicsilicovolcanoconiosis and antidisestablishmentarianism",
    "Emoji": "I love 🦙 llamas! 👩‍👩‍👧 family, 👍🏽 thumbs up, flags 🇺🇦 🇯🇵, and ❤️",
    "Chinese, Japanese, Korean": "今天天气很好。 今日は天気がいいです。 오늘은 날씨가 좋아요.",
    "Whitespace runs": "a\tb\n\n\nc" + " " * 16 + "d\r\n    indented\n        more",
    "Special-token text": "Typed text <|endoftext|> is just text here, and so is [CLS] or <|im_start|>.",
    "GPT-3 tweet (lecture)": "Write a tweet talking about how great GPT-3 is.",
}
PRESETS["They are splashing (text-davinci-003 lecture)"] = presets.THEY_ARE_SPLASHING  # try it under p50k_base
DEFAULT_PRESET = "they are splashing"

# One sentence in many languages, for tokens per language (the same meaning, so the same "cost" in ideas).
MULTILINGUAL: dict[str, str] = {
    "English": "The weather is nice today, so we are going to the park.",
    "Spanish": "Hoy hace buen tiempo, así que vamos al parque.",
    "German": "Heute ist schönes Wetter, also gehen wir in den Park.",
    "French": "Il fait beau aujourd'hui, alors nous allons au parc.",
    "Russian": "Сегодня хорошая погода, поэтому мы идём в парк.",
    "Greek": "Σήμερα ο καιρός είναι ωραίος, οπότε πάμε στο πάρκο.",
    "Chinese": "今天天气很好，所以我们要去公园。",
    "Japanese": "今日は天気がいいので、公園に行きます。",
    "Korean": "오늘은 날씨가 좋아서 우리는 공원에 갑니다.",
    "Hindi": "आज मौसम अच्छा है, इसलिए हम पार्क जा रहे हैं।",
    "Arabic": "الطقس جميل اليوم، لذلك سنذهب إلى الحديقة.",
    "Swahili": "Leo hali ya hewa ni nzuri, kwa hivyo tunaenda kwenye bustani.",
}


@dataclass(frozen=True)
class LanguageRow:
    language: str
    tokenizer: str
    tokens: int
    characters: int
    vs_english: float  # tokens relative to the English sentence under the same tokenizer


def multilingual(names: Sequence[str], sentences: dict[str, str] = MULTILINGUAL) -> list[LanguageRow]:
    rows = []
    for name in names:
        counts = {lang: segment(name, s, limit=0).n_tokens for lang, s in sentences.items()}
        base = counts.get("English") or next(iter(counts.values())) or 1
        rows += [LanguageRow(lang, canonical(name), n, len(sentences[lang]), n / base) for lang, n in counts.items()]
    return rows
