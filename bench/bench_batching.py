"""Batched generation (lib.models.batching) against one sequence at a time and against naive batching, in one process.
BENCH_STUDENTS=N sets the class size (default 8).

A class of N students each asks for three 30-token continuations of one prompt with the bundled pocket-lm (own
seeds). Three ways, measured back to back in this process:
  one at a time   the scheduler with one active sequence (each continuation its own run of forward passes, as
                  before issue 23)
  batched         the scheduler as the app runs it: one pass per step for all, bit-identical to alone
  naive batch     transformers' generate() on the left-padded batch with an attention mask (greedy; what the
                  scheduler's layout costs against, and what is not bit-identical)
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import describe

N = int(os.environ.get("BENCH_STUDENTS", "8"))
PROMPT = "It was the best of times, it was the worst of times, it was the"


def class_presses(lm, scheduler) -> float:
    """Seconds until every student's three continuations are done (all press at once)."""
    from lib.models.batching import wait_for
    from lib.sampling.knobs import Knobs

    ids = lm.encode(PROMPT).ids
    done = []

    def student(i):
        listeners = [scheduler.submit(ids, 30, Knobs(temperature=0.8), 3 * i + k) for k in range(3)]
        done.append([wait_for(listener) for listener in listeners])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=student, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def naive(lm) -> float:
    import torch

    ids = [list(lm.encode(PROMPT + " " + "and " * (i % 5)).ids) for i in range(3 * N)]
    longest = max(map(len, ids))
    batch = torch.tensor([[0] * (longest - len(p)) + p for p in ids])
    mask = torch.tensor([[0] * (longest - len(p)) + [1] * len(p) for p in ids])
    t0 = time.perf_counter()
    with torch.inference_mode():
        lm.model.generate(batch, attention_mask=mask, do_sample=False, max_new_tokens=30, min_new_tokens=30,
                          pad_token_id=0)
    return time.perf_counter() - t0


def main() -> None:
    import torch

    from lib.models.batching import Scheduler
    from lib.models.next_token import HFCausalLM

    torch.set_num_threads(1)
    lm = HFCausalLM.load("pocket-lm")
    class_presses(lm, Scheduler(lm))  # warm up
    batched = class_presses(lm, Scheduler(lm))
    alone = class_presses(lm, Scheduler(lm, max_active=1))
    padded = naive(lm)
    print(f"{N} students x 3 continuations x 30 tokens, pocket-lm, 1 torch thread, load {os.getloadavg()[0]:.1f}")
    print(f"  one at a time  {alone:7.2f} s")
    print(f"  batched        {batched:7.2f} s   {alone / batched:5.1f}x faster than one at a time")
    print(f"  naive batch    {padded:7.2f} s   the bit-identical layout costs {batched / padded:4.1f}x naive batching")


if __name__ == "__main__":
    from bench.common import describe

    describe(__doc__)
    main()
