"""The API sidebar in streamlit's AppTest, against the loopback fake server (real SDK, real HTTP).

The script below uses the same calls as the pages (components.loaders.distribution/generate), so
the scans cover the st.cache_* objects the pages use. AppTest runs in this process, which lets the
tests look inside os.environ, module globals, Streamlit's caches and each session's state.
"""

from __future__ import annotations

import os
import secrets
import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.fake_openai_server import WORDS, FakeOpenAI, closed_port_url, expected_logprobs
from tests.loopback_server import served

HOST_KEY = "sk-good-host-aa90f3c2d1"


def harness():
    import streamlit as st

    from components.loaders import distribution, generate
    from components.openai_settings import api_errors, api_model_from_sidebar

    model = api_model_from_sidebar()
    if model is None:
        st.stop()
    prompt = model.encode(st.query_params.get("prompt", "Hello there"))
    with api_errors():
        dist = distribution(model, prompt)
    st.markdown("TOP: " + " | ".join(r.label for r in dist.top_rows(5)))
    with api_errors():
        gen = generate(model, prompt, 3, None, 0)
    st.markdown("GEN: " + gen.text)


fake = served(lambda: FakeOpenAI(slow_seconds=12.0))


@pytest.fixture
def server(fake, monkeypatch):
    fake.clear()
    for name in ("LLMX_ALLOW_SERVER_KEY", "OPENAI_API_KEY", "LLMX_API_BASE_URL", "LLMX_SERVER_KEY_PER_MINUTE"):
        monkeypatch.delenv(name, raising=False)
    return fake


def app(prompt: str = "Hello there") -> AppTest:
    at = AppTest.from_function(harness, default_timeout=60)
    at.query_params["prompt"] = prompt
    at.run()
    return at


def switch_on(at: AppTest, base_url: str | None = None, key: str | None = None) -> AppTest:
    at.sidebar.toggle(key="_api_on_w").set_value(True).run()
    if base_url is not None:
        at.sidebar.text_input(key="_api_base_url_w").input(base_url).run()
    if key is not None:
        at.sidebar.text_input(key="_api_key_w").input(key).run()
    return at


def pick(at: AppTest, model: str) -> AppTest:
    return at.sidebar.selectbox(key="_api_model_choice_w").select(model).run()


def shown_text(at: AppTest, skip_password: bool = True) -> str:
    """Everything the session renders: element values, labels and widget values (but the password field's)."""
    parts = []
    for element in list(at.main) + list(at.sidebar):
        parts.extend(_walk(element, skip_password))
    return "\n".join(parts)


def _walk(node, skip_password):
    out = []
    key = getattr(node, "key", None)
    if not (skip_password and key == "_api_key_w"):
        for attr in ("value", "label", "body", "help", "placeholder", "options"):
            try:
                out.append(str(getattr(node, attr)))
            except Exception:  # noqa: BLE001 - an attribute this element type lacks
                pass
    for child in getattr(node, "children", {}).values():
        out.extend(_walk(child, skip_password))
    return out


def deep_contains(obj, needle: str, limit: int = 300_000) -> bool:
    """Whether `needle` is inside obj: strings, bytes, containers, object attributes (bounded walk)."""
    raw = needle.encode()
    seen, stack = set(), [obj]
    while stack and limit:
        item = stack.pop()
        limit -= 1
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, str):
            if needle in item:
                return True
        elif isinstance(item, (bytes, bytearray)):
            if raw in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif type(item).__module__.startswith(("torch", "numpy", "tokenizers", "transformers")):
            continue
        else:
            stack.extend(getattr(item, "__dict__", {}).values())
            for slot in getattr(type(item), "__slots__", ()):
                stack.append(getattr(item, slot, None))
    return False


def streamlit_caches() -> list:
    from streamlit.runtime.caching import cache_data_api, cache_resource_api

    found = []
    for caches in cache_resource_api._resource_caches._function_caches.values():
        for cache in caches.values():
            found.extend(entry.value for entry in list(cache._mem_cache.values()))
    for caches in cache_data_api._data_caches._function_caches.values():
        for cache in caches.values():
            found.extend(getattr(cache.storage, "_mem_cache", {}).values())
    return found


def top_labels(prompt: str) -> str:
    return " | ".join(WORDS[i].replace(" ", "␣").replace("\n", "↵") for i, _ in expected_logprobs(prompt)[:5])


def test_a_key_lives_only_in_its_own_session(server):
    KEY = "sk-good-" + secrets.token_hex(12)  # a local, so no module global of the tests holds it
    at = pick(switch_on(app(), server.base_url, KEY), "private-model")
    assert not at.exception
    assert any(m.value == "TOP: " + top_labels("Hello there") for m in at.markdown)
    assert any(m.value.startswith("GEN: ") for m in at.markdown)
    assert {r.authorization for r in server.recorded()[-2:]} == {f"Bearer {KEY}"}

    # A second session at the same time types nothing: it never sends or holds the first one's key.
    mark = len(server.recorded())
    other = pick(switch_on(app(), server.base_url), "fake-chat")
    assert not other.exception and any(m.value.startswith("TOP: ") for m in other.markdown)
    assert {r.authorization for r in server.recorded()[mark:]} == {"Bearer no-key"}
    assert not deep_contains(other._session_state._state, KEY)
    assert deep_contains(at._session_state._state, KEY)  # the scan does find a key where it is

    assert not any(KEY in value for value in os.environ.values())
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            assert not (isinstance(value, str) and KEY in value), module.__name__
    assert not deep_contains(streamlit_caches(), KEY)
    assert not any(KEY in v for v in at.query_params.values()) and at.query_params["api_model"] == "private-model"
    assert KEY not in shown_text(at) and KEY not in shown_text(other)
    assert at.sidebar.text_input(key="_api_key_w").value == KEY  # its own password field only


def test_host_key_is_off_unless_switched_on(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", HOST_KEY)
    at = switch_on(app())
    assert any("Enter your OpenAI API key" in i.value for i in at.sidebar.info)
    assert server.recorded() == []
    at = pick(switch_on(app(), server.base_url), "fake-chat")
    assert {r.authorization for r in server.recorded()} == {"Bearer no-key"}
    assert HOST_KEY not in shown_text(at, skip_password=False)


def test_host_key_when_switched_on_is_hidden_rate_limited_and_tied_to_its_url(server, monkeypatch):
    monkeypatch.setenv("LLMX_ALLOW_SERVER_KEY", "1")
    monkeypatch.setenv("OPENAI_API_KEY", HOST_KEY)
    monkeypatch.setenv("LLMX_API_BASE_URL", server.base_url)
    monkeypatch.setenv("LLMX_SERVER_KEY_PER_MINUTE", "4")
    at = switch_on(app("p0"))
    assert any("No key needed" in c.value for c in at.sidebar.caption)
    at = pick(at, "fake-chat")  # requests 1-3: model list, a distribution, a generation (babbage first)
    assert not at.exception
    at.query_params["prompt"] = "p1"
    at.run()  # request 4 (distribution), then the limit stops the generation before it is sent
    limit = [w.value for w in at.warning if "class key allows 4 requests" in w.value]
    assert limit, [w.value for w in at.warning]
    sent = server.recorded()
    assert len(sent) == 4 and {r.authorization for r in sent} == {f"Bearer {HOST_KEY}"}
    assert HOST_KEY not in shown_text(at, skip_password=False)
    # Another server address: the host's key is never sent there.
    mark = len(sent)
    at.sidebar.text_input(key="_api_base_url_w").input(server.base_url.replace("127.0.0.1", "localhost")).run()
    assert not any("No key needed" in c.value for c in at.sidebar.caption)
    assert {r.authorization for r in server.recorded()[mark:]} == {"Bearer no-key"}


@pytest.mark.parametrize("model, key, expected", [
    ("private-model", "sk-wrong-1234567890", "rejected the API key (401)"),
    ("reasoning-model", None, "(403)"),
    ("busy-model", None, "Wait 7 s"),
    ("no-credit-model", None, "no credit left"),
])
def test_errors_are_messages(server, model, key, expected):
    at = pick(switch_on(app(), server.base_url, key), model)
    shown = [e.value for e in at.error] + [w.value for w in at.warning]
    assert any(expected in s for s in shown), shown
    assert not at.exception
    if key:
        assert key not in shown_text(at)


def test_unknown_model_typed_by_hand(server):
    at = pick(switch_on(app(), server.base_url), "Other (type a name)…")
    at.sidebar.text_input(key="_api_model_w").input("gpt-17").run()
    assert any("(404)" in e.value and "gpt-17" in e.value for e in at.error)
    assert not at.exception


def test_timeout_and_connection_failure(server, monkeypatch):
    from lib.models import openai_backend

    class Quick(openai_backend.OpenAIBackend):  # a shorter read timeout, so the test does not wait 20 s
        def __init__(self, *args, **kw):
            kw["timeout"] = 0.5
            super().__init__(*args, **kw)

    monkeypatch.setattr(openai_backend, "OpenAIBackend", Quick)  # lib.models.backends.open_model builds it from there
    at = pick(switch_on(app(), server.base_url), "slow-model")
    assert any("did not answer within 0.5 s" in w.value for w in at.warning)
    assert not at.exception
    at = switch_on(app(), closed_port_url())
    assert any("Could not list models" in w.value and "Could not connect" in w.value for w in at.sidebar.warning)
    assert not at.exception


@pytest.mark.parametrize("url", ["http://user:secret@host/v1", "ftp://host/v1"])
def test_bad_base_urls(server, url):
    at = switch_on(app(), url)
    assert at.sidebar.error and not at.exception
    assert server.recorded() == []
