"""The next-token page in a real browser: chart, changing N, step mode, generation."""

from urllib.parse import quote

import pytest

from tests.e2e.conftest import no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
PROMPT = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a"


def slider(page, label):
    return page.locator("[data-testid=stSlider]").filter(has_text=label).locator("input[type=range]")


def bar_labels(page, chart_index=0):
    chart = page.locator("[data-testid=stPlotlyChart]").nth(chart_index)
    chart.locator(".ytick text").first.wait_for()  # Plotly draws after the script run ends
    return chart.locator(".ytick text").evaluate_all("els => els.map(e => e.textContent)")


def test_chart_n_and_step_mode(page, app_url):
    open_page(page, f"{app_url}/next-token?prompt={quote(PROMPT)}&n=5")
    no_exception(page)
    labels = bar_labels(page)
    assert len(labels) == 6 and "everything else" in labels  # top 5 + the rest
    screenshot(page, "next-token")

    thumb = slider(page, "Tokens shown")
    thumb.focus()
    for _ in range(3):
        thumb.press("ArrowRight")
    wait_idle(page)
    assert len(bar_labels(page)) == 9
    assert "n=8" in page.url

    first = page.locator("[data-testid=stButton] button").filter(has_text="%").first
    token = first.inner_text().split("(")[0].strip()
    first.click()
    wait_idle(page)
    assert page.get_by_text("Appended so far").count() == 1
    assert token in page.locator("[data-testid=stMarkdown]").filter(has_text="Appended so far").inner_text()
    no_exception(page)
    screenshot(page, "next-token-step")


def test_generation_shows_probabilities_and_alternatives(page, app_url):
    open_page(page, f"{app_url}/next-token?prompt={quote('She opened the door and')}&tokens=12")
    chips = page.locator(".llmx-chip")
    assert chips.count() == 12
    assert "%" in chips.first.inner_text()
    page.locator("[data-testid=stPills] button, [data-testid=stButtonGroup] button").nth(3).click()
    wait_idle(page)
    assert page.get_by_text("Position 4").count() >= 1
    no_exception(page)
    screenshot(page, "next-token-generation")
