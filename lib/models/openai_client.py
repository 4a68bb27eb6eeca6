"""Requests to OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp): settings, keys and errors.

An `ApiConnection` holds one user's client, key included: keep it in that user's st.session_state,
never in a shared cache, os.environ or a URL. It never logs, its repr hides the key, and it refuses to
be pickled. Failed requests are not retried (max_retries=0); a 429 blocks further calls until its
Retry-After has passed, and errors that can't change (bad key, unknown model, no logprobs) are
remembered, so Streamlit reruns never turn into a retry storm. lib/models/openai_backend.py turns the
replies into distributions and generations.
"""

from __future__ import annotations

import email.utils
import math
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

from lib.models import api_http
from lib.models.api_http import Refused, short_reason
from lib.hosting import ApiPolicy, api_policy
from lib.text import clean_text, is_true

OPENAI_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"                # sent to keyless local servers; never a real credential
DEFAULT_RETRY_AFTER = 20.0       # seconds to wait after a 429 that gives no Retry-After
MAX_RETRY_AFTER = 600.0
NETWORK_COOLDOWN = 5.0           # after a timeout or connection failure, wait this long before trying again
MAX_MODELS = 1000                # options in the model picker; the rest are reported, not listed
MAX_LIST_BYTES = 2_000_000       # a /v1/models answer larger than this is refused
MAX_REPLY_BYTES = 4_000_000      # a completion answer larger than this is refused
FATAL_REFUSALS = ("not_allowed", "private_address", "redirect")  # the same request is refused the same way
FATAL_STATUS = ("auth", "forbidden", "not_found", "no_credit")     # the same request fails the same way


class ApiError(RuntimeError):
    """A failed API call, with a message fit to show the user (never containing the key)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None,
                 kind: str = "error"):
        super().__init__(message)
        self.message, self.status, self.retry_after, self.kind = message, status, retry_after, kind

    def __reduce__(self):
        return (ApiError, (self.message, self.status, self.retry_after, self.kind))


# -- settings ---------------------------------------------------------------------------
_SCHEME_ONLY = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.I)   # javascript:…, data:…, http:host (no //)
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$", re.I)


def normalise_base_url(url: str | None) -> str:
    """A clean http(s) base URL ending in /v1 when no path was given; raises ValueError with a readable message."""
    url = (url or "").strip() or OPENAI_BASE_URL
    example = "an http(s) address such as http://localhost:8000/v1"
    shown = "".join(ch for ch in url[:80] if ch.isprintable())
    if "://" not in url:
        if _SCHEME_ONLY.match(url):
            raise ValueError(f"“{shown}” is not {example}.")
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in 0..65535
    except ValueError:
        raise ValueError(f"“{shown}” is not {example}: check the host and the port.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"“{shown}” is not {example}.")
    if not (_HOST_NAME.match(parts.hostname) or parts.netloc.startswith("[")) or port == 0:
        raise ValueError(f"“{shown}” is not {example}: check the host and the port.")
    if parts.username or parts.password:
        raise ValueError("Put credentials in the API key field, not in the base URL.")
    if parts.query or parts.fragment:
        raise ValueError("The base URL should have no ?query or #fragment, e.g. http://localhost:8000/v1.")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def host_of(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


def is_openai(base_url: str) -> bool:
    return urlsplit(base_url).hostname == "api.openai.com"


@dataclass(frozen=True)
class ModelInfo:
    id: str
    context_length: int | None = None


@dataclass(frozen=True, repr=False)
class DeployerKey:
    """The host's own key, only when the host switched it on; tied to the host's base URL."""

    key: str
    base_url: str
    per_minute: int

    def __repr__(self) -> str:
        return f"DeployerKey(base_url={self.base_url!r}, per_minute={self.per_minute}, key=<hidden>)"

    def __reduce__(self):
        raise TypeError("the deployer key is not picklable")


def deployer_key(env: Mapping[str, str], secrets: Mapping[str, Any]) -> DeployerKey | None:
    """The host's key from secrets or env, only when LLMX_ALLOW_SERVER_KEY is set in either."""
    if not (is_true(env.get("LLMX_ALLOW_SERVER_KEY", "")) or is_true(secrets.get("LLMX_ALLOW_SERVER_KEY", ""))):
        return None
    key = str(secrets.get("OPENAI_API_KEY") or env.get("OPENAI_API_KEY") or "").strip()
    if not key:
        return None
    try:
        per_minute = int(secrets.get("LLMX_SERVER_KEY_PER_MINUTE") or env.get("LLMX_SERVER_KEY_PER_MINUTE") or 10)
    except (TypeError, ValueError):
        per_minute = 10
    return DeployerKey(key, default_base_url(env, secrets), max(1, per_minute))


def default_base_url(env: Mapping[str, str], secrets: Mapping[str, Any]) -> str:
    """The base URL the sidebar starts with: LLMX_API_BASE_URL (secrets or env), else OpenAI's."""
    try:
        return normalise_base_url(str(secrets.get("LLMX_API_BASE_URL") or env.get("LLMX_API_BASE_URL") or ""))
    except ValueError:
        return OPENAI_BASE_URL


class RateLimiter:
    """At most `max_calls` requests per `per_seconds` (sliding window). Lives in one session's state."""

    def __init__(self, max_calls: int, per_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.max_calls, self.per_seconds, self.clock = max_calls, per_seconds, clock
        self.calls: deque[float] = deque()

    def acquire(self) -> None:
        now = self.clock()
        while self.calls and now - self.calls[0] >= self.per_seconds:
            self.calls.popleft()
        if len(self.calls) >= self.max_calls:
            wait = self.per_seconds - (now - self.calls[0])
            raise ApiError(f"The class key allows {self.max_calls} requests per {self.per_seconds:.0f} s in each "
                           f"session. Wait {math.ceil(wait)} s, or enter your own API key.",
                           429, wait, "session_limit")
        self.calls.append(now)


# -- the connection ----------------------------------------------------------------------
class ApiConnection:
    """One user's client for one server: sends requests, turns failures into ApiError, caches results."""

    def __init__(self, name: str, *, api_key: str = "", base_url: str = OPENAI_BASE_URL, timeout: float = 20.0,
                 connect_timeout: float = 5.0, limiter: RateLimiter | None = None, cache_size: int = 32,
                 clock: Callable[[], float] = time.monotonic, policy: ApiPolicy | None = None):
        from openai import OpenAI, Omit, Timeout

        self.name = name  # the model, named in error messages
        self.base_url = normalise_base_url(base_url)
        self.host = host_of(self.base_url)
        self.openai = is_openai(self.base_url)
        self.timeout = timeout
        self.limiter, self.clock = limiter, clock
        self._lock = threading.RLock()
        self._results: OrderedDict[tuple, Any] = OrderedDict()
        self._cache_size = cache_size
        self._blocked_until = 0.0
        self._blocking_error: ApiError | None = None
        self._fatal: ApiError | None = None
        self._has_key = bool(api_key)
        self.models_total = 0  # how many models the last /v1/models listed, before the MAX_MODELS cut
        token = api_key or NO_KEY
        # Explicit headers so nothing from the host's environment (OPENAI_ORG_ID, OPENAI_PROJECT_ID,
        # OPENAI_CUSTOM_HEADERS) rides along with a user's key.
        self._client = OpenAI(api_key=token, base_url=self.base_url, max_retries=0,
                              timeout=Timeout(timeout, connect=connect_timeout), organization=None, project=None,
                              admin_api_key="", webhook_secret="",
                              default_headers={"Authorization": f"Bearer {token}", "OpenAI-Organization": Omit(),
                                               "OpenAI-Project": Omit()},
                              http_client=api_http.client(self.base_url, api_policy() if policy is None else policy))

    # -- safety --------------------------------------------------------------------------
    def __reduce__(self):
        raise TypeError("an API backend holds a user's key and must stay in that user's session state")

    def __deepcopy__(self, memo):
        raise TypeError("an API backend holds a user's key and must not be copied")

    def close(self) -> None:
        self._client.close()

    def _redact(self, text: str, placeholder: str = "[your key]") -> str:
        key = self._client.api_key
        if self._has_key and key and len(key) >= 4:
            text = text.replace(key, placeholder)
        return text

    # -- model list ------------------------------------------------------------------------
    def list_models(self) -> list[ModelInfo]:
        """Models from GET /v1/models (vLLM's max_model_len as the context length when present), at most
        MAX_MODELS of them (`models_total` says how many were listed)."""
        page = self._call(lambda: self._client.models.list(), MAX_LIST_BYTES)
        found = []
        try:
            for m in page.data:
                extra = m.model_extra or {}
                ctx = extra.get("max_model_len") or extra.get("context_length") or extra.get("context_window")
                found.append(ModelInfo(clean_text(str(m.id))[:200],
                                       int(ctx) if isinstance(ctx, (int, float)) and 0 < ctx < 1e9 else None))
        except (AttributeError, TypeError, ValueError) as exc:
            raise self._bad_reply() from exc
        self.models_total = len(found)
        return sorted(found, key=lambda info: info.id)[:MAX_MODELS]

    # -- requests ------------------------------------------------------------------------
    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                hit = self._results[key]
                if isinstance(hit, ApiError):
                    raise hit
                return hit
            try:
                value = compute()
            except ApiError as exc:
                if exc.kind == "bad_request":  # the same request will fail the same way
                    self._remember(key, exc)
                raise
            self._remember(key, value)
            return value

    def _remember(self, key: tuple, value: Any) -> None:
        self._results[key] = value
        while len(self._results) > self._cache_size:
            self._results.popitem(last=False)

    def _bad_reply(self) -> ApiError:
        return ApiError(f"{self.host} sent a reply that is not in the OpenAI format.", None, None, "bad_response")

    def _call(self, request: Callable[[], Any], max_bytes: int = MAX_REPLY_BYTES) -> Any:
        """One request, no retries, within `self.timeout` in all and at most `max_bytes` read. Raises ApiError;
        remembers what must not be retried."""
        import openai

        self._may_send()
        try:
            with api_http.budget(self.timeout, max_bytes):
                return request()
        except Refused as exc:
            err = ApiError(exc.message, None, None, exc.kind)
            if exc.kind in FATAL_REFUSALS:
                self._fatal = err
            raise err from None
        except openai.APITimeoutError:
            err = ApiError(f"{self.host} did not answer within {self.timeout:g} s. The server may be busy or "
                           "the model still loading; try again shortly.", None, NETWORK_COOLDOWN, "timeout")
            self._block(err, NETWORK_COOLDOWN)
            raise err from None
        except openai.APIConnectionError:
            err = ApiError(f"Could not connect to {self.host}. Check the base URL and that the server is running "
                           "(vLLM: port 8000, Ollama: 11434, llama.cpp: 8080).", None, NETWORK_COOLDOWN, "connection")
            self._block(err, NETWORK_COOLDOWN)
            raise err from None
        except openai.APIStatusError as exc:
            err = status_error(exc, self.host, self.name, self._redact)
            if err.kind in FATAL_STATUS:
                self._fatal = err
            elif err.kind == "rate_limit":
                self._block(err, err.retry_after or DEFAULT_RETRY_AFTER)
            raise err from None
        except (openai.APIResponseValidationError, ValueError, AttributeError, TypeError):
            # JSON that does not parse, or parses into the wrong shapes: the SDK raises these as they come
            raise self._bad_reply() from None
        except openai.OpenAIError as exc:  # anything else from the SDK, without a traceback
            raise ApiError(self._redact(f"The request failed: {exc}"), None, None, "error") from None

    def _may_send(self) -> None:
        """Raise the remembered error instead of sending a request that can't succeed yet; count it otherwise."""
        if self._fatal is not None:
            raise self._fatal
        now = self.clock()
        if now < self._blocked_until and self._blocking_error is not None:
            err = self._blocking_error
            wait = self._blocked_until - now
            raise ApiError(f"{err.message} (No request sent; {math.ceil(wait)} s left.)", err.status, wait, err.kind)
        if self.openai and not self._has_key:
            raise ApiError("Enter an OpenAI API key in the sidebar. It stays in this browser session only.",
                           401, None, "no_key")
        if self.limiter is not None:
            self.limiter.acquire()

    def _block(self, err: ApiError, seconds: float) -> None:
        self._blocked_until = self.clock() + seconds
        self._blocking_error = err


def status_error(exc, host: str, model: str, redact: Callable[[str, str], str]) -> ApiError:
    """An HTTP error status as one readable ApiError (the key, if echoed, redacted); its kind says what to remember."""
    status = exc.status_code
    body = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else {}
    body = body if isinstance(body, dict) else {}
    raw = body.get("message") or (exc.body if isinstance(exc.body, str) else "")
    detail = short_reason(redact(str(raw), "KEYHIDDEN")).replace("KEYHIDDEN", "[your key]")
    detail = detail or "no reason given."
    code = str(body.get("code") or body.get("type") or "")
    if status == 401:
        return ApiError(f"{host} rejected the API key (401). Check the key in the sidebar. "
                        f"Server said: {detail}", 401, None, "auth")
    if status == 403:
        return ApiError(f"{model} does not allow this request (403); reasoning models such as o1, o3 and "
                        f"gpt-5 never return log-probabilities. Pick another model. Server said: {detail}",
                        403, None, "forbidden")
    if status == 404:
        return ApiError(f"Not found (404): {detail} Check the model name, the endpoint (chat or completions) "
                        "and that the base URL ends in /v1.", 404, None, "not_found")
    if status == 429:
        if "insufficient_quota" in code or "quota" in detail.lower():
            return ApiError(f"The account behind this key has no credit left (429). Server said: {detail}",
                            429, None, "no_credit")
        wait = retry_after_seconds(exc.response.headers)
        return ApiError(f"Rate limited by {host} (429). Wait {math.ceil(wait)} s before trying again; "
                        "the app sends nothing until then.", 429, wait, "rate_limit")
    if status in (400, 422):
        return ApiError(f"{host} refused the request ({status}): {detail}", status, None, "bad_request")
    return ApiError(f"{host} had a problem ({status}): {detail}", status, None, "server")


def retry_after_seconds(headers: Mapping[str, str]) -> float:
    """Seconds to wait from retry-after-ms / Retry-After (seconds or an HTTP date); a default when absent."""
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return min(MAX_RETRY_AFTER, max(0.0, float(ms) / 1000))
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return DEFAULT_RETRY_AFTER
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(0.0, when.timestamp() - time.time()))
