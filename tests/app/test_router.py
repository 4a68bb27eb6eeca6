import ast

from streamlit.testing.v1 import AppTest

from lib.page_table import ON_HOME, PAGES
from tests.app.apptest import open_page
from tests.conftest import ROOT


def test_home_page_links_every_page():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.title[0].value == "LLM Explainer"
    links = " ".join(str(p.proto) for p in at.get("page_link"))
    assert len(at.get("page_link")) == len(PAGES) - 1  # every page but the home page itself
    for row in ON_HOME:  # every page the table puts on the home page, with its title, blurb and icon
        assert row.url_path in links and row.home_label in links and row.icon in links, row.file


def test_every_page_but_home_has_a_blurb_for_its_link():
    assert [row.file for row in PAGES if not row.blurb] == [row.file for row in PAGES if row.default]


def test_every_page_file_has_a_row():
    assert sorted(row.file for row in PAGES) == sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))


def test_every_page_routes_itself_before_it_draws_anything():
    """route_through_app() must run before the page's first call (components/setup.py says why)."""
    for row in PAGES:
        body = ast.parse((ROOT / row.file).read_text()).body
        first_call = next(s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom, ast.FunctionDef))
                          and any(isinstance(n, ast.Call) for n in ast.walk(s)))
        assert ast.unparse(first_call) == "route_through_app()", row.file


def test_a_page_run_goes_through_the_router():
    """AppTest starts every run in legacy pages/ mode (it resets PagesManager.uses_pages_directory), which runs
    the page file alone; route_through_app puts the router, and so its sidebar toggle, back in front of it."""
    at = open_page("pages/tokenizer.py")
    assert at.title[0].value == "Tokenizer"
    assert [t.key for t in at.sidebar.toggle] == ["_present_toggle"]
