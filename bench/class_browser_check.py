"""Cross-check of bench/class_load.py: a few real Chromium tabs move the temperature slider on /sampling, and
the same number of protocol students do the same, against one server in one run. If the protocol client
sends what a browser sends, the two latencies agree (the browser adds its own rendering on top).

    python bench/class_browser_check.py [--tabs 3] [--moves 10] [--gc on|off]

Browser latency: from the tab sending its rerun BackMsg until it receives that run's script_finished ForwardMsg
(frames read with Streamlit's protobufs, timed inside the page), the same definition the protocol client uses.
Last, the protocol client replays the tabs' own captured BackMsgs, to tell server work from browser work.
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
from class_load import ROOT, load_average, pct, streamlit_server
from st_client import Student, knob_release

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
# Timestamps of every websocket frame the tab sends and receives, in order, taken in the page itself.
STAMP = """(() => { window.__tx = []; window.__rx = []; const Native = window.WebSocket;
  window.WebSocket = function (...args) { const ws = new Native(...args);
    ws.addEventListener('message', () => window.__rx.push(performance.now()));
    const send = ws.send.bind(ws); ws.send = (d) => { window.__tx.push(performance.now()); send(d); }; return ws; };
  window.WebSocket.prototype = Native.prototype; Object.assign(window.WebSocket, Native); })()"""


CAPTURED: list[bytes] = []  # the tabs' fragment-rerun BackMsgs, replayed by the protocol client afterwards


def browser_moves(url: str, tabs: int, moves: int) -> list[float]:
    """Milliseconds from the tab sending a rerun to the tab receiving its script_finished: the frames are parsed
    with Streamlit's protobufs here (Playwright sees them in order) and timed in the page (same order)."""
    from playwright.sync_api import sync_playwright
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    out: list[float] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=chromium, headless=True, args=FLAGS,
                                                        viewport={"width": 1600, "height": 1000})
        context.add_init_script(STAMP)
        tabs_frames = []
        for _ in range(tabs):
            page = context.new_page()
            frames = {"tx": [], "rx": []}  # per frame: is it a rerun / a finished run

            def on_ws(ws, frames=frames):
                def sent(payload):
                    msg = BackMsg()
                    msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
                    frames["tx"].append(msg.WhichOneof("type") == "rerun_script")
                    if msg.WhichOneof("type") == "rerun_script" and msg.rerun_script.fragment_id:
                        CAPTURED.append(msg.SerializeToString())

                def received(payload):
                    fwd = ForwardMsg()
                    if isinstance(payload, bytes):
                        fwd.ParseFromString(payload)
                    frames["rx"].append(fwd.WhichOneof("type") == "script_finished"
                                        and fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN)
                ws.on("framesent", sent)
                ws.on("framereceived", received)

            page.on("websocket", on_ws)
            page.goto(f"{url}/sampling", timeout=120_000)
            page.wait_for_selector(IDLE, timeout=120_000)
            page.wait_for_selector(".kp input[type=range]", timeout=60_000)  # the knob panel
            tabs_frames.append((page, frames))
        for i in range(moves):
            for page, frames in tabs_frames:  # tabs take turns, as the protocol students below do
                page.bring_to_front()  # a background tab runs no animation frames, and the slider commits in one
                thumb = page.get_by_role("slider", name="Temperature (0 = greedy)")  # sends 300 ms after the key
                thumb.focus()
                tx0, done0 = len(frames["tx"]), sum(frames["rx"])
                thumb.press("ArrowLeft" if i % 2 else "ArrowRight")
                deadline = time.time() + 60
                while sum(frames["rx"]) <= done0 and time.time() < deadline:
                    page.wait_for_timeout(20)
                page.wait_for_timeout(50)
                tx, rx = page.evaluate("[window.__tx, window.__rx]")
                sends = [k for k, is_rerun in enumerate(frames["tx"]) if is_rerun and k >= tx0]
                ends = [k for k, fin in enumerate(frames["rx"]) if fin]
                if sends and len(ends) > done0 and len(tx) == len(frames["tx"]) and len(rx) >= ends[done0] + 1:
                    out.append(rx[ends[done0]] - tx[sends[0]])
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
            out.append((await s.set("sk_panel", knob_release(temperature=1.05 if i % 2 else 0.95))).seconds * 1e3)
    for s in students:
        await s.close()
    return out


async def replay_browser(url: str, moves: int) -> list[float]:
    """The protocol client sends a tab's own captured rerun BackMsg (all of its widget values): if this costs what
    the client's own reruns cost, the server does the same work for both and any gap is the browser's."""
    from st_client import RunResult

    s = Student(url.replace("http", "ws", 1), "sampling")
    await s.open()
    out = []
    for i in range(moves):
        t0 = time.perf_counter()
        await s.ws.send(CAPTURED[i % len(CAPTURED)])
        await s._read_until_finished(RunResult(0.0, 0, [], []), t0)
        out.append((time.perf_counter() - t0) * 1e3)
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
                          ("protocol client", lambda: asyncio.run(protocol_moves(url, args.tabs, args.moves))),
                          ("browser's msgs", lambda: asyncio.run(replay_browser(url, args.tabs * args.moves)))):
            t0 = time.perf_counter()
            ms = fn()
            print(f"{label:<16} {args.tabs} tabs x {args.moves} moves: p50 {statistics.median(ms):6.0f} ms  "
                  f"p95 {pct(ms, .95):6.0f} ms  ({time.perf_counter() - t0:.0f} s, load {load_average()})", flush=True)


if __name__ == "__main__":
    main()
