"""The knob panel in a real browser: the distribution moves while a knob is dragged, and the server hears of it
only on release; by keyboard with its ARIA slider semantics; on a phone, the knob and the bars in one screen."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS, no_exception, open_page, wait_idle

pytestmark = pytest.mark.e2e

PROMPT = "She opened the door and"
TEMPERATURE = "Temperature (0 = greedy)"

# Every distinct reshaped-bar text the panel draws, recorded in the page as it happens.
WATCH_JS = """(panel) => {
  window.drawnShapes = new Set();
  const snap = () => panel.querySelectorAll('.kp-after-num').length &&
    window.drawnShapes.add([...panel.querySelectorAll('.kp-after-num')].map((n) => n.textContent).join('|'));
  new MutationObserver(snap).observe(panel, {subtree: true, childList: true, characterData: true});
}"""


def sent_frames(page) -> list:
    """Websocket frames the page sends to the server, recorded from before the page opens."""
    frames: list = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(payload)))
    return frames


def panel(page):
    return page.locator(".kp")


def after_values(page) -> list[str]:
    return panel(page).locator(".kp-after-num").all_inner_texts()


def metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]").filter(has_text=label)
    return box.locator("[data-testid=stMetricValue]").inner_text()


def test_dragging_temperature_redraws_live_and_sends_only_on_release(page, app_url):
    frames = sent_frames(page)
    open_page(page, f"{app_url}/sampling?prompt={quote(PROMPT)}")
    no_exception(page)
    expect(panel(page).locator(".kp-after-num").first).to_be_visible()
    entropy_before = metric(page, "Entropy (nats)")
    panel(page).evaluate(WATCH_JS)
    slider = page.get_by_role("slider", name=TEMPERATURE)
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    x0 = box["x"] + box["width"] / 3  # the thumb at 1.0 of 0..3
    shots = SCREENSHOTS / "drag"
    shots.mkdir(parents=True, exist_ok=True)
    before = len(frames)
    page.mouse.move(x0, y)
    page.mouse.down()
    for step in range(1, 21):  # to about 0.3, one pointer move at a time
        page.mouse.move(x0 - step * (x0 - box["x"] - box["width"] * 0.1) / 20, y)
        if step % 5 == 0:
            panel(page).screenshot(path=str(shots / f"drag-{step:02d}.png"))
    page.wait_for_function("window.drawnShapes.size >= 6")
    assert len(frames) == before, "the page sent the server a message during the drag"
    drawn = page.evaluate("window.drawnShapes.size")
    released_at = float(slider.get_attribute("aria-valuenow"))
    assert 0.1 < released_at < 0.6
    page.mouse.up()
    expect(page).to_have_url(re.compile(rf"temperature={released_at}(&|$)"))
    wait_idle(page)
    assert len(frames) > before
    assert drawn >= 6  # the first shape plus at least five redraws before release
    assert float(metric(page, "Entropy (nats)")) < float(entropy_before)
    no_exception(page)
    panel(page).screenshot(path=str(shots / "drag-released.png"))
