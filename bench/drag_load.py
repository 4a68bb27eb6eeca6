"""A class dragging /sampling's knobs at once, on `make serve`: what a released knob costs each student.

    python bench/drag_load.py                         # starts deploy/serve.py (2 processes, nginx, default limits)
    python bench/drag_load.py --students 300 --seconds 60
    python bench/drag_load.py --own-seeds                 # no two students share a computed view
    python bench/drag_load.py --url http://127.0.0.1:8080 # an already running `make serve`
    python bench/drag_load.py --redraw                    # only the browser side: knob math per pointer move

While a knob is dragged the knob panel reshapes the distribution in the browser and sends nothing (proved by
tests/e2e/test_knob_panel.py, which counts the websocket frames a real drag sends). So a dragging student costs
the server one message per release: the panel's knob values, and a fragment rerun that updates the URL and
re-sends the panel (the scores only on a tab's first run), the readouts, the order line with the cumulative curve
and the samples, computed once per (prompt, knobs) for every session. Each simulated student (bench/st_client.py, Streamlit's own protocol through nginx)
opens /sampling, then releases a knob at a new temperature every ~2 s. The release round trip is from sending
that message until the rerun's script_finished; it is printed for one student alone and for the whole class,
measured in the same run. Students open at 10 per second, what the default per-address limits let a class behind
one NAT address in at (deploy/limits.py). Loopback only; every server started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from class_load import close_all, cpu_seconds, load_average, open_class, pct
from session_flood import served
from st_client import RunResult, Student, knob_release

TEMPERATURES = [round(0.05 * i, 2) for i in range(1, 61)]  # the panel's temperature steps, 0.05 .. 3.0


def server_pids(port: int) -> list[int]:
    """The app processes of the deploy/serve.py listening on `port` (its children), read from /proc."""
    def cmdline(pid: str) -> list[bytes]:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return []

    def parent(pid: str) -> str:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            return ""

    procs = [d.name for d in Path("/proc").iterdir() if d.name.isdigit()]
    serve = {pid for pid in procs if any(a.endswith(b"deploy/serve.py") for a in cmdline(pid))
             and str(port).encode() in cmdline(pid)}
    return [int(pid) for pid in procs if parent(pid) in serve and any(b"app_process" in a for a in cmdline(pid))]


async def release_every(students: list[Student], seconds: float, period: float = 2.0) -> list[RunResult]:
    """Each student releases the temperature knob at a new value every ~period s (never two at once)."""
    results: list[RunResult] = []
    end = time.perf_counter() + seconds

    async def one(s: Student) -> None:
        await asyncio.sleep(random.uniform(0, period))
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            results.append(await s.set("sk_panel", knob_release(temperature=random.choice(TEMPERATURES))))
            await asyncio.sleep(max(0.0, period * random.uniform(0.8, 1.2) - (time.perf_counter() - t0)))

    await asyncio.gather(*(one(s) for s in students))
    return results


def row(name: str, n: int, results: list[RunResult], base_p50: float | None, cpu: float | None) -> float:
    ok = [r.seconds * 1e3 for r in results if not r.errors]
    errors = [e for r in results for e in r.errors[:1]]
    p50 = statistics.median(ok) if ok else float("nan")
    kb = statistics.mean(r.bytes_in for r in results) / 1024 if results else float("nan")
    ratio = f"{p50 / base_p50:10.1f}x" if base_p50 else f"{'':>11}"
    cpu_text = f"{cpu:6.0f}" if cpu is not None else f"{'':>6}"
    print(f"{name:<22}{n:>5}{len(results):>7}{len(errors):>5}{p50:>9.0f}{pct(ok, .95):>9.0f}{pct(ok, 1.0):>9.0f}"
          f"{ratio}{kb:>8.1f}{cpu_text}  {load_average()}", flush=True)
    for e in sorted(set(errors))[:3]:
        print(f"    error ({errors.count(e)}x): {e[:160]}", flush=True)
    return p50


async def own_seeds(students: list[Student]) -> None:
    """Each student types its own seed (a page rerun each, before the clock starts): no two share a samples view,
    so every release computes its readouts, curve and samples instead of finding them computed."""
    for i in range(0, len(students), 20):
        await asyncio.gather(*(s.set("sk_seed", random.randrange(1, 2**31 - 1)) for s in students[i:i + 20]))


async def run(url: str, students: int, seconds: float, seeds: bool = False) -> None:
    ws = url.replace("http", "ws", 1)
    pids = server_pids(int(url.rsplit(":", 1)[1].split("/")[0]))
    print(f"server {url}, app processes {pids or 'unknown'}; {students} students, releases every ~2 s for "
          f"{seconds:g} s, {'each with its own seed' if seeds else 'all on the default seed'}", flush=True)
    print(f"{'':<22}{'N':>5}{'runs':>7}{'err':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'x alone':>11}{'KB/run':>8}"
          f"{'CPU%':>6}  load", flush=True)
    alone, _ = await open_class(ws, "sampling", 1, 0.0)
    if seeds:
        await own_seeds(alone)
    base = row("release, alone", 1, await release_every(alone, 20.0, period=0.5), None, None)
    await close_all(alone)
    klass, opened = await open_class(ws, "sampling", students, students / 10.0, timeout=120.0)
    row("open /sampling", students, opened, None, None)
    if seeds:
        await own_seeds(klass)
    cpu0, own0, t0 = cpu_seconds(pids), time.process_time(), time.perf_counter()
    releases = await release_every(klass, seconds)
    elapsed = time.perf_counter() - t0
    cpu = 100 * (cpu_seconds(pids) - cpu0) / elapsed if pids else None
    harness = 100 * (time.process_time() - own0) / elapsed
    row("release, whole class", len(klass), releases, base, cpu)
    await close_all(klass)
    ok = [r.seconds * 1e3 for r in releases if not r.errors]
    print(f"release round trip with {len(klass)} students: p95 {pct(ok, .95):.0f} ms (target <= 300 ms), "
          f"{sum(1 for r in releases if r.errors)} errors of {len(releases)}", flush=True)
    if pids and releases:
        per_release = cpu * elapsed / 100 / len(releases)
        offered = len(klass) / 2.0
        print(f"app CPU per release {per_release * 1e3:.1f} ms: {offered:.0f} releases/s offered need "
              f"{offered * per_release:.2f} cores; served {len(releases) / elapsed:.0f}/s; this harness used "
              f"{harness:.0f}% of a core on the same machine", flush=True)


REDRAW_JS = """([b64, sets]) => {
  const {applyKnobs, decodeFloat32} = window.knobMath;
  const scores = decodeFloat32(b64);
  const off = {temperature: 1, top_k: 0, top_p: 1, min_p: 0, typical_p: 1, repetition_penalty: 1};
  const order = ["repetition_penalty", "temperature", "top_k", "top_p", "min_p", "typical_p"];
  const none = {top_k: null, top_p: null, min_p: null, typical_p: null, repetition_penalty: null};
  const out = {};
  for (const [name, extra] of sets) {
    const cache = {};  // one drag: the panel keeps this per prompt
    const t0 = performance.now();
    for (let i = 0; i < 60; i++) applyKnobs(scores, {...none, ...extra, temperature: 0.2 + 0.04 * i}, [1, 2, 3], order, off, cache);
    out[name] = (performance.now() - t0) / 60;
  }
  return out;
}"""
REDRAW_SETS = [["temperature alone", {}], ["+ top-p 0.9", {"top_p": 0.9}],
               ["+ top-k 50, top-p, min-p", {"top_k": 50, "top_p": 0.9, "min_p": 0.05}],
               ["+ repetition penalty", {"repetition_penalty": 1.3}], ["+ typical-p 0.9", {"typical_p": 0.9}]]


def redraw_speed() -> None:
    """The knob math of one pointer move (components/knob_math.js) in headless Chromium, during a temperature drag
    with other knobs on, at pocket-lm's and GPT-2's vocabulary sizes; the issue's target is >= 30 redraws/s."""
    import base64

    import numpy as np
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from components.knob_panel import MATH_JS
    from tests.e2e.conftest import CHROMIUM_FLAGS, chromium_path

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.set_content("<!doctype html><title>redraw</title>")
        page.add_script_tag(content=MATH_JS + "\nwindow.knobMath = {applyKnobs, decodeFloat32};", type="module")
        page.wait_for_function("window.knobMath !== undefined")
        print(f"{'knobs during a temperature drag':<32}{'vocab':>8}{'ms/move':>9}{'moves/s':>9}", flush=True)
        for vocab in (4096, 50257):
            scores = (np.random.default_rng(0).standard_normal(vocab) * 3).astype(np.float32)
            timed = page.evaluate(REDRAW_JS, [base64.b64encode(scores.tobytes()).decode(), REDRAW_SETS])
            for name, ms in timed.items():
                print(f"{name:<32}{vocab:>8}{ms:>9.2f}{1000 / ms:>9.0f}", flush=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running `make serve` (its nginx address)")
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the class keeps releasing knobs")
    parser.add_argument("--processes", type=int, default=2, help="app processes when this script starts serve")
    parser.add_argument("--own-seeds", action="store_true",
                        help="each student its own seed: no release finds its view computed by another student")
    parser.add_argument("--redraw", action="store_true", help="only time the knob math in headless Chromium")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` stops the servers this script started too
    if args.redraw:
        redraw_speed()
        return
    if args.url:
        asyncio.run(run(args.url, args.students, args.seconds, args.own_seeds))
        return
    with served(args.processes, limits_on=True) as url:
        asyncio.run(run(url, args.students, args.seconds, args.own_seeds))


if __name__ == "__main__":
    main()
