"""Hosted mode downloads nothing unless the operator allows it, and then only catalog models; a name that is a
folder on the server (assets/pocket-lm) is refused even when online (issue 24)."""

from __future__ import annotations

import pytest

from lib.models import hub
from lib.models.catalog import CATALOG

CATALOG_HUB_ID = next(e.id for e in CATALOG if "/" in e.id and not e.id.startswith("openai:"))


@pytest.fixture
def online(monkeypatch):
    """The hub looks reachable and nothing is in the hub cache: every hub id would reach the download step."""
    monkeypatch.setattr(hub, "network_available", lambda *a, **k: True)
    monkeypatch.setattr(hub, "cached_snapshot", lambda ref: None)
    monkeypatch.delenv("LLMX_ALLOW_DOWNLOADS", raising=False)


def test_hosted_downloads_nothing_by_default(online, monkeypatch):
    monkeypatch.setenv("LLMX_HOSTED", "1")
    for ref in ("someone/any-model", CATALOG_HUB_ID):
        with pytest.raises(hub.ModelUnavailable, match="downloads only the models its operator allows"):
            hub.resolve(ref)


def test_the_operator_allows_catalog_models_only(online, monkeypatch):
    monkeypatch.setenv("LLMX_HOSTED", "1")
    monkeypatch.setenv("LLMX_ALLOW_DOWNLOADS", "1")
    assert hub.resolve(CATALOG_HUB_ID) == (CATALOG_HUB_ID, False)
    with pytest.raises(hub.ModelUnavailable):
        hub.resolve("someone/any-model")


@pytest.mark.parametrize("ref", ["assets/pocket-lm", "assets/pocket-lm-sft", "lib/models"])
def test_a_server_folder_is_refused_when_online(online, monkeypatch, ref):
    monkeypatch.setenv("LLMX_HOSTED", "1")
    monkeypatch.setenv("LLMX_ALLOW_DOWNLOADS", "1")
    with pytest.raises(hub.ModelUnavailable, match="names a folder on this class server"):
        hub.resolve(ref)


def test_hosted_download_is_refused_before_the_network(online, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("LLMX_HOSTED", "1")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(hub.ModelUnavailable, match="LLMX_ALLOW_DOWNLOADS"):
        hub.download(CATALOG_HUB_ID)


def test_local_mode_keeps_every_freedom(online, monkeypatch):
    monkeypatch.delenv("LLMX_HOSTED", raising=False)
    assert hub.resolve("someone/any-model") == ("someone/any-model", False)
    assert hub.downloads_allowed("someone/any-model")
