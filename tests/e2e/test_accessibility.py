"""Accessibility in a real browser: axe-core (WCAG 2.0-2.2 A and AA rules) on every page at 1280 and 390 px, normal
and presentation mode, and on every lecture step; every chart's text alternative against the numbers it draws.

axe-core is the npm package's axe.min.js, which .ci/run fetches into build/axe-core/ (or set AXE_JS to a copy)."""

from __future__ import annotations

import html
import os
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lib import page_table
from lib.teaching import lecture as L
from tests.conftest import IN_CI, ROOT
from tests.e2e.conftest import IDLE, no_exception, open_page, wait_idle

pytestmark = pytest.mark.e2e
AXE_JS = os.environ.get("AXE_JS") or str(ROOT / "build" / "axe-core" / "axe.min.js")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
RUN_AXE = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, iframes: true});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: '
         + (n.failureSummary || '').split('\\n').slice(1, 2).join('').trim()).join(' | '));
}"""
MODES = {"1280": (1280, 900, ""), "1280-present": (1280, 720, "present=1"),
         "390": (390, 844, ""), "390-present": (390, 844, "present=1")}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not os.path.exists(AXE_JS):
        if IN_CI:
            pytest.fail(f"{AXE_JS} is missing: .ci/run fetches axe-core with npm pack")
        pytest.skip("axe-core is not fetched (see .ci/run)")
    with open(AXE_JS, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def warm(browser, app_url):
    """One visit first: a cold server's very first session may not honour a deep link yet."""
    first = browser.new_page()
    open_page(first, app_url)
    first.close()
    return app_url


def settle(page) -> None:
    """The script has finished and every Plotly chart has drawn, in the page and in any frame inside it."""
    wait_idle(page)
    for frame in page.frames[1:]:
        if frame.url.startswith("http") and frame.query_selector("[data-testid=stApp]"):
            frame.wait_for_selector(IDLE, timeout=120_000)
    for frame in page.frames:
        for chart in frame.locator("[data-testid=stPlotlyChart]").all():
            chart.locator(".main-svg").first.wait_for(timeout=60_000)


def serious_violations(page, source: str) -> list[str]:
    for frame in page.frames:  # axe checks frames through the copy inside each one
        if not frame.evaluate("() => typeof window.axe !== 'undefined'"):
            frame.evaluate(source)
    return page.evaluate(RUN_AXE, WCAG_AA)


def with_query(url: str, query: str) -> str:
    return url if not query else url + ("&" if "?" in url else "?") + query


@pytest.mark.parametrize("mode", list(MODES))
def test_axe_finds_nothing_serious_on_any_page(page, warm, axe_source, mode):
    width, height, query = MODES[mode]
    page.set_viewport_size({"width": width, "height": height})
    found = {}
    for row in page_table.PAGES:
        page.goto(with_query(f"{warm}/{row.url_path}", query))
        settle(page)
        no_exception(page)
        found[f"/{row.url_path}"] = serious_violations(page, axe_source)
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_axe_finds_nothing_serious_on_any_lecture_step(page, warm, axe_source):
    page.set_viewport_size({"width": 1280, "height": 720})
    found = {}
    for step in L.STEPS:
        page.goto(f"{warm}/lecture?step={step.id}&present=1")
        settle(page)
        found[step.id] = serious_violations(page, axe_source)
    assert not any(found.values()), {k: v for k, v in found.items() if v}


# --- charts as text --------------------------------------------------------------------------------------------

# What Plotly holds for each chart after drawing it (its full data, defaults applied), and the text alternatives.
DRAWN = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')].map(gd => ({
  title: (gd.layout.title && gd.layout.title.text) || '',
  svg: [...gd.querySelectorAll('svg text')].map(t => t.textContent),
  traces: gd._fullData.filter(t => t.visible !== false).map(t => {
    const arr = a => a == null ? null : Array.from(a, v => (v != null && typeof v === 'object') ? Array.from(v) : v);
    return {type: t.type, name: (gd.data[t.index] || {}).name || '', orientation: t.orientation, x: arr(t.x), y: arr(t.y), z: arr(t.z),
            text: Array.isArray(t.text) ? arr(t.text) : t.text, labels: arr(t.labels), values: arr(t.values)};
  })}))"""
TEXTS = """() => [...document.querySelectorAll('.llmx-chart-text')].map(el => ({
  summary: el.querySelector('p').textContent,
  rows: [...el.querySelectorAll('tbody tr')].map(tr => [...tr.cells].map(c => c.textContent))}))"""
SAME_COUNT = """() => document.querySelectorAll('.llmx-chart-text').length ===
  [...document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')].filter(gd => gd._fullData).length"""
CHART_PAGES = ["next-token?tokens=6", "training-stages", "model-scale", "model-scale?view=Memory", "inside",
               "inside?view=attention", "tokenizer?view=Multilingual"]


def plain(text) -> str:
    """Plotly's label markup (escaped text, <br>) as the words a reader hears."""
    return html.unescape(re.sub(r"<[^>]+>", " ", str(text))).strip() if text is not None else ""


def printed(text) -> str:
    return plain(text) if text is None or isinstance(text, str) else f"{float(text):.6g}"


def drawn_points(trace: dict) -> list[tuple[str, str, float, str]]:
    """(category, column, value, printed) for every point Plotly drew."""
    if trace["type"] == "heatmap":
        text = trace["text"] if isinstance(trace["text"], list) else None
        return [(printed(y), printed(x), float(v), printed(text[i][j]) if text else "")
                for i, (y, zrow) in enumerate(zip(trace["y"], trace["z"])) for j, (x, v) in enumerate(zip(trace["x"], zrow))
                if v is not None]
    if trace["type"] == "treemap":
        return [(plain(label), "", float(v), "") for label, v in zip(trace["labels"], trace["values"])]
    horizontal = trace["orientation"] == "h"
    cats, vals = (trace["y"], trace["x"]) if horizontal else (trace["x"], trace["y"])
    texts = trace["text"] if isinstance(trace["text"], list) else [trace["text"]] * len(vals)
    return [(printed(c), "", float(v), printed(t)) for c, v, t in zip(cats, vals, texts) if v is not None]


def check_chart(chart: dict, alt: dict) -> None:
    rows = {(r[0], r[1], r[2]): r for r in alt["rows"]}
    assert rows, chart["title"]
    for trace in chart["traces"]:
        points = drawn_points(trace)
        if trace["type"] == "heatmap":  # a big grid lists only its first rows, each whole
            listed = {r[1] for r in alt["rows"] if r[0] == plain(trace["name"] or "")}
            assert listed == {printed(y) for y in trace["y"][:len(listed)]}, (chart["title"], listed)
            points = [p for p in points if p[0] in listed]
        for category, column, value, label in points:
            row = rows.get((plain(trace["name"] or ""), category, column))
            assert row is not None, (chart["title"], trace["name"], category, column)
            assert float(row[3]) == pytest.approx(value, rel=1e-5, abs=1e-12), (category, row, value)
            assert row[4] == label, (category, row, label)
    first = next((p for t in chart["traces"] if t["type"] in ("bar", "scatter") for p in drawn_points(t)), None)
    if first:  # the summary starts with what the chart shows first, as printed on it
        assert first[0] in alt["summary"] and (first[3] or "") in alt["summary"], (alt["summary"], first)
    if chart["title"]:
        assert plain(chart["title"]) in alt["summary"]


@pytest.mark.parametrize("path", CHART_PAGES)
def test_every_chart_has_a_text_alternative_with_the_numbers_it_draws(page, warm, path):
    page.set_viewport_size({"width": 1280, "height": 900})
    open_page(page, f"{warm}/{path}")
    settle(page)
    no_exception(page)
    try:  # a fragment may redraw a chart just after the run ends: wait until every text has its drawn chart
        page.wait_for_function(SAME_COUNT, timeout=30_000)
    except PlaywrightTimeout:
        pass  # the count assertion below says what is missing
    charts, texts = page.evaluate(DRAWN), page.evaluate(TEXTS)
    assert charts, path
    assert len(texts) == len(charts), (path, len(texts), len(charts))  # one text alternative per chart, in order
    for chart, alt in zip(charts, texts):
        check_chart(chart, alt)
    for chart in charts:  # a printed label in the table is one the screen shows
        labels = [p[3] for t in chart["traces"] if t["type"] == "bar" for p in drawn_points(t) if p[3]]
        assert not labels or labels[0] in {text.strip() for text in chart["svg"]}, (chart["title"], labels[0])


# --- 200% zoom -------------------------------------------------------------------------------------------------

WIDER_THAN_SCREEN = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth) out.push(['page', document.documentElement.scrollWidth]);
  if (main.scrollWidth > main.clientWidth + 1) out.push(['main', main.scrollWidth]);
  return out;
}"""


def test_200_percent_zoom_at_1280_needs_no_sideways_scrolling(page, warm):
    """A 1280x720 window at 200% zoom lays out as 640x360 CSS pixels (WCAG 1.4.10 reflow)."""
    page.set_viewport_size({"width": 640, "height": 360})
    found = {}
    for row in page_table.PAGES:
        page.goto(f"{warm}/{row.url_path}")
        settle(page)
        no_exception(page)
        found[f"/{row.url_path}"] = page.evaluate(WIDER_THAN_SCREEN)
    assert not any(found.values()), {k: v for k, v in found.items() if v}
