"""Model references from links (issue 13, items 2 and 15) through the whole next-token page in AppTest."""

from __future__ import annotations

from tests.app.apptest import open_page, shown as unescaped
from tests.conftest import ROOT


def messages(at) -> list[str]:
    """The warnings and errors as a reader sees them (the app escapes markdown in user-supplied text)."""
    return [unescaped(m.value) for m in list(at.warning) + list(at.error) + list(at.sidebar.warning) + list(at.sidebar.error)]


def test_over_long_model_link_is_one_clear_message():
    at = open_page("pages/next-token.py", model="a" * 300)
    shown = messages(at)
    assert any("not valid (300 characters)" in m for m in shown), shown
    assert not any("Errno" in m or str(ROOT) in m for m in shown)


def test_hosted_mode_loads_no_folder_from_a_link(monkeypatch):
    monkeypatch.setenv("LLMX_HOSTED", "1")
    folder = f"{ROOT}/assets//pocket-lm-sft"  # a real model folder on this server
    at = open_page("pages/next-token.py", model=folder)
    shown = messages(at)
    assert any("neither a model this class server offers" in m for m in shown), shown
