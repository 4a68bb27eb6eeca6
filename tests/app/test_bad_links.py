"""Links and fields a mischievous class tries: each gets one clear line, never "stopped on an unexpected problem"."""

from __future__ import annotations

import pytest

from tests.app.apptest import open_page, shown

STOPPED = "stopped on an unexpected problem"


def messages(at) -> list[str]:
    return [shown(e.value).replace("\u2060", "") for e in at.error]  # escape_markdown() breaks autolinks with a word joiner


@pytest.mark.parametrize("t", ["1e-45", "5e-324"])
def test_a_temperature_that_underflows_is_one_clear_line(t):
    at = open_page("pages/sampling.py", temperature=t)
    errors = messages(at)
    assert not at.exception and not any(STOPPED in e for e in errors), errors
    assert errors == ["Invalid setting: temperature must be 0 (greedy) or at least 0.001"]


@pytest.mark.parametrize("hosted", ["", "1"])
@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/plain,x", "http:127.0.0.1/v1",
                                 "http://127.0.0.1:1:1/v1"])
def test_a_malformed_base_url_is_one_clear_line(url, hosted, monkeypatch):
    monkeypatch.setenv("LLMX_HOSTED", hosted)
    at = open_page("pages/next-token.py", api="1")
    field = next(t for t in at.sidebar.text_input if t.label == "Base URL")
    at = field.set_value(url).run()
    errors = messages(at)
    assert not at.exception and len(errors) == 1, errors
    assert STOPPED not in errors[0] and f"“{url}” is not an http(s) address" in errors[0]
