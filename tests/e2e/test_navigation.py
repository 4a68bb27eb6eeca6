"""Deep links, the sidebar and page switches in a real browser."""

import pytest

from tests.e2e.conftest import no_exception, open_page, screenshot, serve, wait_idle

pytestmark = pytest.mark.e2e

TITLES = {"tokenizer": "Tokenizer", "next-token": "Next-token distribution", "sampling": "Sampling knobs",
          "training-stages": "Training stages", "model-scale": "Model scale"}


@pytest.fixture(scope="module")
def fresh_app():
    """A server of our own: the first session of a process is the one legacy page discovery would take."""
    yield from serve()


def sidebar_text(page) -> str:
    return page.locator("[data-testid=stSidebarNav]").inner_text()


def test_first_deep_link_of_a_new_process_goes_through_the_router(page, fresh_app):
    open_page(page, f"{fresh_app}/sampling")
    assert page.url.split("?")[0].endswith("/sampling")
    nav = sidebar_text(page)
    assert "Sampling knobs" in nav and "streamlit app" not in nav.lower()
    assert page.locator("h1").first.inner_text().startswith("Sampling knobs")
    no_exception(page)


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
