"""The Inside-the-model page in a real browser: deep links to each view, a head switch, three screen sizes."""

from urllib.parse import quote

import pytest

from tests.e2e.conftest import SCREENSHOTS, no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
PROMPT = "Mr. Darcy walked to the window. Miss Bennet smiled. Mr. Darcy walked to the"
SIZES = {"1920x1080": (1920, 1080), "1280x720": (1280, 720), "390x844": (390, 844)}


def open_sized(page, size: str, url: str) -> None:
    """Open `url` in a viewport of one of SIZES; no exception may show."""
    w, h = SIZES[size]
    page.set_viewport_size({"width": w, "height": h})
    open_page(page, url)
    no_exception(page)


def chart_shots(page, name):
    """The page, then each chart on its own (the page scrolls inside Streamlit's main area)."""
    screenshot(page, name)
    for i, chart in enumerate(page.locator("[data-testid=stPlotlyChart]").all()):
        chart.scroll_into_view_if_needed()
        chart.screenshot(path=str(SCREENSHOTS / f"{name}-chart{i}.png"))


def chart_titles(page, expect: str = "") -> list[str]:
    """Chart titles once one containing `expect` has been drawn (Plotly draws after the script finishes)."""
    page.locator("[data-testid=stPlotlyChart] .gtitle", has_text=expect).first.wait_for(timeout=30_000)
    return page.locator("[data-testid=stPlotlyChart] .gtitle").evaluate_all("els => els.map(e => e.textContent)")


@pytest.mark.parametrize("size", SIZES)
def test_deep_links_reproduce_each_view(page, app_url, size):
    open_sized(page, size, f"{app_url}/inside?prompt={quote(PROMPT)}&view=lens")
    titles = chart_titles(page, "stopped at each layer")
    assert any("layer by layer" in t for t in titles) and any("stopped at each layer" in t for t in titles), titles
    chart_shots(page, f"inside-lens-{size}")

    open_page(page, f"{app_url}/inside?prompt={quote(PROMPT)}&view=attention&layer=2&head=3&pattern=previous")
    no_exception(page)
    assert any("Layer 2, head 3" in t for t in chart_titles(page, "Layer 2, head 3"))
    chart_shots(page, f"inside-attention-{size}")


def test_switching_head_updates_chart_and_url(page, app_url):
    open_page(page, f"{app_url}/inside?prompt={quote(PROMPT)}&view=attention&layer=1&head=1")
    thumb = page.locator("[data-testid=stSlider]").filter(has_text="Head").locator("input[type=range]")
    thumb.focus()
    thumb.press("ArrowRight")
    wait_idle(page)
    assert any("Layer 1, head 2" in t for t in chart_titles(page, "Layer 1, head 2"))
    assert "head=2" in page.url
    page.locator("[data-testid=stButton] button").filter(has_text="Layer").first.click()
    wait_idle(page)
    no_exception(page)
    assert "layer=" in page.url


@pytest.mark.parametrize("size", SIZES)
def test_bpe_tab_and_token_shift_deep_links(page, app_url, size):
    open_sized(page, size, f"{app_url}/tokenizer?view={quote('How BPE builds a token')}&word={quote(' tokenization')}"
                           "&merges=60")
    page.get_by_text("merge rank").first.wait_for()
    assert page.get_by_text("Train your own BPE").count() == 1
    screenshot(page, f"inside-bpe-{size}")
    page.get_by_text("merge rank").first.scroll_into_view_if_needed()
    screenshot(page, f"inside-bpe-steps-{size}")
    page.get_by_text("Train your own BPE").scroll_into_view_if_needed()
    screenshot(page, f"inside-bpe-train-{size}")

    open_page(page, f"{app_url}/training-stages?prompt={quote('Write a letter about the weather.')}&tokens=2"
                    "&shift_model=pocket-lm-sft&complete=1")
    no_exception(page)
    heading = page.get_by_text("Which tokens did alignment change?")
    heading.wait_for()
    assert page.locator(".llmx-shift span").count() > 3
    answer = page.locator(".llmx-shift").first
    answer.scroll_into_view_if_needed()
    screenshot(page, f"inside-shift-{size}")
    page.get_by_text("Shifted ratio").first.scroll_into_view_if_needed()
    screenshot(page, f"inside-shift-metrics-{size}")
