"""The Lecture page in a real browser, as a lecturer gives it: every step in presentation mode at 1280x720 and
1920x1080 fits the screen, Next is clickable, and the keys a presenter uses move the step after a click into the
figure; plus a shared link and a model prepared beforehand, offline."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from components.sections.lecture_view import available_models
from lib.models import registry_models
from lib.models.hub import locally_available
from lib.teaching import lecture as L
from tests.conftest import GPT2_TOKENIZER, ROOT, TIKTOKEN_CACHE, need_shared
from tests.e2e.conftest import SIDEBAR_OPEN, no_exception, open_page, screenshot, start_server, wait_idle
from tests.loopback_hub import LoopbackHub, tiktoken_blobs, tiny_gpt2_repo

pytestmark = pytest.mark.e2e
COUNTER = ".st-key-lecture_counter"
FIGURE = ".st-key-lecture_figure"
SLACK = 2  # px of rounding

# Where the screen stands: page and frame heights against the window, how far the figure's content reaches past
# its box (a leaf's bottom), the zoom-to-fit net (unset when the step fits by itself), and what is under Next's centre.
MEASURE = """() => {
  const box = document.querySelector('.st-key-lecture_figure');
  const inner = document.querySelector('.st-key-lecture_figure_inner');
  let bottom = 0;
  inner.querySelectorAll('*').forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && !el.children.length) bottom = Math.max(bottom, r.bottom);
  });
  let notesBottom = 0;  // the notes above the figure, never squeezed under it
  document.querySelectorAll('.st-key-lecture_notes *').forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && !el.children.length) notesBottom = Math.max(notesBottom, r.bottom);
  });
  const next = document.querySelector('.st-key-lecture_next button').getBoundingClientRect();
  const hit = document.elementFromPoint(next.x + next.width / 2, next.y + next.height / 2);
  return {scroll: document.documentElement.scrollHeight, window: innerHeight,
          frames: [...document.querySelectorAll('iframe')].map(f => {
            const d = f.contentDocument; return d ? [d.documentElement.scrollHeight, f.clientHeight] : [0, 0]; }),
          pageFrames: document.querySelectorAll('[data-testid=stMain] iframe').length,
          past: bottom - box.getBoundingClientRect().bottom, zoom: inner.style.zoom,
          notesOver: notesBottom - box.getBoundingClientRect().top,
          nextHit: !!(hit && hit.closest('.st-key-lecture_next')), text: inner.innerText.slice(0, 1500)};
}"""


def at_step(page, i: int) -> None:
    """Wait until step i (0-based) is on screen and its run has finished."""
    expect(page.locator(COUNTER)).to_contain_text(f"Step {i + 1} of {len(L.STEPS)}", timeout=90_000)
    wait_idle(page)
    assert f"step={L.STEPS[i].id}" in page.url, (i, page.url)


def check_fits(page, step: L.Step, size: str) -> None:
    try:  # the fit script runs on the next animation frame after the last change: let a transient zoom clear
        page.wait_for_function("!(document.querySelector('.st-key-lecture_figure_inner') || {style: {}}).style.zoom",
                               timeout=5_000)
    except PlaywrightTimeout:
        pass  # a zoom that stays is reported below
    m = page.evaluate(MEASURE)
    where = (step.id, size, m)
    assert m["scroll"] <= m["window"] + SLACK, where  # the page needs no scrolling
    assert all(height <= room + SLACK for height, room in m["frames"]), where  # nor any frame inside it
    assert m["pageFrames"] == 0, where  # a step is a view, not a page in a frame
    assert m["past"] <= SLACK and not m["zoom"], where  # nothing cut off, and the step fits without the zoom net
    assert m["notesOver"] <= SLACK, where  # the notes end above the figure
    assert m["nextHit"] or step is L.STEPS[-1], where  # Next's centre is Next, not a strip over it


def click_figure(page) -> None:
    """The lecturer clicks into the step's figure (its centre: a chart, chips or an answer), not on a control."""
    box = page.locator(FIGURE).bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)


@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080)])
def test_every_step_fits_the_screen_and_moves_by_presenter_keys(page, app_url, width, height):
    """Each step at projector size: no scrolling, Next clickable, and after a click into the figure, → and
    PageDown (a clicker) each move to the next step, alternately; then PageUp, Home and End."""
    page.set_viewport_size({"width": width, "height": height})
    open_page(page, f"{app_url}/lecture?step=1&present=1")
    for i, step in enumerate(L.STEPS):
        at_step(page, i)
        no_exception(page)
        check_fits(page, step, f"{width}x{height}")
        if i < len(L.STEPS) - 1:
            click_figure(page)
            page.keyboard.press("ArrowRight" if i % 2 == 0 else "PageDown")
    page.keyboard.press("PageUp")
    at_step(page, len(L.STEPS) - 2)
    page.keyboard.press("Home")
    at_step(page, 0)
    page.keyboard.press("End")
    at_step(page, len(L.STEPS) - 1)


def test_keys_leave_text_boxes_and_sliders_alone(page, app_url):
    """A focused slider keeps its arrows while PageDown still moves; keys typed in a text box stay there. Each
    check ends one step on, never two: a key that moved the step as well would end a step further."""
    page.set_viewport_size({"width": 1280, "height": 720})
    i = [s.id for s in L.STEPS].index("playground")
    open_page(page, f"{app_url}/lecture?step={L.STEPS[i].id}&present=1")
    at_step(page, i)
    slider = page.locator(f"{FIGURE} input[type=range]").first
    before = slider.get_attribute("aria-valuetext")
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(slider).not_to_have_attribute("aria-valuetext", before)
    wait_idle(page)
    page.locator(f"{FIGURE} input[type=range]").first.focus()
    page.keyboard.press("PageDown")
    at_step(page, i + 1)
    open_page(page, f"{app_url}/lecture?step={L.STEPS[i].id}&present=0")  # the prepare panel in the main area
    at_step(page, i)
    page.get_by_text("Prepare this machine for a lecture").click()
    box = page.locator("[data-testid=stMultiSelect] input").first
    box.focus()
    for key in ("ArrowRight", "PageDown", "End"):
        page.keyboard.press(key)
    page.locator(COUNTER).click()  # out of the text box: now the keys are the presenter's again
    page.keyboard.press("ArrowRight")
    at_step(page, i + 1)




def test_presentation_starts_with_the_sidebar_closed_after_the_lecturer_opened_it(page, app_url):
    """Streamlit remembers an opened sidebar in the browser: a lecturer who opened it once (to start a game round,
    say) must still present with it closed, or every step is squeezed beside it."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_page(page, f"{app_url}/lecture?step=1&present=0")
    if page.locator(SIDEBAR_OPEN).count():  # open by default on a wide screen: only a click is remembered
        page.locator("[data-testid=stSidebar]").hover()  # its collapse button shows on hover
        page.locator("[data-testid=stSidebarCollapseButton] button").click()
        expect(page.locator(SIDEBAR_OPEN)).to_have_count(0)
    page.locator("[data-testid=stExpandSidebarButton]").click()
    expect(page.locator(SIDEBAR_OPEN)).to_have_count(1)
    open_page(page, f"{app_url}/lecture?step=greedy-vs-sampled&present=1")
    expect(page.locator(SIDEBAR_OPEN)).to_have_count(0)
    at_step(page, 1)
    check_fits(page, L.STEPS[1], "1280x720")


# A style sheet adopted by the document changes the layout without changing the DOM, as a late font does.
RESTYLE = """big => { const sheet = new CSSStyleSheet();
  sheet.replaceSync(big ? '.st-key-lecture_figure .ts-data { font-size: 3rem !important; }' : '');
  document.adoptedStyleSheets = [sheet]; }"""
ZOOM = "() => document.querySelector('.st-key-lecture_figure_inner').style.zoom"


def test_the_zoom_net_follows_a_layout_change_the_dom_does_not_announce(page, app_url):
    """A font that arrives after the step is drawn rewraps its text without a DOM change: the zoom-to-fit net
    must follow such a change both ways (it once kept a zoom of 0.82 after the text had shrunk back)."""
    page.set_viewport_size({"width": 1280, "height": 720})
    i = [s.id for s in L.STEPS].index("preference-tuning")
    open_page(page, f"{app_url}/lecture?step={L.STEPS[i].id}&present=1")
    at_step(page, i)
    assert not page.evaluate(ZOOM)
    page.evaluate(RESTYLE, True)
    page.wait_for_function(f"({ZOOM})() !== ''", timeout=10_000)  # grown: the net shrinks it to fit
    assert page.evaluate(MEASURE)["past"] <= SLACK
    page.evaluate(RESTYLE, False)
    page.wait_for_function(f"({ZOOM})() === ''", timeout=10_000)  # back to its size: no zoom left behind


def test_tokens_and_decode_steps_show_the_lectures_split(page, app_url):
    """The oracle is tiktoken's split, asserted in tests/unit/test_lecture.py; here: the chips on screen."""
    page.set_viewport_size({"width": 1920, "height": 1080})
    open_page(page, f"{app_url}/lecture?step=tokens&present=1")
    chips = page.locator(f"{FIGURE} .tv")
    expect(chips).to_have_count(4)
    assert [c.replace("·", " ") for c in chips.all_inner_texts()] == ["They", " are", " spl", "ashing"]
    for k, token_id in enumerate((2990, 389, 4328, 2140)):  # each chip's hover text names its id
        assert str(token_id) in chips.nth(k).get_attribute("title")
    screenshot(page, "lecture-tokens-1920")
    open_page(page, f"{app_url}/lecture?step=decode&present=1")
    expect(page.locator(f"{FIGURE} [data-testid=stCode]")).to_have_text("They are splashing")
    assert [c.replace("·", " ") for c in page.locator(f"{FIGURE} .tv").all_inner_texts()] == [
        "They", " are", " spl", "ashing"]


def test_a_shared_link_opens_its_step_with_the_model_it_names(page, app_url):
    open_page(page, f"{app_url}/lecture?step=hitchcock")
    step = L.BY_ID["hitchcock"]
    params = L.step_params(step, available_models())
    expect(page.locator(COUNTER)).to_contain_text(step.title)
    expect(page.locator(f"{FIGURE} .gtitle")).to_contain_text(params["model"])  # the chart names its model
    link = page.get_by_role("link", name="Open the full page")
    assert link.get_attribute("href").endswith(L.link(step.page, params))
    no_exception(page)


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_ENDPOINT")}, **extra}


def test_prepared_model_is_used_offline(page, tmp_path):
    """Prepare gpt2 through a loopback hub, stop it, restart the app offline: the Hitchcock step uses that model
    (or the model the step names, when this machine has that one outside the hub cache) and asks the (counting)
    hub endpoint for nothing."""
    need_shared()
    named = dict(L.BY_ID["hitchcock"].params).get("model")
    expected = named if named and named in registry_models.MODELS and locally_available(named) else (
        "openai-community/gpt2")
    hf_home = tmp_path / "hf"
    repo = tiny_gpt2_repo(tmp_path / "repo", GPT2_TOKENIZER)
    with LoopbackHub({"openai-community/gpt2": repo}, tiktoken_blobs(TIKTOKEN_CACHE)) as hub:
        run = subprocess.run([sys.executable, "-m", "lib.prepare", "gpt2"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=_env(HF_ENDPOINT=hub.url, HF_HOME=str(hf_home),
                                                   TIKTOKEN_CACHE_DIR=str(tmp_path / "tk"), LLMX_TIKTOKEN_BASE_URL=hub.url))
    assert "ok  model openai-community/gpt2" in run.stdout, run.stdout + run.stderr
    with LoopbackHub() as watcher:  # the app's hub endpoint: it must receive no request at all
        proc, url, log = start_server({"HF_HOME": str(hf_home), "HF_ENDPOINT": watcher.url})
        try:
            page.set_viewport_size({"width": 1920, "height": 1080})
            open_page(page, f"{url}/lecture?step=hitchcock&present=1")
            notes = page.locator("[data-testid=stMain]").inner_text()
            assert expected in notes and "the bundled one" not in notes
            no_exception(page)
            # the chart's title names the model that drew it; a fallback would say "... instead" above it
            expect(page.locator(f"{FIGURE} .gtitle")).to_contain_text(expected)
            assert "instead" not in page.locator(FIGURE).inner_text()
            screenshot(page, "lecture-hitchcock-prepared")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        assert watcher.requests == []
