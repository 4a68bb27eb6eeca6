"""The Training-stages page in headless Chromium: the story, the bundled family side by side, and a live fine-tune."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import no_exception, open_page, screenshot, wait_charts_drawn, wait_idle

pytestmark = pytest.mark.e2e

PROBE = "Is this sentence happy or sad?\nThe schoolmaster beamed with pleasure at the letter."


def tall_screenshot(page, name: str, height: int = 3200) -> None:
    """Streamlit scrolls inside its own container, so a full-page shot needs a tall viewport."""
    assert page.get_by_text("Page not found").count() == 0
    page.set_viewport_size({"width": 1600, "height": height})
    wait_charts_drawn(page)  # plotly re-lays out after a resize
    screenshot(page, name)
    page.set_viewport_size({"width": 1600, "height": 1000})


def test_bundled_family_side_by_side(page, app_url):
    open_page(page, f"{app_url}/training-stages?" + urlencode({"family": "pocket-lm", "prompt": PROBE,
                                                              "expected": "It is happy.", "tokens": 12}))
    no_exception(page)
    headers = page.locator("[data-testid=stHeadingWithActionElements] h3").all_inner_texts()
    assert [h for h in headers if h in ("Base", "SFT", "DPO")] == ["Base", "SFT", "DPO"]
    charts = page.locator("[data-testid=stPlotlyChart]")
    charts.nth(2).wait_for(timeout=30_000)  # Plotly's frontend mounts after the script has finished
    assert charts.count() == 3
    assert page.get_by_text("<|im_start|>").count() >= 2  # the chat checkpoints show their template tokens
    assert page.get_by_text("Measures, stage by stage").count() == 1
    tall_screenshot(page, "training-stages-side-by-side", 3600)


def test_story_diagram_switches_stage(page, app_url):
    open_page(page, f"{app_url}/training-stages?stage=sft&prompt=%20")
    page.locator("[data-testid=stButtonGroup] button", has_text="3. Preference tuning").click()
    wait_idle(page)
    assert page.get_by_text("REJECTED").count() == 1
    assert "stage=preference" in page.url
    no_exception(page)
    tall_screenshot(page, "training-stages-story", 1400)


def test_hub_family_offline_says_so(page, app_url):
    open_page(page, f"{app_url}/training-stages?family=olmo-2-1b&prompt=What%20is%20the%20capital%20of%20France%3F")
    assert page.get_by_text("Not available").count() == 4
    no_exception(page)
    tall_screenshot(page, "training-stages-offline-hub", 2000)


def test_live_fine_tune(page, app_url):
    open_page(page, f"{app_url}/training-stages?family=pocket-lm&prompt=Hello&tokens=4")
    page.get_by_role("button", name="▶ Fine-tune live (about 30 steps)").click()
    page.get_by_text("Done: 30 steps").wait_for(timeout=180_000)
    wait_idle(page)
    assert page.get_by_text("Before fine-tuning").count() >= 1
    no_exception(page)
    tall_screenshot(page, "training-stages-live", 4200)
