"""The README's screenshot, made from the running app: starts `streamlit run streamlit_app.py` on a free loopback
port, opens one page in headless Chromium, waits until the script has finished and every chart is drawn, saves
the PNG, and stops the server.

    .venv/bin/python docs/screenshot.py                      # docs/next-token.png, 1600 x 1000
    .venv/bin/python docs/screenshot.py --path "/sampling?temperature=0.7" --out docs/sampling.png

Needs Debian's chromium (CHROMIUM=... for another binary) and Playwright's Python package (requirements-dev.txt).
Look at the picture before committing it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a"
DEFAULT_PATH = f"/next-token?prompt={quote(PROMPT)}"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
# Every Plotly chart on the page has drawn at its container's width (Plotly lays out after the script has ended).
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].every(c => {
    const plot = c.querySelector('.js-plotly-plot');
    return plot && plot._fullLayout && Math.abs(plot._fullLayout.width - plot.clientWidth) < 2
        && plot.querySelector('.main-svg');
})"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
         "--server.fileWatcherType=none", "--client.toolbarMode=minimal"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the app did not start (run `make run` to see why)") from None
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not answer /_stcore/health within 120 s")


def shoot(url: str, out: Path, width: int, height: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        page.wait_for_selector(IDLE, timeout=180_000)
        page.wait_for_selector("[data-testid=stPlotlyChart] .main-svg", timeout=180_000)
        page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
        page.wait_for_selector(IDLE, timeout=180_000)
        page.screenshot(path=str(out))
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default=DEFAULT_PATH, help="the page and its query (default: /next-token, a prompt)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "next-token.png", help="the PNG to write")
    parser.add_argument("--size", default="1600x1000", help="the browser window, WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    port = free_port()
    proc = start_app(port)
    try:
        shoot(f"http://127.0.0.1:{port}{args.path}", args.out, width, height)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
