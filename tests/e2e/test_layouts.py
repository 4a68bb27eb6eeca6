"""Every page on a 390-px phone (nothing wider than the screen) and in presentation mode at 1280x720
(the page's main chart starts above the fold). Screenshots go to screenshots/ for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lib import page_table
from tests.e2e.conftest import SCREENSHOTS, SIDEBAR_OPEN, no_exception, open_page, wait_idle

pytestmark = pytest.mark.e2e
# page path -> selector of its main chart (a page not listed has no chart)
CHARTS = {"lecture": "[data-testid=stPlotlyChart]", "tokenizer": ".tv-wrap",
          "next-token": "[data-testid=stPlotlyChart]", "sampling": ".kp-bars",
          "training-stages": ".ts-row", "model-scale": "[data-testid=stPlotlyChart]",
          "inside": "[data-testid=stPlotlyChart]"}
PAGES = {row.url_path: CHARTS.get(row.url_path) for row in page_table.PAGES}  # every page of the app
WIDTHS = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  return [document.documentElement.scrollWidth, window.innerWidth, main.scrollWidth, main.clientWidth];
}"""


CLIPPED_LINKS = """() => [...document.querySelectorAll('[data-testid=stPageLink] *')]
  .filter(e => /\\p{L}/u.test(e.textContent))  // words; an emoji icon's glyph may overhang its box by a pixel
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""


TITLES_OUTSIDE = """() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].filter(t => {
  const r = t.getBoundingClientRect(), frame = t.closest('svg').getBoundingClientRect();
  return r.left < frame.left - 1 || r.right > frame.right + 1; }).map(t => t.textContent)"""


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.parametrize("path", list(PAGES))
def test_phone_nothing_wider_than_the_screen(page, app_url, path):
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, f"{app_url}/{path}")
    no_exception(page)
    for chart in page.locator("[data-testid=stPlotlyChart]").all():  # Plotly draws after the run ends
        chart.locator(".main-svg").first.wait_for(timeout=30_000)
    try:  # titles are fitted on the next animation frame
        page.wait_for_function(f"({TITLES_OUTSIDE})().length === 0", timeout=5_000)
    except PlaywrightTimeout:
        pass
    doc, inner, main, main_client = page.evaluate(WIDTHS)
    shot(page, f"phone-{path or 'home'}")
    assert not page.evaluate(TITLES_OUTSIDE), path  # Plotly does not wrap titles: a long one must shrink to fit
    assert doc <= inner, (path, doc, inner)
    assert main <= main_client + 1, (path, main, main_client)
    assert not page.evaluate(CLIPPED_LINKS), path  # page links wrap rather than cut their text


@pytest.mark.parametrize("path", [row.url_path for row in page_table.PAGES if row.presented])  # not /play
def test_presentation_main_chart_above_the_fold(page, app_url, path):
    page.set_viewport_size({"width": 1280, "height": 720})
    open_page(page, f"{app_url}/{path}?present=1")
    no_exception(page)
    font = ("() => { const p = document.querySelector('[data-testid=stMain] [data-testid=stMarkdown] p')"
            " || document.querySelector('[data-testid=stMain] p'); return p ? parseFloat(getComputedStyle(p).fontSize) : 0; }")
    # The lecture fits its notes and the step's figure into 720 px (tests/e2e/test_lecture.py), so its notes may be
    # a little smaller there (30 px from 1600x900 up); every other page has 24 px text.
    least = 20 if path == "lecture" else 24
    try:  # the page's style element can land a moment after the run ends; wait for it, then check
        page.wait_for_function(f"({font})() >= {least}", timeout=30_000)
    except PlaywrightTimeout:
        pass
    size = page.evaluate(font)
    shot(page, f"present-{path or 'home'}")
    assert size >= least, size
    assert page.locator("[data-testid=stAppDeployButton]:visible").count() == 0
    assert page.locator(SIDEBAR_OPEN).count() == 0
    selector = PAGES[path]
    if path == "lecture":  # its main chart is the first step's own chart, drawn on the page (no frame)
        chart = page.locator(selector).first
        chart.wait_for(timeout=120_000)
        shot(page, "present-lecture")
        box = chart.bounding_box()
        assert box is not None and box["y"] + 100 <= 720, box
    elif selector:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, path
        visible = min(box["y"] + box["height"], 720) - box["y"]
        assert visible >= min(box["height"], 100), (path, box)  # all of it, or at least its top 100 px, on screen


def test_presenting_lecturer_can_open_the_sidebar_and_leave(page, app_url):
    """The sidebar starts collapsed in presentation mode, but its button stays: the lecturer's controls live there."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_page(page, f"{app_url}/game?present=1")
    assert page.locator(SIDEBAR_OPEN).count() == 0
    assert page.locator("[data-testid=stMainMenu]:visible").count() == 0  # the toolbars stay hidden
    page.locator("[data-testid=stExpandSidebarButton]").click(timeout=10_000)
    page.get_by_role("button", name="Start round").wait_for(timeout=10_000)  # the game's sidebar form
    page.locator("[data-testid=stSidebar]").get_by_text("Presentation mode").click()
    wait_idle(page)
    assert "present=1" not in page.url
    size = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert size < 24, size


def _png_size(path) -> tuple[int, int]:
    data = open(path, "rb").read(32)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_charts_save_as_png_at_projector_size(page, app_url):
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_page(page, f"{app_url}/model-scale")
    chart = page.locator("[data-testid=stPlotlyChart]").first
    chart.hover()
    with page.expect_download() as plotly_png:
        chart.locator('.modebar-btn[data-title="Download plot as a PNG"]').click(force=True)
    assert _png_size(plotly_png.value.path()) == (1920, 1080)
    open_page(page, f"{app_url}/sampling")
    with page.expect_download() as svg_png:
        page.get_by_role("button", name="Save as PNG (1920 px)").first.click()
    width, height = _png_size(svg_png.value.path())
    assert width == 1920 and height > 0
