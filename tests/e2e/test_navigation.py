"""Deep links, the sidebar and page switches in a real browser."""

import pytest

from lib.page_table import PAGES
from tests.e2e.conftest import no_exception, open_page, screenshot, serve, wait_idle

pytestmark = pytest.mark.e2e

TITLES = {row.url_path: row.title for row in PAGES if row.url_path}
# The CSS every run of the router injects (components/presentation.py) is in the page.
ROUTER_STYLED = "() => [...document.querySelectorAll('style')].some(s => s.textContent.includes('stAppDeployButton'))"


@pytest.fixture(scope="module")
def fresh_app():
    """A server of our own: the first session of a process is the one legacy page discovery would take."""
    yield from serve()


@pytest.fixture
def new_process():
    """A server per test, so its first session runs in legacy pages/ mode (components.setup.route_through_app)."""
    yield from serve()


def sidebar_text(page) -> str:
    return page.locator("[data-testid=stSidebarNav]").inner_text()


def assert_routed(page, row) -> None:
    """The router ran this run: its sidebar (the table's titles, this page current), its CSS, its toggle."""
    links = [" ".join(text.split()) for text in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()]
    assert links == [f"{r.icon} {r.title}" for r in PAGES]  # not the legacy list of file names
    current = page.locator("[data-testid=stSidebarNav] a[aria-current=page]")
    assert " ".join(current.inner_text().split()) == f"{row.icon} {row.title}"
    assert page.evaluate(ROUTER_STYLED)
    toggle = page.get_by_text("Presentation mode")
    toggle.first.wait_for(timeout=30_000)  # the router's sidebar switch (CI once counted it before it was drawn)
    assert toggle.count() == 1
    assert page.locator("[role=dialog]").filter(has_text="Page not found").count() == 0
    no_exception(page)


def test_first_deep_link_of_a_new_process_goes_through_the_router(page, fresh_app):
    open_page(page, f"{fresh_app}/sampling")
    assert page.url.split("?")[0].endswith("/sampling")
    nav = sidebar_text(page)
    assert "Sampling knobs" in nav and "streamlit app" not in nav.lower()
    assert page.locator("h1").first.inner_text().startswith("Sampling knobs")
    no_exception(page)


@pytest.mark.parametrize("row", PAGES, ids=lambda row: row.url_path or "home")
def test_every_page_as_the_first_run_of_a_new_process(page, new_process, row):
    """Streamlit runs a new process's first run in legacy pages/ mode, which would run the page file alone.
    Whatever Streamlit does there, every deep link must render its page once, through the router."""
    open_page(page, f"{new_process}/{row.url_path}")
    assert page.url.split("?")[0].rstrip("/") == f"{new_process}/{row.url_path}".rstrip("/")
    assert_routed(page, row)
    assert page.locator("h1").count() <= 1  # the page body ran once, not once alone and once routed


@pytest.mark.parametrize("path", list(TITLES))
def test_deep_link_opens_its_page(page, fresh_app, path):
    open_page(page, f"{fresh_app}/{path}")
    assert page.url.split("?")[0].rstrip("/").endswith(path)
    assert page.locator("[role=dialog]").filter(has_text="Page not found").count() == 0
    assert TITLES[path] in sidebar_text(page)
    no_exception(page)
    screenshot(page, f"page-{path}")


def test_sidebar_switches_pages(page, fresh_app):
    open_page(page, fresh_app)
    nav = page.locator("[data-testid=stSidebarNav]")
    nav.get_by_text("Model scale").click()
    wait_idle(page)
    page.wait_for_url("**/model-scale**")
    nav.get_by_text("Tokenizer").click()
    wait_idle(page)
    page.wait_for_url("**/tokenizer**")
    no_exception(page)
