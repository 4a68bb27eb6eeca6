"""Open one page of the app under streamlit.testing.v1.AppTest, through the router."""

import re

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def open_page(page: str, timeout: float = 120, **query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
    at.run()
    at.switch_page(page)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def shown(markdown: str) -> str:
    """What a reader sees of markdown the app escaped (components.html.escape_markdown): the backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)
