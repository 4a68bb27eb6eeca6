"""Next-token distributions and generations from OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp).

The API returns only the top few log-probabilities per position (20 for chat completions, 5 for
OpenAI's legacy completions), so every distribution here is *partial*: the rest of the mass is
known only as a total. The backend is an `ApiConnection` (lib/models/openai_client.py): it holds one
user's key and stays in that user's session, and its requests are never retried.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from lib.sampling.distribution import Distribution, TokenRow, entropy_nats, token_label
from lib.models.next_token import ALTERNATIVES, Formatted, Generation, Prompt
from lib.sampling.distribution import Step
from lib.models.openai_client import ApiConnection, ApiError
from lib.sampling.knobs import Knobs, server_params
from lib.text import clean_text

VERY_UNLIKELY = -9999.0          # OpenAI's marker for "not in the top 20": not a real log-probability
CHAT_TOP_MAX = 20                # top_logprobs: "an integer between 0 and 20"
LEGACY_TOP_MAX = 5               # legacy completions on OpenAI: "the maximum value for logprobs is 5"
LEGACY_MODELS = frozenset({"davinci-002", "babbage-002", "gpt-3.5-turbo-instruct"})
NO_LOGPROB_PREFIXES = ("o1", "o3", "o4", "gpt-5")   # reasoning models: 403 or no logprobs
NOT_TEXT_MODELS = ("embedding", "tts", "whisper", "dall-e", "image", "audio", "realtime", "transcribe",
                   "moderation", "search", "computer-use", "sora")
ENDPOINTS = ("chat", "completions")


def default_endpoint(model: str) -> str:
    return "completions" if model in LEGACY_MODELS else "chat"


def logprob_capable(model_id: str) -> bool:
    """False for OpenAI ids that are not text models or that never return logprobs."""
    low = model_id.lower()
    return not (low.startswith(NO_LOGPROB_PREFIXES) or any(word in low for word in NOT_TEXT_MODELS))


# -- token rows ---------------------------------------------------------------------------
_BYTE_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def token_bytes(token: str, raw: Sequence[int] | None) -> tuple[str, bytes]:
    """(text, bytes) of one returned token. Chat gives `bytes`; legacy spells partial UTF-8 as 'bytes:\\xe2\\x80'."""
    if raw is not None:
        data = bytes(raw)
    elif token.startswith("bytes:") and _BYTE_ESCAPE.search(token):
        data = bytes(int(h, 16) for h in _BYTE_ESCAPE.findall(token))
    else:
        return token, token.encode("utf-8", "surrogatepass")
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), data


def is_very_unlikely(logprob: float | None) -> bool:
    return logprob is None or logprob <= VERY_UNLIKELY + 0.5


@dataclass(frozen=True)
class _Entry:
    text: str
    raw: bytes
    logprob: float   # nan when the API marked it "very unlikely"


def _entries(items: Sequence[tuple[str, Sequence[int] | None, float | None]]) -> tuple[list[_Entry], int]:
    """Returned (token, bytes, logprob) items as entries, most likely first; the count of -9999 markers dropped."""
    kept, dropped = [], 0
    for token, raw, lp in items:
        if is_very_unlikely(lp):
            dropped += 1
            continue
        text, data = token_bytes(token, raw)
        kept.append(_Entry(text, data, float(lp)))  # type: ignore[arg-type]  # is_very_unlikely() took the Nones
    kept.sort(key=lambda e: -e.logprob)
    return kept, dropped


def _sanitise(text: str) -> str:
    """Lone surrogates can't travel as UTF-8 JSON: replace them with U+FFFD."""
    return clean_text(text)


# -- the backend --------------------------------------------------------------------------
class OpenAIBackend(ApiConnection):
    """One model on an OpenAI-compatible server, for one user session (NextTokenModel protocol)."""

    cache_key = None            # per session: its results are never shared
    has_chat_template = False   # the server applies its chat format out of sight
    can_look_inside = False

    def __init__(self, model: str, *, endpoint: str | None = None, context_length: int | None = None,
                 max_alternatives: int | None = None, **connection: Any):
        """`connection`: ApiConnection's settings (api_key, base_url, timeout, limiter, policy, ...)."""
        model = (model or "").strip()
        if not model:
            raise ValueError("No model was named.")
        self.endpoint = endpoint or default_endpoint(model)
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {self.endpoint!r}")
        super().__init__(model, **connection)
        self.context_length = int(context_length or 8192)  # the server enforces the real limit
        legacy = self.endpoint == "completions" and (self.openai or model in LEGACY_MODELS)
        cap = LEGACY_TOP_MAX if legacy else CHAT_TOP_MAX
        self.max_alternatives = min(cap, max_alternatives or cap)

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.name!r}, base_url={self.base_url!r}, endpoint={self.endpoint!r})"

    __str__ = __repr__

    # -- NextTokenModel ------------------------------------------------------------------
    def encode(self, text: str, extra_ids: Sequence[int] = ()) -> Prompt:
        """API backends send text; the server tokenizes it."""
        if extra_ids:
            raise ValueError("an API backend takes text, not token ids; extend the text instead")
        return Prompt(ids=(), dropped=0, text=_sanitise(text))

    def tokenize(self, text: str) -> list[int]:
        return []  # the server tokenizes; its ids are not visible here

    def chat_prompt(self, text: str) -> Formatted:
        """The text as sent: a chat model's server wraps it in its own template, which is not visible here."""
        return Formatted(self.encode(text), True, "The server applies its chat format; the exact tokens are not "
                                                  "visible through the API.")

    def token_labels(self, ids: Sequence[int]) -> list[str]:
        return []  # API prompts carry no token ids

    def token_row(self, token_id: int) -> TokenRow | None:
        return None

    def distribution(self, prompt: Prompt) -> Distribution:
        """The top tokens for the next position (partial), with notes saying what is unknown."""
        n = self.max_alternatives
        return self._cached(("dist", prompt.text, n), lambda: self._distribution(prompt.text, n))

    def generate(self, prompt: Prompt, max_new_tokens: int, knobs: Knobs | None = None, seed: int = 0,
                 n_alternatives: int = ALTERNATIVES, on_step: Callable[[int], None] | None = None) -> Generation:
        """Continue with the server's own sampling (temperature and top-p where the API takes them; greedy when knobs is None)."""
        n_alt = max(0, min(int(n_alternatives), self.max_alternatives))
        steps = max(0, int(max_new_tokens))
        if steps == 0:
            return Generation(prompt, ())
        gen = self._cached(("gen", prompt.text, steps, knobs, int(seed), n_alt),
                           lambda: self._generate(prompt, steps, knobs, int(seed), n_alt))
        if on_step:
            for i in range(len(gen.steps)):
                on_step(i + 1)
        return gen

    # -- chat and legacy completions -------------------------------------------------------
    def _request(self, text: str, max_tokens: int, n_alt: int, sampling: dict[str, Any]):
        """One request; returns per-position (chosen item, top items) as (token, bytes, logprob) tuples."""
        try:
            return self._parsed_request(text, max_tokens, n_alt, sampling)
        except (AttributeError, TypeError, ValueError, IndexError, KeyError) as exc:  # JSON of the wrong shape
            raise self._bad_reply() from exc

    def _parsed_request(self, text: str, max_tokens: int, n_alt: int, sampling: dict[str, Any]):
        if self.endpoint == "chat":
            limit = {"max_completion_tokens" if self.openai else "max_tokens": max_tokens}
            return _chat_positions(self._call(lambda: self._client.chat.completions.create(
                model=self.name, messages=[{"role": "user", "content": text}], logprobs=True,
                top_logprobs=n_alt, **limit, **sampling)), self.name)
        return _legacy_positions(self._call(lambda: self._client.completions.create(
            model=self.name, prompt=text, logprobs=n_alt, max_tokens=max_tokens, **sampling)), self.name)

    def _distribution(self, text: str, n: int) -> Distribution:
        positions = self._request(text, 1, n, {})
        if not positions:
            raise ApiError(f"{self.name} returned no token for this prompt.", None, None, "empty")
        _, items = positions[0]
        entries, dropped = _entries(items)
        if not entries:
            raise ApiError(f"{self.name} returned no alternatives for the next token.", None, None, "empty")
        scores = np.array([e.logprob for e in entries], dtype=np.float64)  # (k,) log-probabilities
        known = float(np.exp(scores).sum())
        notes = [f"Partial distribution: {self.host} returned only the top {len(entries)} tokens. They hold "
                 f"{min(known, 1):.1%} of the probability; how the other {max(0.0, 1 - known):.1%} is spread over "
                 "the rest of the vocabulary is unknown."]
        if dropped:
            notes.append(f"{dropped} more returned tokens were marked “very unlikely” (log-probability −9999): "
                         "their real probability is not reported, so they are left out.")
        if self.endpoint == "chat":
            notes.append("Chat model: this is the first token of its reply to your text (sent as a user message), "
                         "not a continuation of the text. Use the completions endpoint with a base model for that.")
        return Distribution(scores, np.full(len(entries), -1), [e.text for e in entries], [e.raw for e in entries],
                            complete=False, source=f"{self.name} via {self.host}", notes=tuple(notes))

    def _sampling(self, knobs: Knobs | None, seed: int) -> tuple[dict[str, Any], list[str]]:
        """Request parameters for the knobs, and notes on what the API could not apply."""
        sent, extra, notes = server_params(knobs)  # the knob table says which knobs the API takes, and their names
        params: dict[str, Any] = {"seed": seed, **sent}
        if extra and self.openai:
            notes.append("OpenAI's API has no " + ", ".join(extra) + ", so they were not applied.")
        elif extra:
            params["extra_body"] = extra
            notes.append("Sent " + ", ".join(extra) + " as extensions: vLLM applies them; other servers may "
                         "ignore them.")
        notes.append("The server sampled the tokens itself (its seed is best effort). Alternatives are its top "
                     "log-probabilities, which vLLM and OpenAI report before temperature and top-p.")
        return params, notes

    def _generate(self, prompt: Prompt, steps: int, knobs: Knobs | None, seed: int, n_alt: int) -> Generation:
        params, notes = self._sampling(knobs, seed)
        positions = self._request(prompt.text, steps, n_alt, params)
        out = tuple(_step(chosen, items) for chosen, items in positions)
        if self.endpoint == "chat":
            notes.append("Chat model: this is its reply to your text, not a continuation of it.")
        return Generation(prompt, out, tuple(notes))


# -- replies -----------------------------------------------------------------------------
def _chat_positions(reply, model: str) -> list:
    """Per position of a chat completion: (chosen item, top items) as (token, bytes, logprob) tuples."""
    choice = reply.choices[0] if reply.choices else None
    content = choice.logprobs.content if choice is not None and choice.logprobs is not None else None
    if content is None:
        raise ApiError(f"{model} answered without log-probabilities, so there is no distribution to "
                       "show. Reasoning models (o1, o3, gpt-5) never return them; pick another model.",
                       None, None, "no_logprobs")
    return [((c.token, c.bytes, c.logprob), [(t.token, t.bytes, t.logprob) for t in c.top_logprobs])
            for c in content]


def _legacy_positions(reply, model: str) -> list:
    """The same from a legacy completion, which gives no bytes and its top tokens as a dict."""
    choice = reply.choices[0] if reply.choices else None
    lp = choice.logprobs if choice is not None else None
    if lp is None or lp.tokens is None:
        raise ApiError(f"{model} answered without log-probabilities, so there is no distribution to show.",
                       None, None, "no_logprobs")
    tops = lp.top_logprobs or [None] * len(lp.tokens)
    lps = lp.token_logprobs or [None] * len(lp.tokens)
    return [((tok, None, lps[i]), [(t, None, v) for t, v in (tops[i] or {}).items()])
            for i, tok in enumerate(lp.tokens)]


def _step(chosen_item: tuple, items: Sequence[tuple]) -> Step:
    """One generated token with the top alternatives the server listed for its position."""
    entries, _ = _entries(items)
    rows, cum = [], 0.0
    for rank, e in enumerate(entries, start=1):
        p = math.exp(e.logprob)
        cum += p
        rows.append(TokenRow(rank, -1, e.text, e.raw, token_label(e.text, e.raw), e.logprob, p, cum))
    token, raw, lp = chosen_item
    text, data = token_bytes(token, raw)
    listed = next((r for r in rows if r.raw == data), None)
    rank = listed.rank if listed else -1  # -1: outside the returned top
    if is_very_unlikely(lp):  # the marker is not a probability: use the listed value, else unknown
        chosen_lp = listed.logprob if listed else float("nan")
    else:
        chosen_lp = float(lp)
    chosen = TokenRow(rank, -1, text, data, token_label(text, data), chosen_lp, math.exp(chosen_lp), float("nan"))
    entropy = entropy_nats(np.array([r.prob for r in rows])) if rows else float("nan")  # of the listed tokens
    return Step(chosen, tuple(rows), entropy)
