"""The sampling page in a real browser: the temperature slider reshapes the chart while top-k holds."""

from urllib.parse import quote

import pytest

from tests.e2e.conftest import no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def metric(page, label):
    box = page.locator("[data-testid=stMetric]").filter(has_text=label)
    return box.locator("[data-testid=stMetricValue]").inner_text()


def reshaped_texts(page):
    """The printed values of the first bar chart (model vs after knobs)."""
    return page.locator(".llmx-pb").first.locator(".llmx-pb-value").all_inner_texts()


def test_top_k_link_then_temperature_slider(page, app_url):
    open_page(page, f"{app_url}/sampling?prompt={quote('She opened the door and')}&top_k=3")
    no_exception(page)
    assert metric(page, "Tokens kept") == "3"
    before = reshaped_texts(page)
    assert before.count("removed") == 8  # 10 tokens shown + the rest, 3 kept
    assert page.locator("svg[aria-label^=cumulative] polyline").count() == 1
    screenshot(page, "sampling")

    thumb = page.locator("[data-testid=stSlider]").filter(has_text="Temperature").locator("input[type=range]")
    thumb.focus()
    for _ in range(10):
        thumb.press("ArrowLeft")  # 1.0 -> 0.5
    wait_idle(page)
    after = reshaped_texts(page)
    assert after != before
    assert metric(page, "Tokens kept") == "3"
    assert "temperature=0.5" in page.url and "top_k=3" in page.url
    no_exception(page)
    screenshot(page, "sampling-cold")
