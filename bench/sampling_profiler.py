"""A sampling profiler for a live Streamlit server (py-spy is not available here): a thread reads every other
thread's stack every few milliseconds and counts, per function, the samples where it is running (self) and
where it is on the stack (total). Script runs happen in ScriptRunner threads, which cProfile would not see.

    python bench/sampling_profiler.py OUT.txt -m streamlit run streamlit_app.py ...

On SIGTERM or exit it writes the top functions to OUT.txt. bench/class_load.py --profile uses it.
"""

from __future__ import annotations

import atexit
import collections
import os
import runpy
import signal
import sys
import threading

INTERVAL = 0.005


def start(out_path: str) -> None:
    me = threading.get_ident()
    self_counts: collections.Counter = collections.Counter()
    total_counts: collections.Counter = collections.Counter()
    samples = [0]
    stop = threading.Event()

    def where(code) -> str:
        path = code.co_filename
        for marker in ("site-packages/", "/lib/python3"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        else:
            path = os.path.relpath(path)
        return f"{path}:{code.co_firstlineno} {code.co_name}"

    def loop() -> None:
        while not stop.wait(INTERVAL):
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me or not names.get(ident, "").startswith("ScriptRunner"):
                    continue
                samples[0] += 1
                self_counts[where(frame.f_code)] += 1
                seen = set()
                while frame is not None:
                    key = where(frame.f_code)
                    if key not in seen:
                        total_counts[key] += 1
                        seen.add(key)
                    frame = frame.f_back

    def dump() -> None:
        stop.set()
        n = max(1, samples[0])
        with open(out_path, "w") as f:
            f.write(f"{samples[0]} samples of ScriptRunner threads every {INTERVAL * 1e3:g} ms "
                    f"(~{samples[0] * INTERVAL:.1f} s of script-thread time)\n\n-- on the stack (total) --\n")
            for key, c in total_counts.most_common(45):
                f.write(f"{100 * c / n:6.1f}%  {key}\n")
            f.write("\n-- running (self) --\n")
            for key, c in self_counts.most_common(30):
                f.write(f"{100 * c / n:6.1f}%  {key}\n")

    threading.Thread(target=loop, daemon=True, name="sampler").start()
    atexit.register(dump)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):
        dump()
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)


if __name__ == "__main__":
    usage = "usage: sampling_profiler.py OUT.txt -m MODULE ARGS...\n\n" + (__doc__ or "")
    if sys.argv[1:2] in (["-h"], ["--help"]):  # not argparse: every argument after -m belongs to the module
        print(usage)
        raise SystemExit(0)
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        raise SystemExit(usage)
    out = sys.argv[1]
    start(out)
    sys.argv = [sys.argv[3], *sys.argv[4:]]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
