"""The page's "Fine-tune live" button: wall time of live_sft on the bundled pocket-lm, on this machine's CPU.

Prints the whole run against the 60 s budget for the app's setting (lib.training.live.LIVE, one torch thread as the server sets) and for the same run
with two torch threads, and one training step against one probe forward pass measured in the same run
(the probe is re-read after every step, so it must stay cheap).

    .venv/bin/python -m bench.bench_live_finetune
"""

from __future__ import annotations

import os
import statistics
import time

from bench.common import timeit, describe

BUDGET_S = 60.0


def run(base, threads: int):
    """The live demo with `threads` torch threads (a benchmark is its own process: it may set them)."""
    import torch

    from lib.training import live

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    steps = list(live.live_sft(base, steps=live.LIVE["steps"]))
    return steps, time.perf_counter() - t0


def main() -> None:
    import torch

    from lib.models import hub
    from lib.teaching import stages
    from lib.models.next_token import HFCausalLM
    from lib.models.next_token import serving_threads
    from lib.training import live

    app_threads = serving_threads()
    base, _ = hub.resolve("pocket-lm")
    model, tok = live.load(base)  # warms the imports, so both timed runs pay only their own loading
    live.add_chat_template(tok)
    lm = HFCausalLM(model, tok, "bench")
    probe = stages.format_prompt(lm, live.probe_example().instruction, True).prompt
    torch.set_num_threads(app_threads)
    forward = timeit(lambda: lm.distribution(probe))

    print(f"live_sft on pocket-lm: {live.LIVE['steps']} steps, batch {live.LIVE['batch_size']}, "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    results = {}
    for threads in (app_threads, 2):
        steps, total = run(base, threads)
        per_step = statistics.median(b.seconds - a.seconds for a, b in zip(steps, steps[1:]))
        results[threads] = total
        tag = " (the app's setting)" if threads == app_threads else ""
        print(f"  {threads} thread(s){tag}: whole run {total:5.1f} s | budget {BUDGET_S:.0f} s | "
              f"{BUDGET_S / total:4.1f}x under budget | load + first probe {steps[0].seconds:4.2f} s | "
              f"step {per_step * 1e3:6.1f} ms = {per_step / forward:5.1f}x one probe forward ({forward * 1e3:.1f} ms)")
    first, last = steps[0], steps[-1]
    print(f"  ratio: 2 threads take {results[2] / results[app_threads]:.2f}x as long as "
          f"{app_threads} (this machine is shared, so the ratio depends on its load)")
    print(f"  probe P(expected first token): {first.expected_prob:.2g} -> {last.expected_prob:.3f}; "
          f"KL(after || before) {stages.kl_divergence(last.probe, first.probe):.2f} nats; "
          f"loss {steps[1].loss:.2f} -> {last.loss:.2f}")


if __name__ == "__main__":
    describe(__doc__)
    main()
