"""Tokenizers by name: the registry, the tiktoken and transformers backends, and loading them offline-first.

tiktoken never needs transformers, and transformers (which imports torch) is imported only when a
transformers tokenizer is used.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lib.models import hub
from lib.sampling.distribution import gpt2_byte_decoder, is_byte_level
from lib.tokens.segmentation import BYTE_FALLBACK

SHARED_ASSETS = Path(__file__).resolve().parents[3] / "shared" / "assets"
OPENAI_HOST = "openaipublic.blob.core.windows.net"


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


# ---------------------------------------------------------------------------------------------
# Backends


_UNICODE_TO_BYTE = gpt2_byte_decoder()


class TiktokenBackend:
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


class TransformersBackend:
    """A transformers tokenizer with a lock: fast tokenizers raise 'Already borrowed' across threads."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.lock = threading.Lock()
        self.byte_level = is_byte_level(tokenizer)
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
        fallback = BYTE_FALLBACK.fullmatch(token)
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
    """The folder tiktoken itself reads, found as tiktoken finds it. The app's start-up points TIKTOKEN_CACHE_DIR at
    the shared cache when there is one (components/setup.configure_environment); this getter changes nothing."""
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


def hub_tokenizer_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return False
    return any(isinstance(try_to_load_from_cache(repo_id, f), str)
               for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json"))


def tokenizer_folder(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json",
                                                                 "vocab.txt", "tokenizer.model"))


def load_transformers(ref: str, local: Path | None = None, hub_id: str | None = None):
    """AutoTokenizer from a local folder, the bundled assets, the hub cache or (online) the hub."""
    if local is not None and tokenizer_folder(local):
        target, local_only = str(local), True
    elif ref in hub.BUNDLED:
        if not tokenizer_folder(hub.BUNDLED[ref]):
            raise hub.ModelUnavailable(f"The bundled {ref} is not in {hub.BUNDLED[ref]} yet (it appears once its "
                                       "training finishes). The tiktoken tokenizers work meanwhile.")
        target, local_only = str(hub.BUNDLED[ref]), True
    elif (folder := hub.local_folder(hub.check_ref(ref))) is not None:  # never in hosted mode
        if not tokenizer_folder(folder):
            raise hub.ModelUnavailable(f"The folder '{ref}' holds no tokenizer files.")
        target, local_only = str(folder), True
    else:
        repo = hub_id or ref
        if not hub.is_hub_id(repo):
            raise hub.ModelUnavailable(f"'{ref}' is not a tokenizer this page knows, nor a valid hub id "
                                       "(like 'Qwen/Qwen2.5-0.5B').")
        if hub_tokenizer_cached(repo):
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
    if spec.local is not None and tokenizer_folder(spec.local):
        return None
    if spec.source in hub.BUNDLED:
        return None if tokenizer_folder(hub.BUNDLED[spec.source]) else \
            f"The bundled {spec.source} is not here yet (it appears once its training finishes)."
    if hub_tokenizer_cached(spec.source) or hub.network_available():
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
            return TiktokenBackend(spec.source)
        except Exception as exc:  # network or cache trouble inside tiktoken
            raise hub.ModelUnavailable(f"Could not load {name}: {type(exc).__name__}: {exc}") from exc
    if spec is not None:
        return TransformersBackend(load_transformers(spec.source, spec.local, spec.source))
    return TransformersBackend(load_transformers(name))

