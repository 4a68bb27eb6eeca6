"""Sidebar settings for OpenAI and OpenAI-compatible servers, and the per-session backend they build.

A user's key lives only in this session's st.session_state: never in a URL, os.environ, a module
global or an st.cache_* object. The host's own key (st.secrets or env OPENAI_API_KEY) is used only
when the host sets LLMX_ALLOW_SERVER_KEY=1, only with the host's base URL, and rate-limited per session;
it is never shown. In hosted mode (lib/hosting.py) base URLs are limited to the hosts the host allowed;
the HTTP layer (lib/models/api_http.py) enforces it on every connection, this module only says so early.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import streamlit as st

from components.guard import guarded_callback
from components.html import escape_markdown
from components.state import as_bool, from_query, to_query
from lib.models.api_http import Refused, check_base_url
from lib.models.backends import open_model
from lib.models.catalog import API_PREFIX
from lib.hosting import ApiPolicy, api_policy
from lib.models.openai_backend import ENDPOINTS, OpenAIBackend, default_endpoint, logprob_capable
from lib.models.openai_client import (MAX_MODELS, OPENAI_BASE_URL, ApiError, DeployerKey, RateLimiter, default_base_url,
                               deployer_key, is_openai, normalise_base_url)

SECRET_NAMES = ("LLMX_ALLOW_SERVER_KEY", "OPENAI_API_KEY", "LLMX_API_BASE_URL", "LLMX_SERVER_KEY_PER_MINUTE",
                "LLMX_ALLOWED_API_HOSTS", "LLMX_ALLOWED_API_NETWORKS")
OTHER = "Other (type a name)…"
ENDPOINT_LABELS = {"chat": "Chat (instruction-tuned model)", "completions": "Completions (base model)"}
S = "api_"  # session_state prefix
PREFERRED = ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o")  # first choice on OpenAI's long list


def _secrets() -> dict[str, Any]:
    """The few secrets this component reads; {} when there is no secrets.toml."""
    try:
        if not st.secrets.load_if_toml_exists():
            return {}
        return {k: st.secrets[k] for k in SECRET_NAMES if k in st.secrets}
    except Exception:  # noqa: BLE001 - a broken secrets file must not break the page
        return {}


def host_key() -> DeployerKey | None:
    return deployer_key(os.environ, _secrets())


def policy() -> ApiPolicy:
    """Where this server's API requests may go (everywhere unless hosted mode is on)."""
    return api_policy(os.environ, _secrets())


def _allowed(base_url: str, rules: ApiPolicy) -> str | None:
    """None when the policy allows the base URL's host, else the reason it does not."""
    try:
        check_base_url(rules, base_url)
    except Refused as exc:
        return exc.message
    return None


def _keep(name: str, default: Any) -> str:
    """Widget state that survives page switches: the value lives in S+name, the widget in _S+name."""
    store, widget = S + name, f"_{S}{name}_w"
    if store not in st.session_state:
        st.session_state[store] = default
    st.session_state[widget] = st.session_state[store]
    return widget


@guarded_callback
def _copy(name: str, reset: bool = False) -> None:
    st.session_state[S + name] = st.session_state[f"_{S}{name}_w"]
    if reset:  # a new server or key: the model list and the backend are stale
        st.session_state.pop(S + "models", None)
        st.session_state[S + "key_version"] = st.session_state.get(S + "key_version", 0) + 1


def _models(conn: Connection) -> tuple[list[str], dict[str, int], str | None, int]:
    """Model ids from /v1/models (at most MAX_MODELS of them, and how many the server listed), fetched once
    per (server, key) in this session."""
    cached = st.session_state.get(S + "models")
    if cached and cached[0] == conn.signature:
        return cached[1:]
    lister = OpenAIBackend("models", api_key=conn.key, base_url=conn.base_url, timeout=10.0, limiter=conn.limiter,
                           policy=conn.policy)
    try:
        found = lister.list_models()
        if lister.openai:
            found = [m for m in found if logprob_capable(m.id)]
        ids, ctx, error = [m.id for m in found], {m.id: m.context_length for m in found if m.context_length}, None
    except ApiError as exc:
        ids, ctx, error = [], {}, exc.message
    finally:
        lister.close()
    st.session_state[S + "models"] = (conn.signature, ids, ctx, error, lister.models_total)
    return ids, ctx, error, lister.models_total


@dataclass(frozen=True, repr=False)
class Connection:
    """This session's server and credentials (repr hides the key)."""

    base_url: str
    key: str
    use_host: bool
    limiter: RateLimiter | None
    policy: ApiPolicy = ApiPolicy()

    @property
    def signature(self) -> tuple:
        return (self.base_url, st.session_state.get(S + "key_version", 0), self.use_host)

    def __repr__(self) -> str:
        return f"Connection(base_url={self.base_url!r}, use_host={self.use_host})"


def connection_sidebar(toggle: bool = True) -> Connection | None:
    """Base URL and API key fields in the sidebar (behind an on/off toggle unless toggle=False)."""
    from_query(S + "on", "api", False, as_bool)
    host = host_key()
    with st.sidebar:
        st.subheader("API model")
        if toggle:
            on = st.toggle("Use OpenAI or a compatible server", key=_keep("on", False), on_change=_copy,
                           args=("on",), help="OpenAI, or your own vLLM, Ollama or llama.cpp server. They return "
                                              "only the top 20 next tokens, so the rest of the distribution is unknown.")
            if not on:
                to_query(api=None, api_model=None, api_endpoint=None)
                return None
        base_raw = st.text_input("Base URL", max_chars=300, key=_keep("base_url", default_base_url(os.environ, _secrets())),
                                 on_change=_copy, args=("base_url", True),
                                 placeholder=OPENAI_BASE_URL, help="vLLM: http://HOST:8000/v1 · Ollama: "
                                 "http://HOST:11434/v1 · llama.cpp: http://HOST:8080/v1")
        api_key = st.text_input("API key", type="password", max_chars=500, key=_keep("key", ""), on_change=_copy,
                                args=("key", True), autocomplete="off",
                                help="Kept only in this browser session's memory on the server: never saved, "
                                     "logged, put in the link or shared with anyone else. Local servers need none.")
        rules = policy()
        if rules.hosted:
            st.caption(f"This class server connects only to: {rules.describe()}.")
        try:
            base_url = normalise_base_url(base_raw)
        except ValueError as exc:
            st.error(escape_markdown(str(exc)))  # the message quotes what was typed: inert as markdown
            return None
        if refusal := _allowed(base_url, rules):
            st.error(escape_markdown(refusal))
            return None
        api_key = api_key.strip()
        use_host = not api_key and host is not None and base_url == host.base_url
        if use_host:
            st.caption(f"No key needed: the host provides one, limited to {host.per_minute} requests per minute "
                       "in each session.")
        elif not api_key and is_openai(base_url):
            st.info("Enter your OpenAI API key to use OpenAI's models, or point the base URL at a local server.")
            return None
    return Connection(base_url, host.key if use_host else api_key, use_host, _host_limiter(host) if use_host else None,
                      rules)


def stored_connection() -> Connection | None:
    """The connection from fields filled in earlier in this session (on any page), without drawing them."""
    host = host_key()
    try:
        base_url = normalise_base_url(st.session_state.get(S + "base_url") or default_base_url(os.environ, _secrets()))
    except ValueError:
        return None
    rules = policy()
    if _allowed(base_url, rules):
        return None
    api_key = str(st.session_state.get(S + "key") or "").strip()
    use_host = not api_key and host is not None and base_url == host.base_url
    if not api_key and not use_host and is_openai(base_url):
        return None
    return Connection(base_url, host.key if use_host else api_key, use_host, _host_limiter(host) if use_host else None,
                      rules)


def _backend(conn: Connection, model: str, endpoint: str, context_length: int | None = None) -> OpenAIBackend:
    """This session's backend for (connection, model, endpoint), kept in session_state and reused across reruns."""
    backends: dict = st.session_state.setdefault(S + "backends", {})
    signature = (*conn.signature, model, endpoint)
    backend = backends.get(signature)
    if backend is None:
        stale = [sig for sig in backends if sig[:3] != conn.signature]
        for sig in stale:  # the server or key changed: drop clients built with the old one
            backends.pop(sig).close()
        while len(backends) >= 8:
            backends.pop(next(iter(backends))).close()
        backend = open_model(API_PREFIX + model, api=dict(api_key=conn.key, base_url=conn.base_url, endpoint=endpoint,
                                                          context_length=context_length, limiter=conn.limiter,
                                                          policy=conn.policy))
        backends[signature] = backend
    return backend


def api_backend_for(model: str, endpoint: str | None = None) -> OpenAIBackend | None:
    """A backend for a named model with this session's base URL and key (pages that compare several API
    models, e.g. base vs chat); None when this session has no usable settings yet."""
    conn = stored_connection()
    return None if conn is None else _backend(conn, model, endpoint or default_endpoint(model))


def api_model_from_sidebar() -> OpenAIBackend | None:
    """Sidebar fields for an API model; this session's backend when one is configured, else None."""
    from_query(S + "model", "api_model", "")
    from_query(S + "endpoint", "api_endpoint", "", lambda v: v if v in ENDPOINTS else "")
    conn = connection_sidebar()
    if conn is None:
        return None
    with st.sidebar:
        ids, ctx, error, total = _models(conn)
        if error:
            st.warning(f"Could not list models: {error}")
        elif total > MAX_MODELS:
            st.caption(f"The server lists {total:,} models; the first {len(ids):,} are offered here. Type any "
                       "other name under “Other”.")
        if st.button("Reload model list", key=f"_{S}reload"):
            st.session_state.pop(S + "models", None)
            st.rerun()
        model = _pick_model(ids)
        if not model:
            st.info("Pick or type a model name.")
            return None
        if st.session_state.get(S + "endpoint") not in ENDPOINTS:
            st.session_state[S + "endpoint"] = default_endpoint(model)
        endpoint = st.radio("Endpoint", list(ENDPOINTS), key=_keep("endpoint", default_endpoint(model)),
                            on_change=_copy, args=("endpoint",), format_func=ENDPOINT_LABELS.get,
                            help="Chat models answer your text as a message; base models (davinci-002, "
                                 "babbage-002, or a base model on vLLM) continue it. Legacy completions on OpenAI "
                                 "return only the top 5 tokens.")
        st.caption("The server returns only its top tokens; the rest of the distribution is unknown and is shown "
                   "as one “rest” bar.")
    to_query(api="1", api_model=model, api_endpoint=endpoint)
    return _backend(conn, model, endpoint, ctx.get(model))


def _pick_model(ids: list[str]) -> str:
    current = st.session_state[S + "model"]
    if ids:
        if current == "":
            current = next((m for m in PREFERRED if m in ids), ids[0])
            st.session_state[S + "model"] = current
        choice_key = _keep("model_choice", current if current in ids else OTHER)

        @guarded_callback
        def chose():
            choice = st.session_state[choice_key]
            st.session_state[S + "model_choice"] = choice
            if choice != OTHER:
                st.session_state[S + "model"] = choice
                st.session_state[S + "endpoint"] = default_endpoint(choice)

        choice = st.selectbox("Model", ids + [OTHER], key=choice_key, on_change=chose)
        if choice != OTHER:
            st.session_state[S + "model"] = choice
            return choice
    typed = st.text_input("Model name", max_chars=200, key=_keep("model", current), on_change=_copy, args=("model",),
                          placeholder="e.g. gpt-4o-mini, davinci-002, llama3.2")
    return typed.strip()


def _host_limiter(host: DeployerKey) -> RateLimiter:
    limiter = st.session_state.get(S + "limiter")
    if limiter is None or limiter.max_calls != host.per_minute:
        limiter = RateLimiter(host.per_minute, 60.0)
        st.session_state[S + "limiter"] = limiter
    return limiter


@contextmanager
def api_errors(stop: bool = True) -> Iterator[None]:
    """Show an API failure as one clear message (no traceback); stop the script unless stop=False."""
    try:
        yield
    except ApiError as exc:
        (st.warning if exc.status == 429 or exc.kind in ("timeout", "connection") else st.error)(exc.message)
        if stop:
            st.stop()
