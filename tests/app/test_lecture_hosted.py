"""The Lecture page's "download models" panel is not there in hosted mode (issue 24), and is there locally."""

from __future__ import annotations

import pytest

from tests.app.apptest import open_page


@pytest.mark.parametrize("hosted, shown", [("1", False), ("", True)])
def test_download_button_only_outside_hosted_mode(monkeypatch, hosted, shown):
    monkeypatch.setenv("LLMX_HOSTED", hosted)
    at = open_page("pages/lecture.py")
    keys = [b.key for b in at.button]
    assert ("prepare_go" in keys) is shown
    assert any("Prepare this machine" in e.label for e in at.expander) is shown
