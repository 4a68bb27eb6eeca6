"""The sampling page in a real browser: the temperature slider reshapes the chart while top-k holds."""

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def metric(page, label):
    box = page.locator("[data-testid=stMetric]").filter(has_text=label)
    return box.locator("[data-testid=stMetricValue]").inner_text()


def reshaped_texts(page):
    """The printed after-knobs values of the knob panel's bars (tokens shown, then everything else)."""
    return page.locator(".kp .kp-after-num").all_inner_texts()


def test_top_k_link_then_temperature_slider(page, app_url):
    open_page(page, f"{app_url}/sampling?prompt={quote('She opened the door and')}&top_k=3")
    no_exception(page)
    assert metric(page, "Tokens kept") == "3"
    expect(page.locator(".kp .kp-after-num")).to_have_count(11)
    before = reshaped_texts(page)
    assert before.count("removed") == 8  # 10 tokens shown + the rest, 3 kept
    assert page.locator("svg[aria-label^=cumulative i] polyline").count() == 1
    screenshot(page, "sampling")

    thumb = page.get_by_role("slider", name="Temperature (0 = greedy)")
    thumb.focus()
    for _ in range(10):
        thumb.press("ArrowLeft")  # 1.0 -> 0.5
    expect(page).to_have_url(re.compile(r"temperature=0\.5(&|$)"))  # sent once the keys stop
    wait_idle(page)
    after = reshaped_texts(page)
    assert after != before
    assert metric(page, "Tokens kept") == "3"
    assert "temperature=0.5" in page.url and "top_k=3" in page.url
    no_exception(page)
    screenshot(page, "sampling-cold")
