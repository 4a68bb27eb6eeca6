"""The Lecture page in a real browser, offline: every step, the keyboard, and a model prepared beforehand."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from lib.teaching import lecture as L
from lib.models.catalog import entry_for
from tests.conftest import GPT2_TOKENIZER, ROOT, TIKTOKEN_CACHE, need_shared
from tests.e2e.conftest import IDLE, no_exception, open_page, screenshot, start_server, wait_idle
from tests.loopback_hub import LoopbackHub, tiktoken_blobs, tiny_gpt2_repo

pytestmark = pytest.mark.e2e
FRAME = "[data-testid=stMain] iframe"


def embedded(page):
    """The step's page inside the Lecture page, once its own script has finished."""
    page.wait_for_selector(FRAME)
    frame = page.frame_locator(FRAME).first
    frame.locator(IDLE).wait_for(timeout=120_000)
    time.sleep(0.5)
    frame.locator(IDLE).wait_for(timeout=120_000)
    return frame


def no_exception_inside(frame) -> None:
    errors = frame.locator("[data-testid=stException]")
    assert errors.count() == 0, errors.first.inner_text()


def test_walk_every_step_with_the_keyboard(page, app_url):
    page.set_viewport_size({"width": 1920, "height": 1080})
    open_page(page, f"{app_url}/lecture?step=1")
    for i, step in enumerate(L.STEPS):
        assert f"step={step.id}" in page.url, (i, page.url)
        assert page.get_by_text(f"Step {i + 1} of {len(L.STEPS)}").count() == 1
        frame = embedded(page)
        no_exception(page)
        no_exception_inside(frame)
        if step.id == "tokens":
            chips = frame.locator(".tv")
            assert [c.replace("·", " ") for c in chips.all_inner_texts()] == ["They", " are", " spl", "ashing"]
            for k, token_id in enumerate((2990, 389, 4328, 2140)):  # each chip's hover text names its id
                assert str(token_id) in chips.nth(k).get_attribute("title")
            screenshot(page, "lecture-tokens-1920")
        if step.id == "decode":
            assert frame.get_by_label("Token ids (spaces or commas between them)").input_value() == "2990, 389, 4328, 2140"
            assert frame.locator("[data-testid=stCode]").last.inner_text().strip() == "They are splashing"
            chips = [c.replace("·", " ") for c in frame.locator(".tv").all_inner_texts()]
            assert chips == ["They", " are", " spl", "ashing"]
        if i < len(L.STEPS) - 1:
            page.locator("h3").first.click()  # focus the lecture page, not the embedded one
            page.keyboard.press("ArrowRight")
            page.wait_for_url(f"**step={L.STEPS[i + 1].id}**")
            wait_idle(page)
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**step={L.STEPS[-2].id}**")


def test_a_shared_link_opens_its_step(page, app_url):
    open_page(page, f"{app_url}/lecture?step=hitchcock")
    assert "Pretraining teaches facts" in page.locator("h3").first.inner_text()
    assert "Only the bundled model is on this machine" in page.locator("[data-testid=stMain]").inner_text()
    frame = embedded(page)
    assert "Alfred" in frame.locator("textarea").first.input_value()


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_ENDPOINT")}, **extra}


def test_prepared_model_is_used_offline(page, tmp_path):
    """Prepare gpt2 through a loopback hub, stop it, restart the app offline: the Hitchcock step uses that model
    and asks the (counting) hub endpoint for nothing."""
    need_shared()
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
            open_page(page, f"{url}/lecture?step=hitchcock")
            notes = page.locator("[data-testid=stMain]").inner_text()
            assert "openai-community/gpt2" in notes and "Only the bundled model" not in notes
            frame = embedded(page)
            no_exception_inside(frame)
            inside = frame.locator("body").text_content()
            # the sidebar's caption is the picked model's catalog description; a fallback would warn "... instead"
            assert entry_for("openai-community/gpt2").description in inside and "instead" not in inside
            frame.locator("[data-testid=stPlotlyChart]").first.wait_for()
            screenshot(page, "lecture-hitchcock-prepared")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        assert watcher.requests == []
