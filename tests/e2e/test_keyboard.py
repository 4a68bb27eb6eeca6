"""The keyboard alone: a lecture step change, a slider change and a game guess, each with a visible focus, and
Streamlit's single-key shortcuts (r: rerun, c: clear caches) doing nothing while a presenter is on a page."""

from __future__ import annotations

import pytest

from lib.teaching import lecture as L
from tests.e2e.conftest import open_page, serve_with_own_game_store, wait_idle

pytestmark = pytest.mark.e2e
MAX_TABS = 80

FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const box = el.getBoundingClientRect();
  return {text: (el.innerText || el.getAttribute('aria-label') || '').trim(), role: el.getAttribute('role'),
          tag: el.tagName, label: (el.closest('[data-testid=stSlider], [data-testid=stTextInput]') || {}).innerText || '',
          shown: box.width > 0 && box.height > 0};
}"""
# A focus indicator is visible when the focused element or one of its near ancestors looks different focused and
# blurred (outline, box shadow or border colour; Streamlit's inputs mark focus on their wrapper, a render later).
FOCUS_SHOWS = """async () => {
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const el = document.activeElement, chain = [];
  for (let e = el, i = 0; e && i < 5; e = e.parentElement, i++) chain.push(e);
  const look = () => chain.map(e => { const s = getComputedStyle(e);
    return [s.outlineStyle === 'none' ? '' : s.outlineStyle + s.outlineWidth + s.outlineColor, s.boxShadow,
            s.borderTopColor, s.borderBottomColor].join('|'); });
  const still = document.head.appendChild(document.createElement('style'));  // no transitions while comparing
  still.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
  const focused = look(); el.blur(); await frames();  // React widgets restyle on their next render
  const blurred = look(); el.focus({focusVisible: true}); await frames();
  still.remove();
  return focused.some((f, i) => f !== blurred[i]);
}"""


@pytest.fixture(scope="module")
def kb_url(tmp_path_factory):
    yield from serve_with_own_game_store(tmp_path_factory)


def tab_to(page, wanted, what: str) -> dict:
    """Press Tab until `wanted(focus)` holds; the focused element must show its focus. A rerun that redraws the
    page moves focus back to the start, so the count starts again once the page is idle."""
    for n in range(2 * MAX_TABS):
        if n == MAX_TABS:
            wait_idle(page)
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus and wanted(focus):
            assert focus["shown"], (what, focus)
            assert page.evaluate(FOCUS_SHOWS), f"{what}: focus is not visible"
            return focus
    raise AssertionError(f"{what}: not reached with {2 * MAX_TABS} presses of Tab")


def after_two_frames(page) -> None:
    """Let the page render what a key press started (React commits within a frame or two)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_lecture_step_by_keyboard_and_no_streamlit_shortcuts(page, kb_url):
    page.set_viewport_size({"width": 1280, "height": 720})
    open_page(page, f"{kb_url}/lecture?step={L.STEPS[0].id}&present=1")
    page.evaluate("""() => { window.__runs = 0; new MutationObserver(() => {
        if (document.querySelector('[data-testid=stApp]').dataset.testScriptState === 'running') window.__runs++; })
      .observe(document.querySelector('[data-testid=stApp]'), {attributes: true}); }""")
    for key in ("c", "r", "C", "R"):  # a presenter's stray keys: no clear-cache dialog, no rerun
        page.keyboard.press(key)
        after_two_frames(page)
    assert page.locator("[role=dialog]").count() == 0, "a Streamlit shortcut opened a dialog"
    assert page.evaluate("() => window.__runs") == 0, "a Streamlit shortcut reran the script"
    tab_to(page, lambda f: f["tag"] == "BUTTON" and f["text"].startswith("Next"), "the Next button")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**step={L.STEPS[1].id}**")
    wait_idle(page)


def test_slider_by_keyboard(page, kb_url):
    page.set_viewport_size({"width": 1280, "height": 900})
    open_page(page, f"{kb_url}/inside?view=attention&layer=1")
    tab_to(page, lambda f: f["tag"] == "INPUT" and f["text"] == "Layer", "the layer slider")
    page.keyboard.press("ArrowRight")
    page.wait_for_url("**layer=2**")
    wait_idle(page)
    assert "Layer 2, head" in page.locator("[data-testid=stMain]").inner_text()


def test_game_guess_by_keyboard(browser, kb_url):
    from tests.e2e.test_game import start_round  # the lecturer's side is tested there, with the mouse

    lecturer = browser.new_page()
    lecturer.set_default_timeout(60_000)
    open_page(lecturer, f"{kb_url}/game")
    link = start_round(lecturer)
    student = browser.new_page()
    student.set_default_timeout(60_000)
    student.set_viewport_size({"width": 390, "height": 844})
    open_page(student, link)
    tab_to(student, lambda f: f["tag"] == "INPUT" and "Your guess" in f["label"], "the guess box")
    student.keyboard.type("wife")
    student.keyboard.press("Enter")
    student.locator(".play-received").filter(has_text="wife").wait_for()
    lecturer.locator('table.gh tr[data-word="wife"][data-count="1"]').wait_for(timeout=30_000)
    lecturer.close()
    student.close()
