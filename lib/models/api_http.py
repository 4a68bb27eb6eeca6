"""The HTTP layer under the openai SDK: where a request may go, how long it may take, how much it may read.

One httpx transport per backend. In every mode: a whole-request deadline (the SDK's timeout applies
per read, so a server sending one byte at a time could otherwise hold a page for minutes), a cap on
the bytes read (and on the bytes a compressed answer inflates to: gzip and deflate only, decoded here
under the same cap), no redirect to another host, and a 2xx answer that is not JSON (a captive portal's
HTML page) refused with a clear message. In hosted mode (lib/hosting.py) also: only allowed hosts,
and each connection's address resolved, checked and pinned at connect time, so a name that
re-resolves to 127.0.0.1 or 169.254.169.254 between the check and the connect (DNS rebinding) is
still refused. Upstream error bodies are reduced to a short, plain-text reason.
"""

from __future__ import annotations

import contextvars
import html
import ipaddress
import re
import socket
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, cast
from urllib.parse import urlsplit

import httpcore2
import httpx2

from lib.hosting import ApiPolicy, _origin

MAX_REASON = 160


class Refused(Exception):
    """A request the HTTP layer would not send or finish; `message` is fit to show the user."""

    def __init__(self, message: str, kind: str = "refused"):
        super().__init__(message)
        self.message, self.kind = message, kind


# -- whole-request budget -----------------------------------------------------------------
@dataclass
class _Budget:
    deadline: float
    max_bytes: int
    read: int = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("llmx_api_budget", default=None)


@contextmanager
def budget(seconds: float, max_bytes: int) -> Iterator[None]:
    """Requests made inside this block (in this thread) end by `seconds` from now and read at most `max_bytes`."""
    token = _BUDGET.set(_Budget(time.monotonic() + seconds, max_bytes))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _timeout(timeout: float | None, error: type[Exception]) -> float | None:
    """The per-operation timeout cut to what is left of the request's budget."""
    b = _BUDGET.get()
    if b is None:
        return timeout
    left = b.remaining()
    if left <= 0:
        raise error("the request's time is up")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore2.NetworkStream):
    """A socket stream whose every read and write fits in the current request's budget."""

    def __init__(self, inner: httpcore2.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self.inner.read(max_bytes, _timeout(timeout, httpcore2.ReadTimeout))
        b = _BUDGET.get()
        if b is not None:
            b.read += len(data)
            if b.read > b.max_bytes:
                raise Refused(f"The answer was larger than {b.max_bytes / 1e6:g} MB, so it was not read to the end.",
                              "too_large")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _timeout(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore2.NetworkStream:
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, _timeout(timeout, httpcore2.ConnectTimeout)))

    def get_extra_info(self, info: str):
        return self.inner.get_extra_info(info)


class _Backend(httpcore2.SyncBackend):
    """Opens TCP connections; in hosted mode only to checked addresses, connecting to the very address checked."""

    def __init__(self, policy: ApiPolicy):
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore2.NetworkStream:
        timeout = _timeout(timeout, httpcore2.ConnectTimeout)
        if not self.policy.hosted:
            return _Stream(super().connect_tcp(host, port, timeout, local_address, socket_options))
        infos = _resolve(host, port, timeout)
        allowed = [info for info in infos
                   if self.policy.address_allowed(host, port, ipaddress.ip_address(info[4][0].split("%")[0]))]
        if not allowed:
            raise Refused(f"{_plain(host)} resolves to a private or local address, which this hosted server does not "
                          "connect to.", "private_address")
        last: Exception | None = None
        for *_, address in allowed:  # pinned: connect to the address just checked (a literal: no second lookup)
            try:
                return _Stream(super().connect_tcp(address[0], port, timeout, local_address, socket_options))
            except (httpcore2.ConnectTimeout, httpcore2.ConnectError) as exc:
                last = exc
        raise last  # type: ignore[misc]


def _resolve(host: str, port: int, timeout: float | None) -> list:
    """getaddrinfo within the timeout (it has none of its own); a lookup left running ends in its own time."""
    found: list = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    worker = threading.Thread(target=lookup, daemon=True, name="llmx-dns")
    worker.start()
    worker.join(timeout)
    if not found:
        raise httpcore2.ConnectTimeout(f"looking up {host} took too long")
    if isinstance(found[0], OSError):
        raise httpcore2.ConnectError(str(found[0]))
    return found[0]


def install_network_backend(transport: httpx2.HTTPTransport, backend: httpcore2.NetworkBackend) -> None:
    """The one private attribute this project uses: httpx's HTTPTransport has no public way to choose how its
    connection pool opens connections (httpcore's ConnectionPool takes `network_backend=`, but HTTPTransport
    builds the pool itself). tests/unit/test_private_apis.py checks it still works on the pinned httpx2."""
    transport._pool._network_backend = backend


# -- compressed answers -----------------------------------------------------------------------
DECODABLE = ("gzip", "deflate")
MAX_DECODED_BYTES = 8_000_000  # outside a budget (a streamed answer read later): the most an answer may inflate to


def _decompressor(encoding: str):
    # gzip, or a zlib-wrapped deflate stream (what HTTP's "deflate" means; raw deflate is handled on error)
    return zlib.decompressobj(zlib.MAX_WBITS | (16 if encoding == "gzip" else 0))


class _Inflated(httpx2.SyncByteStream):
    """A compressed body decoded here, as it is read, to at most `cap` bytes: a small gzip answer that inflates
    to a gigabyte is refused after `cap` bytes instead of filling the memory (httpx would inflate it all)."""

    def __init__(self, raw: httpx2.SyncByteStream, encoding: str, cap: int):
        self.raw, self.encoding, self.cap = raw, encoding, cap

    def __iter__(self) -> Iterator[bytes]:
        inflater, out = _decompressor(self.encoding), 0
        for chunk in self.raw:
            while chunk:
                try:
                    piece = inflater.decompress(chunk, self.cap - out + 1)  # never more than the cap allows
                except zlib.error:
                    if out or self.encoding != "deflate":
                        raise Refused("The server's compressed answer is damaged.", "bad_encoding") from None
                    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
                    continue
                out += len(piece)
                if out > self.cap:
                    raise Refused(f"The answer was larger than {self.cap / 1e6:g} MB once decompressed, so it was "
                                  "not read to the end.", "too_large")
                yield piece
                chunk = inflater.unconsumed_tail
                if inflater.eof and inflater.unused_data:  # another gzip member follows
                    chunk, inflater = inflater.unused_data, _decompressor(self.encoding)

    def close(self) -> None:
        self.raw.close()


def _decoded(response: httpx2.Response) -> httpx2.Response:
    """The response with its body decoded here under the byte cap; an encoding we don't bound is refused."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return response
    if encoding not in DECODABLE:
        response.close()
        raise Refused(f"The server compressed its answer as '{_plain(encoding)[:20]}', which the app does not read.",
                      "bad_encoding")
    b = _BUDGET.get()
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
    return httpx2.Response(response.status_code, headers=headers, extensions=response.extensions,
                           stream=_Inflated(cast(httpx2.SyncByteStream, response.stream), encoding, b.max_bytes if b else MAX_DECODED_BYTES))


class GuardedTransport(httpx2.HTTPTransport):
    """httpx transport for one API base URL under a policy (see the module docstring)."""

    def __init__(self, base_url: str, policy: ApiPolicy):
        # Local mode keeps the environment's proxy (HTTPS_PROXY, NO_PROXY); hosted mode connects directly, as a
        # proxy would make the address check meaningless. SSL_CERT_FILE is honoured in both.
        super().__init__(trust_env=True, proxy=None if policy.hosted else _env_proxy(base_url))
        self.policy = policy
        self.origin = _origin(base_url)
        install_network_backend(self, _Backend(policy))

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        host, port = request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80)
        if self.origin is not None and host.lower().rstrip(".") != self.origin[0]:
            raise Refused(f"The server redirected to another host ({_plain(host)}), which the app does not follow.",
                          "redirect")
        check_host(self.policy, host, port)
        request.headers["Accept-Encoding"] = ", ".join(DECODABLE)  # never br or zstd: those are not bounded here
        response = _decoded(super().handle_request(request))
        kind = response.headers.get("content-type", "").lower()
        if 200 <= response.status_code < 300 and kind and "json" not in kind:
            response.close()
            what = "a web page (HTML)" if "html" in kind else f"'{_plain(kind.split(';')[0])}'"
            raise Refused(f"The server answered with {what}, not the API's JSON. Is the base URL right, or is "
                          "this network showing a login page?", "not_json")
        return response


def _env_proxy(url: str) -> str | None:
    """The proxy the environment sets for this URL, as the SDK's default client would use it."""
    import urllib.request

    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(urlsplit(url).scheme)


def check_host(policy: ApiPolicy, host: str, port: int) -> None:
    """Raise Refused when the policy does not allow this host (hosted mode only)."""
    if not policy.host_allowed(host, port):
        raise Refused(f"This class server only connects to the API hosts its host allowed ({policy.describe()}), "
                      f"not {_plain(host)}.", "not_allowed")


def check_base_url(policy: ApiPolicy, base_url: str) -> None:
    origin = _origin(base_url)
    if origin is not None:
        check_host(policy, *origin)


def client(base_url: str, policy: ApiPolicy) -> httpx2.Client:
    """An httpx client for the openai SDK: the guarded transport, redirects followed only through it."""
    return httpx2.Client(transport=GuardedTransport(base_url, policy), follow_redirects=True, trust_env=False)


# -- error bodies ---------------------------------------------------------------------------
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
_URLS = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)
_MARKUP = re.compile(r"[`*_#|~<>\[\]{}\\$]")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.S | re.I)


def _plain(name: str) -> str:
    """A host name from the user's URL, safe to put in a message shown as markdown."""
    return _MARKUP.sub("", name)[:60]


def short_reason(text: str, limit: int = MAX_REASON) -> str:
    """An upstream error body as one short line of plain text: no HTML, markdown, addresses or control characters."""
    text = str(text or "")
    title = _TITLE.search(text)
    if title or re.search(r"<(html|body|!doctype)\b", text, re.I):
        text = title.group(1) if title else ""
        text = f"an HTML page{': ' + text if text.strip() else ''}"
    text = html.unescape(_TAGS.sub(" ", text))
    text = _URLS.sub("[address]", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(_MARKUP.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
