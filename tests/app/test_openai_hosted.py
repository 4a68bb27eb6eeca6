"""The API sidebar in hosted mode (issue 13, items 3, 14 and 17) in AppTest, over real HTTP to loopback
servers: a base URL pointing at an internal service is refused before any request, while the same
steps in local mode still reach a lecturer's own server on localhost."""

from __future__ import annotations

import pytest

from tests.app.test_openai_settings import app, shown_text, switch_on
from tests.fake_openai_server import FakeOpenAI
from tests.internal_service import DB_URL, SECRET, InternalService
from tests.loopback_server import served

ENV = ("LLMX_HOSTED", "LLMX_ALLOWED_API_HOSTS", "LLMX_ALLOWED_API_NETWORKS", "LLMX_ALLOW_SERVER_KEY",
       "OPENAI_API_KEY", "LLMX_API_BASE_URL", "LLMX_SERVER_KEY_PER_MINUTE")


internal = served(InternalService)
fake = served(FakeOpenAI)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def model_options(at) -> list[str]:
    boxes = [b for b in at.sidebar.selectbox if b.key == "_api_model_choice_w"]
    return list(boxes[0].options) if boxes else []


def test_internal_service_is_refused_in_hosted_mode(internal, monkeypatch):
    monkeypatch.setenv("LLMX_HOSTED", "1")
    before = sum(internal.sent.values())
    at = switch_on(app(), internal.url("internal"))
    assert not at.exception
    assert any("only connects to" in e.value for e in at.sidebar.error)
    assert SECRET not in shown_text(at) and model_options(at) == []
    assert sum(internal.sent.values()) == before  # nothing was asked


def test_internal_service_still_works_in_local_mode(internal):
    at = switch_on(app(), internal.url("internal"))
    assert not at.exception and model_options(at)[0] == SECRET


def test_hosts_own_server_works_in_hosted_mode(fake, monkeypatch):
    monkeypatch.setenv("LLMX_HOSTED", "1")
    monkeypatch.setenv("LLMX_API_BASE_URL", fake.base_url)
    at = switch_on(app())  # the sidebar starts with the host's URL
    assert not at.exception and "fake-chat" in model_options(at)
    assert any(m.value.startswith("TOP: ") for m in at.markdown)


@pytest.mark.parametrize("prefix, expected", [("html", "web page (HTML)"), ("badjson", "not in the OpenAI format")])
def test_captive_portal_and_broken_json_are_one_message(internal, prefix, expected):
    at = switch_on(app(), internal.url(prefix))
    assert not at.exception
    assert any(expected in w.value for w in at.sidebar.warning), [w.value for w in at.sidebar.warning]


@pytest.mark.parametrize("prefix, status", [("errorpage", "502"), ("internal", "500")])
def test_upstream_errors_are_summarised(internal, prefix, status):
    at = switch_on(app(), internal.url(prefix))
    if prefix == "errorpage":  # no model list: type a name
        at.sidebar.text_input(key="_api_model_w").input("any-model").run()
    shown = " ".join(e.value for e in at.error) + " ".join(w.value for w in at.sidebar.warning)
    assert not at.exception and f"({status})" in shown, shown
    for leaked in (DB_URL, "<script", "alert(", "](", "**"):
        assert leaked not in shown_text(at), leaked


def test_long_model_list_is_capped(internal):
    from lib.models.openai_client import MAX_MODELS

    internal.huge_count = 5000
    try:
        at = switch_on(app(), internal.url("huge"))
    finally:
        internal.huge_count = 200_000
    assert not at.exception
    assert len(model_options(at)) == MAX_MODELS + 1  # and "Other (type a name)…"
    assert any("5,000 models" in c.value for c in at.sidebar.caption)
