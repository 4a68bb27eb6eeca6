"""200 simulated students play one round through a real Streamlit server, with SQLite and with Redis.

Each student is one websocket speaking Streamlit's own protocol (BackMsg/ForwardMsg protobufs), like a
browser tab: it loads /play?round=…, then submits the guess form (text_input value + form-submit
trigger) at a random moment in a 10 s window. A lecturer socket opens /game with the round's code and
re-runs the live fragment whenever the server asks (auto_rerun), as the browser does.

Prints: submission latency (send -> script_finished) p50/p95, every guess stored exactly once, and
how long after the last submission the lecturer view showed all of them. The baseline in the same
run is one student submitting alone on the idle server.

    PYTHONPATH=. .venv/bin/python bench/bench_game.py [--students 200] [--window 10]
"""

from __future__ import annotations

import argparse
import os
import asyncio
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import ROOT  # noqa: F401  (sets sys.path and offline env)
from lib.classroom.store import open_store, new_code
from tests.e2e.conftest import start_server

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

PROMPT = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a"


class Session:
    """One browser tab's websocket session."""

    def __init__(self, base: str, page: str, query: str):
        self.ws_url = base.replace("http://", "ws://") + "/_stcore/stream"
        self.page, self.query = page, query
        self.widgets: dict[str, str] = {}      # label -> widget id
        self.fragments: dict[str, str] = {}    # label -> id of the fragment the widget is in ("" if none)
        self.markdown: list[str] = []
        self.finished = asyncio.Event()
        self.auto: tuple[float, str] | None = None
        self.on_markdown = None

    async def connect(self) -> None:
        import websockets

        self.ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=2 ** 26,
                                           open_timeout=120, ping_interval=None)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = ForwardMsg.FromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                t = el.WhichOneof("type")
                if t in ("text_input", "button"):
                    w = getattr(el, t)
                    self.widgets[w.label] = w.id
                    self.fragments[w.label] = msg.delta.fragment_id
                elif t == "markdown":
                    self.markdown.append(el.markdown.body)
                    if self.on_markdown:
                        self.on_markdown(el.markdown.body)
            elif kind == "script_finished":
                self.finished.set()
            elif kind == "auto_rerun":
                self.auto = (msg.auto_rerun.interval, msg.auto_rerun.fragment_id)

    async def rerun(self, states: list[WidgetState] = (), fragment_id: str = "", auto: bool = False) -> float:
        """Send one rerun (of a fragment only, as the browser does for a widget inside one);
        seconds until the server says the run finished."""
        back = BackMsg()
        cs = back.rerun_script
        cs.query_string, cs.page_name = self.query, self.page
        if fragment_id:
            cs.fragment_id, cs.is_auto_rerun = fragment_id, auto
        cs.widget_states.widgets.extend(states)
        self.finished.clear()
        t0 = time.perf_counter()
        await self.ws.send(back.SerializeToString())
        await asyncio.wait_for(self.finished.wait(), 120)
        return time.perf_counter() - t0

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def text(widget_id: str, value: str) -> WidgetState:
    return WidgetState(id=widget_id, string_value=value)


def trigger(widget_id: str) -> WidgetState:
    return WidgetState(id=widget_id, trigger_value=True)


async def student_session(base: str, round_id: str) -> Session:
    s = Session(base, "play", f"round={round_id}&me={secrets.token_hex(16)}")
    await s.connect()
    await s.rerun()
    return s


async def submit(s: Session, guess: str) -> float:
    label = "Your guess (one word)"
    return await s.rerun([text(s.widgets[label], guess), trigger(s.widgets["Send my guess"])], s.fragments[label])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), so the figure survives a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def play(base: str, store_url: str, n: int, window: float, pid: int) -> dict:
    store = open_store(store_url)
    code = new_code()
    r = store.create_round(PROMPT, code, true_word="wife", model="pocket-lm")
    # Lecturer: open /game, paste the code, then follow the server's auto-rerun requests for the live fragment.
    lect = Session(base, "game", "")
    await lect.connect()
    await lect.rerun()
    code_state = [text(lect.widgets["Use a code I already have"], code)]
    await lect.rerun(code_state)
    seen_all = asyncio.Event()
    want = f"**{n + 1}** guesses"  # the class plus the baseline student
    lect.on_markdown = lambda body: seen_all.set() if body.startswith(want) else None

    async def follow():
        while True:
            interval, fid = lect.auto or (2.0, "")
            await asyncio.sleep(interval)
            if fid:
                await lect.rerun(code_state, fragment_id=fid, auto=True)

    follower = asyncio.create_task(follow())
    # Baseline: one student alone on the idle server.
    solo = await student_session(base, r.id)
    baseline = statistics.median([await submit(solo, f"solo{i}") for i in range(3)])
    await solo.close()
    # The class: connect everyone first (page loads are not timed), then submit within the window.
    students = []
    for batch in range(0, n, 20):
        students += await asyncio.gather(*(student_session(base, r.id) for _ in range(min(20, n - batch))))
    expected = Counter(f"w{i % 17}" for i in range(n))
    latencies: list[float] = []
    done_at: list[float] = []

    async def one(i: int, s: Session) -> None:
        await asyncio.sleep(random.uniform(0, window))
        latencies.append(await submit(s, f"w{i % 17}"))
        done_at.append(time.perf_counter())

    t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
    await asyncio.gather(*(one(i, s) for i, s in enumerate(students)))
    cpu = cpu_seconds(pid) - cpu0
    last = max(done_at)
    try:
        await asyncio.wait_for(seen_all.wait(), 30)
        lecturer_delay = time.perf_counter() - last
    except TimeoutError:
        lecturer_delay = float("nan")
    follower.cancel()
    for s in students:
        await s.close()
    await lect.close()
    guesses = store.guesses(r.id, code)
    counts = Counter(g.word for g in guesses)
    counts.pop("solo2", None)  # the baseline student's last guess
    store.close()
    lat = sorted(latencies)
    return dict(n=len(latencies), span=last - t0, p50=lat[len(lat) // 2], p95=lat[int(0.95 * (len(lat) - 1))],
                max=lat[-1], baseline=baseline, exact=counts == expected, stored=sum(counts.values()),
                lecturer_delay=lecturer_delay, cpu_per_guess=cpu / n)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_backend(name: str, store_url: str, n: int, window: float) -> None:
    # every simulated student comes from 127.0.0.1: the per-address guess limit would count them as one network
    proc, base, log = start_server({"LLMX_GAME_STORE": store_url, "LLMX_GAME_GUESSES_PER_ADDRESS": "0"})
    try:
        res = asyncio.run(play(base, store_url, n, window, proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"{name:<7} {res['n']} students in {res['span']:.1f} s | submit p50 {res['p50'] * 1e3:.0f} ms, "
          f"p95 {res['p95'] * 1e3:.0f} ms, max {res['max'] * 1e3:.0f} ms | alone {res['baseline'] * 1e3:.0f} ms "
          f"(p95/alone {res['p95'] / res['baseline']:.1f}x) | stored {res['stored']}, exactly once: {res['exact']} | "
          f"lecturer showed all {res['lecturer_delay']:.2f} s after the last submission | "
          f"server CPU {res['cpu_per_guess'] * 1e3:.1f} ms per guess (incl. the lecturer's refreshes) | "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=200)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--stores", default="sqlite,redis")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-game-"))
    if "sqlite" in args.stores:
        run_backend("sqlite", str(tmp / "game.sqlite3"), args.students, args.window)
    if "redis" not in args.stores:
        return
    exe = shutil.which("redis-server")
    if exe is None:
        print("redis      skipped: redis-server is not installed")
        return
    port = free_port()
    redis = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp)],
                             stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        run_backend("redis", f"redis://127.0.0.1:{port}/0", args.students, args.window)
    finally:
        redis.terminate()
        redis.wait(timeout=10)


if __name__ == "__main__":
    main()
