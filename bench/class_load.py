"""A whole class on one link, end to end: N simulated students drive the real Streamlit server over its own
websocket protocol (bench/st_client.py) and every figure is printed beside the single-student baseline
measured in the same run.

    python bench/class_load.py                   # starts `streamlit run` itself, N = 1, 10, 25, 50, 100
    python bench/class_load.py --quick           # N = 1, 10, 25, shorter scenarios
    python bench/class_load.py --url http://127.0.0.1:8080 --pids 123,456   # an already running server
    python bench/class_load.py --gc on           # the same with Streamlit's post-run full GC switched back on
    python bench/class_load.py --soak            # RSS over 1,000 distinct prompts and 300 sessions
    python bench/class_load.py --quick --profile /tmp/prof.txt   # and where the script runs spend their time

Scenarios (all loopback, each bounded in time):
  open      N students open /sampling within 5 s; latency = connect until the first run's script_finished
  sampling  each moves the temperature slider on /sampling every ~2 s (a fragment rerun)
  next      each moves "Tokens shown" on /next-token every ~2 s (a fragment rerun)
  gen-same  everyone presses "Generate three continuations" at once, all with the same seed;
            a few other students keep moving sliders meanwhile ("sliders meanwhile")
  gen-own   the same, each with their own seed
  finetune  up to 4 students press "Fine-tune live" at once, while the others move sliders
  hanging   one student's OpenAI-compatible server never answers in time, while the others move sliders
  --class-press (issue 23, on a server started exactly as `make run` starts it): N students open /sampling within
            10 s; then they press "Generate three continuations" within 1 s, each with their own seed, while 10
            other students move the temperature knob every ~1 s ("sliders meanwhile")
Server CPU is the share of one core the server processes used during the scenario; RSS/session is the
server's growth per open session. Timings on a shared machine are noisy: the load average is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from typing import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from st_client import RunResult, Student, knob_release

ROOT = Path(__file__).resolve().parent.parent
SHARED_TIKTOKEN = ROOT.parent / "shared" / "assets" / "tiktoken-cache"
TICK = os.sysconf("SC_CLK_TCK")


# -- the server -----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(app_dir: Path, gc: bool, env_extra: dict[str, str], profile: str | None = None,
                     plain: bool = False):
    """`streamlit run streamlit_app.py` on a free loopback port; yields (http url, pid).
    With `profile`, the server runs under bench/sampling_profiler.py, which writes its report there. `plain`: only
    what `make run` starts (the app's own .streamlit/config.toml decides the rest), on a loopback port."""
    port = free_port()
    env = {**os.environ, **env_extra}
    env.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED_TIKTOKEN))
    log = tempfile.TemporaryFile()
    prefix = [sys.executable, str(Path(__file__).parent / "sampling_profiler.py"), profile] if profile else [sys.executable]
    proc = subprocess.Popen(
        [*prefix, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
         *([] if plain else [f"--runner.postScriptGC={'true' if gc else 'false'}", "--server.fileWatcherType=none"])],
        cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit("the server did not start:\n" + log.read().decode(errors="replace")[-2000:])
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
        except OSError:
            pass
    return total


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- figures ----------------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Table:
    HEAD = (f"{'scenario':<18}{'N':>4}{'runs':>6}{'err':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
            f"{'x base p50':>11}{'KB/run':>8}{'CPU%':>6}{'RSS MB':>8}{'KB/sess':>8}  load")

    def __init__(self):
        self.baseline: dict[str, float] = {}
        self.rows: list[str] = []
        print(self.HEAD, flush=True)

    def add(self, name: str, n: int, results: list[RunResult], cpu: float | None = None,
            rss: float | None = None, per_session_kb: float | None = None, note: str = "") -> None:
        ok = [r.seconds * 1e3 for r in results if not r.errors]
        errors = sum(1 for r in results if r.errors)
        p50 = statistics.median(ok) if ok else float("nan")
        if n == 1 and name not in self.baseline:
            self.baseline[name] = p50
        base = self.baseline.get(name)
        ratio = f"{p50 / base:10.1f}x" if base and ok else f"{'-':>11}"
        kb = statistics.mean(r.bytes_in for r in results) / 1024 if results else 0
        row = (f"{name:<18}{n:>4}{len(results):>6}{errors:>5}{p50:>9.0f}{pct(ok, .95):>9.0f}{max(ok, default=float('nan')):>9.0f}"
               f"{ratio}{kb:>8.1f}{'' if cpu is None else f'{cpu:6.0f}':>6}{'' if rss is None else f'{rss:8.0f}':>8}"
               f"{'' if per_session_kb is None else f'{per_session_kb:8.0f}':>8}  {load_average()}{note}")
        self.rows.append(row)
        print(row, flush=True)
        shown = [e for r in results for e in r.errors[:1]]
        for e in sorted(set(shown))[:3]:
            print(f"    error ({shown.count(e)}x): {e[:160]}", flush=True)


# -- students ---------------------------------------------------------------------------------------------------
async def open_class(ws: str, page: str, n: int, within: float, query: str | Callable[[int], str] = "",
                     timeout: float = 60.0) -> tuple[list[Student], list[RunResult]]:
    """n students open `page` at random moments within `within` seconds (student i with query(i) when callable)."""
    async def one(i: int):
        await asyncio.sleep(random.uniform(0, within) if n > 1 else 0)
        s = Student(ws, page, query(i) if callable(query) else query, timeout=timeout)
        try:
            return s, await s.open()
        except OSError as exc:
            return None, RunResult(0.0, 0, [f"connect failed: {exc}"], [])

    pairs = await asyncio.gather(*(one(i) for i in range(n)))
    return [s for s, _ in pairs if s is not None], [r for _, r in pairs]


async def move_sliders(students: list[Student], key: str, values: list[float], seconds: float,
                       period: float = 2.0) -> list[RunResult]:
    """Each student moves slider `key` to a new value every ~period seconds (never two moves at once)."""
    results: list[RunResult] = []
    end = time.perf_counter() + seconds

    async def one(s: Student):
        await asyncio.sleep(random.uniform(0, period))
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            results.append(await s.set(key, random.choice(values)))
            await asyncio.sleep(max(0.0, period * random.uniform(0.8, 1.2) - (time.perf_counter() - t0)))

    await asyncio.gather(*(one(s) for s in students))
    return results


async def close_all(students: list[Student]) -> None:
    await asyncio.gather(*(s.close() for s in students), return_exceptions=True)


TEMPS = [round(0.1 * i, 1) for i in range(1, 21)]
KNOB_MOVES = [knob_release(temperature=t) for t in TEMPS]  # a released temperature knob on /sampling's panel
SHOWN = list(range(3, 31))


async def scenario_round(ws: str, pids: list[int], n: int, seconds: float, table: Table,
                         with_finetune: bool = True) -> None:
    """All scenarios for one class size n."""
    rss0, cpu0, t0 = rss_mb(pids), cpu_seconds(pids), time.perf_counter()
    students, opened = await open_class(ws, "sampling", n, 5.0)
    per_session = (rss_mb(pids) - rss0) * 1024 / max(1, len(students))
    table.add("open /sampling", n, opened, 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0),
              rss_mb(pids), per_session)

    cpu0, t0 = cpu_seconds(pids), time.perf_counter()
    moves = await move_sliders(students, "sk_panel", KNOB_MOVES, seconds)
    table.add("sampling slider", n, moves, 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0), rss_mb(pids))

    # Generate at once: everyone sets the same knobs, then a seed (shared or own), then presses the button.
    # Seeds are fresh for every round, so nothing comes from an earlier round's cache.
    watchers, _ = await open_class(ws, "next-token", max(2, n // 5), 0.5)
    for label, same in (("gen-same", True), ("gen-own", False)):
        shared = random.randrange(10**6, 10**9)
        await asyncio.gather(*(s.set("sk_panel", knob_release(temperature=0.8)) for s in students))
        await asyncio.gather(*(s.set("sk_seed", shared if same else random.randrange(10**6, 10**9)) for s in students))
        cpu0, t0 = cpu_seconds(pids), time.perf_counter()
        background = asyncio.ensure_future(move_sliders(watchers, "nt_n", SHOWN, 6.0, period=1.0))
        clicks = await asyncio.gather(*(s.set("sk_generate", True) for s in students))
        meanwhile = await background
        cpu = 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0)
        firsts = [r.first_text * 1e3 for r in clicks if r.first_text is not None]
        table.add(label, n, clicks, cpu, rss_mb(pids),
                  note=f"  (first continuation shown: p50 {pct(firsts, .5):.0f} ms, p95 {pct(firsts, .95):.0f} ms)")
        table.add("  sliders meanwhile", n, meanwhile)
    await close_all(students)

    students, opened = await open_class(ws, "next-token", n, 5.0)
    table.add("open /next-token", n, opened)
    cpu0, t0 = cpu_seconds(pids), time.perf_counter()
    moves_nt = await move_sliders(students, "nt_n", SHOWN, seconds)
    table.add("next-token slider", n, moves_nt, 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0), rss_mb(pids))

    # Live fine-tune: up to 4 press at once (one runs, the others are told to wait), the rest move sliders.
    if not with_finetune:
        await close_all(watchers)
        await close_all(students)
        return
    # 30 training steps take a minute or more on a busy 2-core machine, hence the long timeout.
    tuners, _ = await open_class(ws, "training-stages", min(n, 4), 0.5, timeout=300.0)
    cpu0, t0 = cpu_seconds(pids), time.perf_counter()
    background = asyncio.ensure_future(move_sliders(students, "nt_n", SHOWN, 8.0))
    runs = await asyncio.gather(*(s.set("ts_live_go", True) for s in tuners))
    meanwhile = await background
    waited = sum(any("Another session" in a for a in r.alerts) for r in runs)
    table.add("finetune", len(tuners), runs, 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0),
              rss_mb(pids), note=f"  ({waited} told to wait)")
    table.add("  sliders meanwhile", n, meanwhile)
    await close_all(tuners)
    await close_all(watchers)
    await close_all(students)


async def hanging_round(ws: str, n: int, seconds: float, table: Table) -> None:
    """One student on a never-answering API server (the app gives up after its own timeout) while n-1 move sliders."""
    others, _ = await open_class(ws, "sampling", max(1, n - 1), 2.0)
    stuck = Student(ws, "sampling", "api=1&api_model=slow-model", timeout=90)
    hang = asyncio.ensure_future(stuck.open())
    moves = await move_sliders(others, "sk_panel", KNOB_MOVES, seconds)
    table.add("  hanging-API peer", n, moves)
    result = await hang
    table.add("hanging student", 1, [result], note=f"  ({(result.alerts or result.errors or ['no message'])[0][:60]})")
    await stuck.close()
    await close_all(others)


async def stages_round(ws: str, pids: list[int], n: int, table: Table) -> None:
    """n students open /training-stages within 5 s, each from a link with a prompt nobody sent before (issue 13,
    item 19), first as links are now, then with ?complete=1 (completions on, as every link was before)."""
    for label, extra in (("open stages, own prompt", ""), ("  same, complete=1", "&complete=1")):
        tag = random.randrange(10**6, 10**9)
        cpu0, t0 = cpu_seconds(pids), time.perf_counter()
        students, opened = await open_class(
            ws, "training-stages", n, 5.0, lambda i: f"family=pocket-lm&prompt=Question%20{tag}%20{i}%3F{extra}", 300)
        table.add(label, n, opened, 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0), rss_mb(pids))
        await close_all(students)


async def class_press_round(ws: str, pids: list[int], n: int, table: Table, watchers: list[Student]) -> None:
    """Issue 23 on `make run`'s server: n students open /sampling within 10 s, then press "Generate three
    continuations" within 1 s of each other, each with their own seed, while `watchers` move the temperature knob
    on their own /sampling every ~1 s. Latency of a press = until its run has shown all three texts."""
    cpu0, t0 = cpu_seconds(pids), time.perf_counter()
    students, opened = await open_class(ws, "sampling", n, 10.0 if n > 1 else 0.0)
    table.add("open /sampling 10s", n, opened, 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0),
              rss_mb(pids))
    await asyncio.gather(*(s.set("sk_panel", knob_release(temperature=0.8)) for s in students))
    await asyncio.gather(*(s.set("sk_seed", random.randrange(10**6, 10**9)) for s in students))

    async def press(s: Student) -> RunResult:
        await asyncio.sleep(random.uniform(0, 1.0) if n > 1 else 0.0)
        return await s.set("sk_generate", True)

    cpu0, t0, own0 = cpu_seconds(pids), time.perf_counter(), sum(os.times()[:2])
    background = asyncio.ensure_future(move_sliders(watchers, "sk_panel", KNOB_MOVES, 8.0, period=1.0))
    clicks = await asyncio.gather(*(press(s) for s in students))
    pressed_s, own_s = time.perf_counter() - t0, sum(os.times()[:2]) - own0  # until the last press was answered
    meanwhile = await background
    firsts = [r.first_text * 1e3 for r in clicks if r.first_text is not None]
    shown = sum(1 for r in clicks if not r.errors and r.texts >= 3)
    table.add("generate own seed", n, clicks, 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0),
              rss_mb(pids), note=f"  ({shown}/{n} saw 3 texts; first shown p50 {pct(firsts, .5):.0f} ms; this load "
                                 f"client used {100 * own_s / pressed_s:.0f}% of a core until the last was shown)")
    table.add("  sliders meanwhile", len(watchers), meanwhile)
    await close_all(students)


async def class_press(ws: str, pids: list[int], sizes: list[int]) -> None:
    table = Table()
    watchers, _ = await open_class(ws, "sampling", 10, 2.0)
    for n in sizes:
        await class_press_round(ws, pids, n, table, watchers)
    await close_all(watchers)


# -- soak -------------------------------------------------------------------------------------------------------
async def soak(ws: str, pids: list[int], prompts: int, sessions: int) -> None:
    """RSS over distinct prompts (one session typing) and over sessions opened and closed."""
    s = Student(ws, "sampling")
    await s.open()
    rss = [rss_mb(pids)]
    print(f"soak: RSS after one session {rss[0]:.0f} MB  (load {load_average()})", flush=True)
    t0 = time.perf_counter()
    for i in range(prompts):
        await s.set("sk_prompt", f"Student {i} asks about the {i * 7919 % 1000}th panda and")
        if (i + 1) % (prompts // 4) == 0:
            rss.append(rss_mb(pids))
            print(f"soak: {i + 1:5d} distinct prompts  RSS {rss[-1]:.0f} MB  ({time.perf_counter() - t0:.0f} s)", flush=True)
    await s.close()
    # Streamlit keeps up to 128 closed sessions for server.disconnectedSessionTTL (120 s) so a dropped tab can come
    # back; RSS does not shrink after frees either. So: two rounds of sessions, a TTL apart. A leak grows in both;
    # a flat server grows in the first round only.
    for round_ in (1, 2):
        before = rss_mb(pids)
        for _ in range(sessions // 10):
            batch = [Student(ws, "sampling") for _ in range(10)]
            await asyncio.gather(*(b.open() for b in batch))
            await close_all(batch)
        after = rss_mb(pids)
        print(f"soak: round {round_}: {sessions} sessions opened and closed: RSS {before:.0f} -> {after:.0f} MB "
              f"({(after - before) * 1024 / sessions:.0f} KB per session)  (load {load_average()})", flush=True)
        if round_ == 1:
            await asyncio.sleep(125)


# -- main -------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="an already running server (e.g. the balancer of `make serve`)")
    parser.add_argument("--pids", default="", help="with --url: server process ids to measure CPU and RSS")
    parser.add_argument("--app-dir", default=str(ROOT), help="checkout to start (e.g. an older commit, to compare)")
    parser.add_argument("--gc", choices=["on", "off"], default="off",
                        help="runner.postScriptGC for the started server (off is what .streamlit/config.toml sets)")
    parser.add_argument("--sizes", default="1,10,25,50,100")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each slider scenario")
    parser.add_argument("--quick", action="store_true", help="N = 1, 10, 25 and 8 s slider scenarios")
    parser.add_argument("--soak", action="store_true", help="only the memory soak")
    parser.add_argument("--core", action="store_true", help="skip the fine-tune and hanging-server scenarios")
    parser.add_argument("--stages", action="store_true",
                        help="only: N students open /training-stages with their own prompt, completions off vs on")
    parser.add_argument("--class-press", action="store_true",
                        help="only issue 23's scenarios on make run's own server: open /sampling within 10 s, then "
                             "everyone presses Generate within 1 s with their own seed (sizes 1 and 100 by default)")
    parser.add_argument("--profile", help="write a sampling profile of the server's script runs to this file")
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=300)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.seconds = "1,10,25", 8.0
    if args.class_press and args.sizes == parser.get_default("sizes"):
        args.sizes = "1,100"
    sizes = [int(x) for x in args.sizes.split(",")]
    random.seed(0)

    sys.path.insert(0, str(ROOT))
    from tests.fake_openai_server import FakeOpenAI

    api = FakeOpenAI(slow_seconds=120.0).start()  # "slow-model" answers after 2 minutes: a hanging server
    env = {"LLMX_API_BASE_URL": api.base_url}

    async def run(url: str, pids: list[int]) -> None:
        ws = url.replace("http", "ws", 1).rstrip("/")
        warm = Student(ws, "sampling")
        await warm.open()  # load the model once, as the first student of the day would
        await warm.close()
        if args.soak:
            await soak(ws, pids, args.prompts, args.sessions)
            return
        if args.class_press:
            await class_press(ws, pids, sizes)
            return
        table = Table()
        t0, c0 = time.perf_counter(), sum(os.times()[:2])
        for n in sizes if args.stages else ():
            await stages_round(ws, pids, n, table)
        for n in () if args.stages else sizes:
            await scenario_round(ws, pids, n, args.seconds, table, not args.core)
        if not (args.core or args.stages):
            await hanging_round(ws, sizes[-1], min(args.seconds, 10.0), table)
        print(f"the load client itself used {100 * (sum(os.times()[:2]) - c0) / (time.perf_counter() - t0):.1f}% "
              f"of one core over {time.perf_counter() - t0:.0f} s (it shares the machine with the server)")

    print(f"cores {os.cpu_count()}, load average {load_average()} (a shared machine: timings are noisy)")
    try:
        if args.url:
            asyncio.run(run(args.url, [int(p) for p in args.pids.split(",") if p]))
        else:
            with streamlit_server(Path(args.app_dir), args.gc == "on", env, args.profile, args.class_press) as (url, pid):
                print(f"server: streamlit run {args.app_dir}/streamlit_app.py, "
                      + ("flags as make run (the app's config)" if args.class_press
                         else f"runner.postScriptGC={args.gc == 'on'}"))
                asyncio.run(run(url, [pid]))
    finally:
        api.stop()


if __name__ == "__main__":
    main()
