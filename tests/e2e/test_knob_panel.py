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


def test_dragging_temperature_redraws_live_and_sends_only_on_release(page, app_url, browser):
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
    shown = after_values(page)
    link = browser.new_page()  # the deep link opens exactly this state
    try:
        open_page(link, page.url)
        expect(link.get_by_role("slider", name=TEMPERATURE)).to_have_attribute("aria-valuenow", f"{released_at:g}")
        expect(panel(link).locator(".kp-after-num")).to_have_text(shown)
    finally:
        link.close()


def test_keyboard_moves_a_knob_with_aria_values_a_live_summary_and_one_message(page, app_url):
    frames = sent_frames(page)
    open_page(page, f"{app_url}/sampling?prompt={quote(PROMPT)}&temperature=1.0")
    slider = page.get_by_role("slider", name=TEMPERATURE)
    expect(slider).to_have_attribute("aria-valuenow", "1")
    assert (slider.get_attribute("aria-valuemin"), slider.get_attribute("aria-valuemax")) == ("0", "3")
    summary = panel(page).locator("[aria-live=polite]")
    said = summary.inner_text()
    before = len(frames)
    slider.focus()
    for _ in range(4):
        slider.press("ArrowRight")  # 1.0 -> 1.2
    expect(slider).to_have_attribute("aria-valuenow", "1.2")
    expect(summary).not_to_have_text(said)
    expect(page).to_have_url(re.compile(r"temperature=1\.2(&|$)"))
    wait_idle(page)
    rerun_requests = len(frames) - before
    assert rerun_requests == 1, f"{rerun_requests} messages for one burst of keys"
    switch = page.get_by_role("switch", name="Top-k on")
    switch.focus()
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"top_k=10(&|$)"))
    wait_idle(page)
    expect(panel(page).locator(".kp-after-num").last).to_have_text("removed")  # nothing beyond the 10 shown
    no_exception(page)


def test_phone_shows_the_temperature_knob_and_five_probabilities_in_one_screen(page, app_url):
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, f"{app_url}/sampling?prompt={quote(PROMPT)}")
    slider = page.get_by_role("slider", name=TEMPERATURE)
    panel(page).locator(".kp-first").evaluate("(e) => e.scrollIntoView({block: 'start'})")  # scrolls to the knob
    figures = panel(page).locator(".kp-num")
    expect(figures.nth(9)).to_be_visible()
    knob = slider.bounding_box()
    fifth = panel(page).locator(".kp-after-num").nth(4).bounding_box()  # the 5th token's probability
    header = page.locator("[data-testid=stHeader]").bounding_box()
    assert header["y"] + header["height"] <= knob["y"] and fifth["y"] + fifth["height"] <= 844, (header, knob, fifth)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "knob-panel-phone.png"))


def panel_data(at) -> dict:
    import json

    [element] = at.get("bidi_component")
    return json.loads(element.proto.json)


def test_a_tab_gets_the_scores_once_and_again_when_it_asks():
    """The full scores travel with a tab's first run only; a rerun (a release) sends their digest; once the session
    forgets having sent them (the browser's "missing" trigger), the next run sends them again."""
    import base64

    import numpy as np

    from components.knob_panel import SENT
    from tests.app.apptest import open_page as open_app

    at = open_app("pages/sampling.py", prompt=PROMPT)
    first = panel_data(at)
    scores = np.frombuffer(base64.b64decode(first["scores"]), dtype="<f4")
    assert scores.size == 4096 and np.isfinite(scores).all()  # pocket-lm's vocabulary, as float32
    assert first["code"] and "function applyKnobs" in first["code"]  # the panel's code travels the same way
    at.run()
    again = panel_data(at)
    assert again["scores"] is None and again["code"] is None and again["id"] == first["id"]
    at.session_state[SENT] = {}  # what the panel's "missing" trigger leads to (its browser path: the next test)
    at.run()
    assert (panel_data(at)["scores"], panel_data(at)["code"]) == (first["scores"], first["code"])


@pytest.mark.parametrize("kept", ["window.llmxKnobScores", "window.llmxKnobPanelCode"])
def test_a_tab_that_lost_the_scores_or_the_code_asks_for_them_and_draws(page, app_url, kept):
    """The browser drops its kept scores (or the panel's code), then the panel is rebuilt (more tokens shown): it
    asks once and draws."""
    frames = sent_frames(page)
    open_page(page, f"{app_url}/sampling?prompt={quote(PROMPT)}")
    expect(panel(page).locator(".kp-after-num")).to_have_count(11)
    page.evaluate(f"{kept}.clear()")
    before = len(frames)
    shown = page.get_by_role("slider", name="Tokens shown")
    shown.focus()
    shown.press("ArrowRight")  # 10 -> 11: a page rerun with a new panel
    expect(panel(page).locator(".kp-after-num")).to_have_count(12)
    wait_idle(page)
    assert page.evaluate(f"{kept}.size") == 1
    assert len(frames) - before == 2  # the slider's rerun, then the panel's one request for the scores
    no_exception(page)


def test_released_values_from_a_client_are_checked():
    """What a mischievous client could send instead of the panel's values: one clear error, nothing stored."""
    from components.sections.knob_controls import parse_released

    for bad in ("hot", {"temperature": "hot"}, {"temperature": float("nan")}, {"temperature": True}, {}):
        with pytest.raises(ValueError):
            parse_released(bad)
    clamped = parse_released({"temperature": 99, "top_k": 7.6, "top_p": None})
    assert clamped["sk_temperature"] == 3.0 and clamped["sk_top_k"] == 8 and clamped["sk_top_p_on"] is False


def test_a_view_is_computed_once_per_key_for_every_session(monkeypatch):
    import components.knob_panel as kp

    monkeypatch.setattr(kp, "VIEWS", kp.ByteBoundedCache(2, size=lambda key, view: 1))  # room for two views
    calls: list[str] = []

    def view(name):
        return lambda: calls.append(name) or name

    assert [kp.shared_view(k, view(k)) for k in ("a", "a", "b", "a", "c", "b")] == ["a", "a", "b", "a", "c", "b"]
    assert calls == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came: only two are kept
