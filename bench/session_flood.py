"""One client opens hundreds of sessions at once: does another student's slider keep up?

    python bench/session_flood.py                  # starts `deploy/serve.py` twice (limits off, then on), 2 processes
    python bench/session_flood.py --sessions 300 --processes 2
    python bench/session_flood.py --url http://127.0.0.1:8080    # an already running `make serve` (one pass)

The victim is one student on /sampling, connected through nginx from 127.0.0.1, moving the page's slider every
0.3 s: first alone (the baseline), then while a script on another client address (127.0.0.9) opens --sessions
sessions of /sampling at once. Each pass prints the victim's slider latency alone and during the flood, and how
many of the flood's sessions got in, were refused, or failed. "limits off" sets LLMX_SESSIONS_PER_SECOND=0 and
LLMX_CONNECTIONS_PER_ADDRESS=0 (deploy/limits.py); "limits on" uses the defaults. Loopback only; every server
started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from class_load import SHARED_TIKTOKEN, free_port, load_average, pct
from st_client import RunResult, Student, knob_release

ROOT = Path(__file__).resolve().parent.parent
ATTACKER = "127.0.0.9"
SLIDERS = ("sk_panel", "sk_n")  # the sampling page's knob panel (a released temperature), or "Tokens shown"
VALUES = {"sk_panel": [knob_release(temperature=t) for t in (0.5, 0.7, 0.9, 1.1, 1.3)], "sk_n": [6, 8, 10, 12, 14]}


@contextmanager
def served(processes: int, limits_on: bool):
    """deploy/serve.py on a free loopback port; yields its URL once /healthz is ok."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR",
                                                                                      str(SHARED_TIKTOKEN))}
    if not limits_on:
        env.update(LLMX_SESSIONS_PER_SECOND="0", LLMX_CONNECTIONS_PER_ADDRESS="0")
    log = Path(tempfile.mkstemp(prefix="session-flood-", suffix=".log")[1])
    proc = subprocess.Popen([sys.executable, "deploy/serve.py", "--processes", str(processes), "--port", str(port),
                             "--host", "127.0.0.1"], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                if urllib.request.urlopen(f"{url}/healthz", timeout=3).status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"serve did not start; log: {log}")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


async def move_until(student: Student, key: str, stop: asyncio.Event,
                     period: float = 0.3) -> list[tuple[float, RunResult]]:
    """(start time, result) of each move, one every `period` seconds (never two at once), until `stop`."""
    out, i = [], 0
    while not stop.is_set():
        t0 = time.perf_counter()
        out.append((t0, await student.set(key, VALUES[key][i % len(VALUES[key])])))
        i += 1
        await asyncio.sleep(max(0.0, period - (time.perf_counter() - t0)))
    return out


async def flood(ws: str, n: int, timeout: float) -> tuple[list[Student], dict[str, int]]:
    """n sessions of /sampling opened at once from ATTACKER; counts of how each ended."""
    async def one():
        s = Student(ws, "sampling", timeout=timeout, connect_kwargs={"local_addr": (ATTACKER, 0)})
        try:
            result = await s.open()
        except Exception as exc:  # noqa: BLE001 - refused (429/403), reset, timed out: each is counted
            return None, "refused" if "HTTP 4" in str(exc) else f"failed ({type(exc).__name__})"
        return s, "in" if not result.errors else "in, with errors"

    pairs = await asyncio.gather(*(one() for _ in range(n)))
    counts: dict[str, int] = {}
    for _, how in pairs:
        counts[how] = counts.get(how, 0) + 1
    return [s for s, _ in pairs if s is not None], counts


def row(name: str, results: list[RunResult]) -> str:
    ok = [r.seconds * 1e3 for r in results if not r.errors]
    errors = len(results) - len(ok)
    return (f"  {name:<26}{len(results):>5} moves{errors:>4} err  p50 {pct(ok, .5):6.0f} ms  p95 {pct(ok, .95):6.0f} ms"
            f"  max {max(ok, default=float('nan')):6.0f} ms")


async def one_pass(url: str, sessions: int, baseline_s: float) -> None:
    ws = url.replace("http", "ws", 1)
    victim = Student(ws, "sampling", timeout=60)
    await victim.open()
    key = next((k for k in SLIDERS if k in victim.widgets), None)
    if key is None:
        raise SystemExit(f"no slider {SLIDERS} on /sampling; widgets: {sorted(victim.widgets)}")
    stop = asyncio.Event()
    mover = asyncio.create_task(move_until(victim, key, stop))
    await asyncio.sleep(baseline_s)
    t_flood = time.perf_counter()
    attackers, counts = await flood(ws, sessions, timeout=60)
    flood_s = time.perf_counter() - t_flood
    await asyncio.sleep(1.0)  # and the second after the last open
    stop.set()
    moves = await mover
    before = [r for t, r in moves if t < t_flood]
    during = [r for t, r in moves if t >= t_flood]
    print(row(f"slider ({key}) alone", before))
    print(row("slider during the flood", during))
    print(f"  flood: {sessions} sessions from {ATTACKER} in {flood_s:.1f} s: "
          + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f"   load {load_average()}", flush=True)
    await asyncio.gather(*(s.close() for s in attackers), return_exceptions=True)
    await victim.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--baseline", type=float, default=5.0, help="seconds of slider moves before the flood")
    ap.add_argument("--passes", default="off,on", help="which passes to run: off, on or both (default off,on)")
    ap.add_argument("--url", help="an already running `make serve` (one pass, with its own limits)")
    args = ap.parse_args()
    if args.url:
        print(f"{args.url}: {args.sessions} sessions at once", flush=True)
        asyncio.run(one_pass(args.url, args.sessions, args.baseline))
        return
    for limits_on in [p.strip() == "on" for p in args.passes.split(",")]:
        with served(args.processes, limits_on) as url:
            print(f"make serve, {args.processes} processes, limits {'on (defaults)' if limits_on else 'off'}:",
                  flush=True)
            asyncio.run(one_pass(url, args.sessions, args.baseline))


if __name__ == "__main__":
    main()
