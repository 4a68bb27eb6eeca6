from streamlit.testing.v1 import AppTest

from lib.page_table import ON_HOME
from tests.conftest import ROOT


def test_home_page_links_every_page():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.title[0].value == "LLM Explainer"
    links = " ".join(str(p.proto) for p in at.get("page_link"))
    for path in ("tokenizer", "next-token", "sampling", "training-stages", "model-scale"):
        assert path in links, path
    for row in ON_HOME:  # every page the table puts on the home page, with its title, blurb and icon
        assert row.url_path in links and row.home_label in links and row.icon in links, row.file
