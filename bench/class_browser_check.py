"""Cross-check of bench/class_load.py: a few real Chromium tabs move the temperature slider on /sampling, and
the same number of protocol students do the same, against one server in one run. If the protocol client
sends what a browser sends, the two latencies agree (the browser adds its own rendering on top).

    python bench/class_browser_check.py [--tabs 3] [--moves 10] [--gc on|off]

Browser latency: from the key press (performance.now() in the tab) until the app's script state goes back
to notRunning after a run, seen by a MutationObserver in the page.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from class_load import ROOT, load_average, pct, streamlit_server  # noqa: E402
from st_client import Student  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
WATCH = """() => { window.__runs = []; const app = document.querySelector('[data-testid=stApp]'); let running = false;
  new MutationObserver(() => { const s = app.getAttribute('data-test-script-state');
    if (s === 'running') running = true; else if (running) { running = false; window.__runs.push(performance.now()); } })
  .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"""


def browser_moves(url: str, tabs: int, moves: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    out: list[float] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True, args=FLAGS,
                                                        viewport={"width": 1600, "height": 1000})
        pages = []
        for _ in range(tabs):
            page = context.new_page()
            page.goto(f"{url}/sampling", timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            page.wait_for_selector("[data-testid=stSlider]", timeout=60_000)
            page.evaluate(WATCH)
            pages.append(page)
        for i in range(moves):
            for page in pages:  # tabs take turns, as the protocol students below do
                thumb = page.locator("[data-testid=stSlider]").filter(has_text="Temperature").locator("input[type=range]")
                thumb.focus()
                done = page.evaluate("window.__runs.length")
                t0 = page.evaluate("performance.now()")
                thumb.press("ArrowLeft" if i % 2 else "ArrowRight")
                page.wait_for_function(f"window.__runs.length > {done}", timeout=60_000)
                out.append(page.evaluate(f"window.__runs[{done}]") - t0)
        context.close()
    return out


async def protocol_moves(url: str, tabs: int, moves: int) -> list[float]:
    ws = url.replace("http", "ws", 1)
    students = [Student(ws, "sampling") for _ in range(tabs)]
    for s in students:
        await s.open()
    out = []
    for i in range(moves):
        for s in students:
            out.append((await s.set("sk_temperature", 1.05 if i % 2 else 0.95)).seconds * 1e3)
    for s in students:
        await s.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tabs", type=int, default=3)
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--gc", choices=["on", "off"], default="off")
    args = parser.parse_args()
    with streamlit_server(ROOT, args.gc == "on", {}) as (url, _pid):
        asyncio.run(protocol_moves(url, 1, 2))  # load the model first
        for label, fn in (("protocol client", lambda: asyncio.run(protocol_moves(url, args.tabs, args.moves))),
                          ("Chromium tabs", lambda: browser_moves(url, args.tabs, args.moves)),
                          ("protocol client", lambda: asyncio.run(protocol_moves(url, args.tabs, args.moves)))):
            t0 = time.perf_counter()
            ms = fn()
            print(f"{label:<16} {args.tabs} tabs x {args.moves} moves: p50 {statistics.median(ms):6.0f} ms  "
                  f"p95 {pct(ms, .95):6.0f} ms  ({time.perf_counter() - t0:.0f} s, load {load_average()})", flush=True)


if __name__ == "__main__":
    main()
