"""A real Streamlit server and headless Debian Chromium, driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, need_program, need_shared

SCREENSHOTS = ROOT / "screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
# React's placeholders while an element's code loads (lazy chunks): a run can end before they are replaced.
LOADING = "[data-testid=stSkeleton], [data-testid=stAppSkeleton]"
SIDEBAR_OPEN = "[data-testid=stSidebar][data-collapsed=false]"  # Streamlit 1.67 marks it so (no aria-expanded)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(extra_env: dict[str, str] | None = None,
                 app: str | Path = "streamlit_app.py") -> tuple[subprocess.Popen, str, Path]:
    """Run `app` (a path from the repository root) in a Streamlit server of its own; wait until it is healthy."""
    port = _free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"streamlit-{port}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
         "--server.fileWatcherType=none"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, log
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"streamlit did not start; log:\n{log.read_text()}")


def serve(extra_env: dict[str, str] | None = None):
    """A fixture body: a server of our own for the fixture's scope, stopped afterwards."""
    need_shared()
    proc, url, _ = start_server(extra_env)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def app_url():
    yield from serve()


def serve_with_own_game_store(tmp_path_factory):
    """A fixture body: a server whose game store (a fresh SQLite file) no other test's rounds touch."""
    yield from serve({"LLMX_GAME_STORE": str(tmp_path_factory.mktemp("game") / "game.sqlite3")})


def chromium_path() -> str:
    return need_program("chromium", "/usr/bin/chromium", ".ci/run must apt-get install chromium")


@pytest.fixture(scope="session")
def playwright():
    """One Playwright per test session (the sync API allows only one at a time)."""
    chromium_path()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def browser(playwright, tmp_path_factory):
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=chromium_path(), headless=True,
        args=CHROMIUM_FLAGS, viewport={"width": 1600, "height": 1000})
    yield context
    context.close()


@pytest.fixture
def page(browser):
    p = browser.new_page()
    p.set_default_timeout(60_000)
    yield p
    p.close()


def wait_idle(page, settle: float = 0.5) -> None:
    """Wait until the script has finished running and stays finished for `settle` seconds (a first run may be
    followed by another); after six tries, at least until it is finished, never in the middle of a run. Then until
    every element's code has loaded (no placeholder left), as a user sees the page."""
    for _ in range(6):
        page.wait_for_selector(IDLE, timeout=90_000)
        time.sleep(settle)
        if page.query_selector(IDLE):
            break
    else:
        page.wait_for_selector(IDLE, timeout=90_000)
    page.wait_for_selector(LOADING, state="detached", timeout=60_000)


# Every Plotly chart has drawn at its container's current width: Plotly lays out after the script has ended and
# again after a resize, so a screenshot or a count waits for this, not for a fixed time.
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].every(c => {
    const plot = c.querySelector('.js-plotly-plot');
    return plot && plot._fullLayout && plot.querySelector('.main-svg')
        && Math.abs(plot._fullLayout.width - plot.clientWidth) < 2;
})"""


def wait_charts_drawn(page, timeout_ms: int = 30_000) -> None:
    """Wait (Playwright's own polling, no fixed sleep) until every chart on the page is drawn at its width."""
    page.wait_for_function(CHARTS_DRAWN, timeout=timeout_ms)


def open_page(page, url: str) -> None:
    page.goto(url)
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_exception(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, page.locator("[data-testid=stException]").first.inner_text()
