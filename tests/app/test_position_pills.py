"""The next-token "Position" pills show a token as text: Streamlit renders pill labels as markdown, and a token
from an API server such as ![i](http://x) must not become an image the browser fetches."""

from __future__ import annotations

import markdown_it
import pytest
from streamlit.testing.v1 import AppTest

HOSTILE = ["![i](http://x.invalid/a.png)", "[click](javascript:alert(1))", "<img src=x onerror=alert(1)>",
           "**bold** :red[red]", "$x^2$"]


def harness():
    import components.generation_view as view

    view.generation_view(None, None, "g", prefix="x")


def as_the_model_would_answer(token: str):
    from lib.models.next_token import Generation
    from lib.sampling.distribution import Step, TokenRow

    row = TokenRow(1, 5, token, token.encode(), token, -0.1, 0.9, 0.9)
    return lambda *args, **kwargs: Generation(None, (Step(row, (row,), 0.1),))


@pytest.mark.parametrize("token", HOSTILE)
def test_a_token_in_a_position_pill_is_text(token, monkeypatch):
    # Patched for this test only: the module is shared with every later test in this process.
    monkeypatch.setattr("components.generation_view.generate", as_the_model_would_answer(token))
    at = AppTest.from_function(harness, default_timeout=30)
    at.run()
    assert not at.exception
    label = at.get("button_group")[0].options[0]
    html = markdown_it.MarkdownIt("commonmark").render(label)  # CommonMark reference parser
    assert "<img" not in html and "<a " not in html and "<strong>" not in html, html
    assert "&lt;img" in html if "<img" in token else True
