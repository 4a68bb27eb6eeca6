"""A small OpenAI-compatible server on loopback for tests: /v1/models, /v1/chat/completions, /v1/completions.

Its next-token distribution is a softmax over a fixed 40-word vocabulary whose logits depend on the
prompt, so tests can compute the exact answer (`expected_logprobs`) without the server. Every request
is recorded with its Authorization header. Some model names trigger errors:

    needs key "sk-good…"   any other Bearer value on a `private-` model -> 401
    reasoning-model        -> 403 "You are not allowed to request logprobs from this model"
    unknown names          -> 404
    busy-model             -> 429 with Retry-After: 7
    no-credit-model        -> 429 insufficient_quota
    slow-model             -> answers after `slow_seconds`
    sparse-model           -> 3 real tokens, the rest of top_logprobs padded with -9999.0
    marker-model           -> chat; each chosen token is "<rare>" with logprob -9999.0 (outside the top list)
    prompts over 20,000 characters -> 400 "maximum context length"
    fake-base              -> completions only (chat gives 404 like a base model on OpenAI), logprobs <= 20
    davinci-002, babbage-002 -> completions only, logprobs <= 5 (as on OpenAI)
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.loopback_server import LoopbackServer

VERY_UNLIKELY = -9999.0
WORDS = [" quokka", " axolotl", " pangolin", " narwhal", "\xe2\x80", " okapi", "🦘", " tapir", "\n", " wombat",
         " capybara", "é", " ibex", " kinkajou", " dugong", " fossa", " gharial", " hoatzin", " jerboa", " kakapo",
         " lemur", " margay", " numbat", " olm", " potoo", " quoll", " saiga", " takin", " uakari", " vaquita",
         " wolverine", " xerus", " yak", " zorilla", " Paris", "\u2019", ".", ",", " the", " end"]
# The raw bytes of each word; "\xe2\x80" stands for the partial UTF-8 piece b"\xe2\x80" (as OpenAI sends it).
RAWS = [w.encode("utf-8") if w != "\xe2\x80" else b"\xe2\x80" for w in WORDS]
TOKEN_TEXT = [w if w != "\xe2\x80" else "\\xe2\\x80" for w in WORDS]
SPARSE = 3
LEGACY = ("davinci-002", "babbage-002")  # completions only, logprobs <= 5 (as on OpenAI)
MODELS = ["fake-chat", "fake-base", *LEGACY, "sparse-model", "marker-model", "reasoning-model", "busy-model", "no-credit-model",
          "slow-model", "private-model"]
CONTEXT = 2048


def logits_for(context: str) -> list[float]:
    """Deterministic logits over WORDS for a context (the same function decides every step)."""
    seed = zlib.crc32(context.encode("utf-8", "surrogatepass"))
    rng = random.Random(seed)
    return [3.0 - 0.25 * i + rng.uniform(-1.5, 1.5) for i in range(len(WORDS))]


def expected_logprobs(context: str, sparse: bool = False) -> list[tuple[int, float]]:
    """(word index, log-probability) for every word, most likely first. Sparse: only the top 3 have mass."""
    x = logits_for(context)
    order = sorted(range(len(x)), key=lambda i: (-x[i], i))
    if sparse:
        order = order[:SPARSE]
    m = max(x[i] for i in order)
    z = m + math.log(sum(math.exp(x[i] - m) for i in order))
    return [(i, x[i] - z) for i in order]


def _entry(i: int, logprob: float) -> dict:
    return {"token": TOKEN_TEXT[i], "logprob": logprob, "bytes": list(RAWS[i])}


def _sample(ranked: list[tuple[int, float]], temperature: float | None, top_p: float | None,
            rng: random.Random) -> int:
    if temperature == 0:
        return ranked[0][0]
    t = 1.0 if temperature is None else float(temperature)
    weights = [math.exp(lp / t) for _, lp in ranked]
    total = sum(weights)
    probs = [w / total for w in weights]
    if top_p is not None and top_p < 1:
        kept, cum = [], 0.0
        for k, p in enumerate(probs):
            kept.append(k)
            cum += p
            if cum >= top_p:
                break
        probs = [probs[k] if k in kept else 0.0 for k in range(len(probs))]
    r, cum = rng.random() * sum(probs), 0.0
    for k, p in enumerate(probs):
        cum += p
        if r < cum:
            return ranked[k][0]
    return ranked[0][0]


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: dict | None
    headers: dict[str, str]


@dataclass
class FakeOpenAI(LoopbackServer):
    host: str = "127.0.0.1"
    good_key_prefix: str = "sk-good"
    slow_seconds: float = 3.0
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.listen(self.host)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def recorded(self) -> list[Recorded]:
        with self.lock:
            return list(self.requests)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- request handling -------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        body = None
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            raw = h.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                return self._send(h, 400, _error("invalid JSON", "invalid_request_error"))
        with self.lock:
            self.requests.append(Recorded(method, h.path, h.headers.get("Authorization"), body,
                                          {k.lower(): v for k, v in h.headers.items()}))
        path = h.path.split("?")[0]
        if method == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake", "max_model_len": CONTEXT}
                    for m in MODELS]
            return self._send(h, 200, {"object": "list", "data": data})
        if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            return self._complete(h, path.endswith("chat/completions"), body or {})
        return self._send(h, 404, _error(f"Unknown path {path}", "invalid_request_error"))

    def _complete(self, h, chat: bool, body: dict) -> None:
        model = body.get("model", "")
        auth = h.headers.get("Authorization") or ""
        if model == "private-model" and not auth.startswith(f"Bearer {self.good_key_prefix}"):
            # Echoes the key in full (OpenAI masks it) so tests can check the app redacts it.
            return self._send(h, 401, _error(f"Incorrect API key provided: {auth.removeprefix('Bearer ')}.",
                                             "invalid_request_error", "invalid_api_key"))
        if model not in MODELS:
            return self._send(h, 404, _error(f"The model `{model}` does not exist or you do not have access to it.",
                                             "invalid_request_error", "model_not_found"))
        if model == "reasoning-model":
            return self._send(h, 403, _error("You are not allowed to request logprobs from this model",
                                             "invalid_request_error"))
        if model == "busy-model":
            return self._send(h, 429, _error("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
                              {"Retry-After": "7"})
        if model == "no-credit-model":
            return self._send(h, 429, _error("You exceeded your current quota.", "insufficient_quota",
                                             "insufficient_quota"))
        if model == "slow-model":
            time.sleep(self.slow_seconds)
        if chat and (model == "fake-base" or model in LEGACY):
            return self._send(h, 404, _error("This is not a chat model and thus not supported in the "
                                             "v1/chat/completions endpoint.", "invalid_request_error"))
        if chat:
            messages = body.get("messages") or []
            context = "".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
            top = body.get("top_logprobs") or 0
            if top > 20:
                return self._send(h, 400, _error("top_logprobs must be between 0 and 20", "invalid_request_error"))
            if top and not body.get("logprobs"):
                return self._send(h, 400, _error("top_logprobs requires logprobs", "invalid_request_error"))
            limit = body.get("max_completion_tokens") or body.get("max_tokens") or 16
        else:
            context = body.get("prompt") or ""
            top = body.get("logprobs") or 0
            cap = 5 if model in LEGACY else 20
            if top > cap:
                return self._send(h, 400, _error(f"The maximum value for `logprobs` is {cap}.",
                                                 "invalid_request_error"))
            limit = body.get("max_tokens") or 16
        if len(context) > 20_000:
            return self._send(h, 400, _error(f"This model's maximum context length is {CONTEXT} tokens.",
                                             "invalid_request_error", "context_length_exceeded"))
        rng = random.Random(body.get("seed") or 0)
        steps, text = [], ""
        for _ in range(int(limit)):
            ranked = expected_logprobs(context + text, sparse=model == "sparse-model")
            pick = _sample(ranked, body.get("temperature"), body.get("top_p"), rng)
            steps.append((pick, dict(ranked)[pick], ranked))
            text += WORDS[pick]
        created = int(time.time())
        if chat:
            content = []
            for pick, lp, ranked in steps:
                alts = [_entry(i, v) for i, v in ranked[:top]]
                alts += [{"token": f"<pad{k}>", "logprob": VERY_UNLIKELY, "bytes": list(f"<pad{k}>".encode())}
                         for k in range(top - len(alts))]
                chosen = ({"token": "<rare>", "logprob": VERY_UNLIKELY, "bytes": list(b"<rare>")}
                          if model == "marker-model" else _entry(pick, lp))
                content.append({**chosen, "top_logprobs": alts})
            choice = {"index": 0, "finish_reason": "length",
                      "message": {"role": "assistant", "content": text, "refusal": None},
                      "logprobs": {"content": content if body.get("logprobs") else None, "refusal": None}}
            payload = {"id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
                       "choices": [choice]}
        else:
            tokens, token_lps, tops, offsets, at = [], [], [], [], len(context)
            for pick, lp, ranked in steps:
                tokens.append(_legacy_token(pick))
                token_lps.append(lp)
                tops.append({_legacy_token(i): v for i, v in ranked[:top]})
                offsets.append(at)
                at += len(WORDS[pick])
            logprobs = {"tokens": tokens, "token_logprobs": token_lps, "top_logprobs": tops,
                        "text_offset": offsets} if top else None
            payload = {"id": "cmpl-fake", "object": "text_completion", "created": created, "model": model,
                       "choices": [{"index": 0, "finish_reason": "length", "text": text, "logprobs": logprobs}]}
        return self._send(h, 200, payload)

    @staticmethod
    def _send(h, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            pass


def _legacy_token(i: int) -> str:
    """Legacy completions spell partial UTF-8 tokens as 'bytes:\\xe2\\x80'."""
    return "bytes:\\xe2\\x80" if WORDS[i] == "\xe2\x80" else WORDS[i]


def _error(message: str, type_: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def closed_port_url(host: str = "127.0.0.1") -> str:
    """A base URL where nothing listens (the port was free a moment ago)."""
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return f"http://{host}:{port}/v1"


if __name__ == "__main__":  # manual use: python -m tests.fake_openai_server
    server = FakeOpenAI().start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
