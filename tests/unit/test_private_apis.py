"""The project's only uses of private library APIs, each in one place, checked on the pinned versions: a library
upgrade that moves them fails here, not silently in a class."""

from __future__ import annotations

import httpcore2
import httpx2
import pytest

from lib.models.api_http import install_network_backend


class RecordingBackend(httpcore2.SyncBackend):
    def __init__(self):
        self.hosts: list[str] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.hosts.append(host)
        raise httpcore2.ConnectError("refused by the test backend")


def test_httpx_transport_opens_connections_through_the_installed_backend():
    transport = httpx2.HTTPTransport()
    backend = RecordingBackend()
    install_network_backend(transport, backend)
    with httpx2.Client(transport=transport) as client, pytest.raises(httpx2.ConnectError):
        client.get("http://api.example.invalid:8080/v1/models")
    assert backend.hosts == ["api.example.invalid"]


def test_streamlit_clear_cache_guard_replaces_and_restores_the_session_handler(monkeypatch):
    from streamlit.runtime.app_session import AppSession

    from components.setup import guard_cache_clearing

    original = AppSession._handle_clear_cache_request
    try:
        monkeypatch.setenv("LLMX_HOSTED", "1")
        guard_cache_clearing()
        assert AppSession._handle_clear_cache_request is not original
        assert AppSession._handle_clear_cache_request.original is original
        monkeypatch.setenv("LLMX_HOSTED", "0")
        guard_cache_clearing()
        assert AppSession._handle_clear_cache_request is original
    finally:
        AppSession._handle_clear_cache_request = original
