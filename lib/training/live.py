"""The page's "Fine-tune live" demo: a few dozen SFT steps on a fresh copy of pocket-lm, reported step by step."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from lib.training.sft_dpo import _batches, _lr, _optimizer, add_chat_template, encode_pair, load, sft_step
from lib.teaching.instructions import Example, probe_example, sft_examples

# The live demo runs inside the app's server, with the server's torch threads (one by default, set at start-up:
# on a busy 2-core machine two threads were much slower, 0.8 s vs 2.1 s per SFT step at batch 16).
LIVE: dict[str, Any] = dict(steps=30, batch_size=8, lr=1e-3, warmup=3, seed=7)
LIVE_SLOT = threading.BoundedSemaphore(1)   # one live fine-tune at a time per process: the CPU is shared


@dataclass(frozen=True)
class LiveStep:
    step: int              # 0 = before training
    steps: int
    loss: float | None     # None before the first step
    probe: object          # lib.sampling.distribution.Distribution of the probe's first answer token
    expected_ids: tuple[int, ...]   # ids that start the probe's expected answer (lib/teaching/stages.py)
    expected_prob: float
    seconds: float


def live_sft(base: str | Path, steps: int = LIVE["steps"], probe: Example | None = None,
             examples: Sequence[Example] | None = None, cfg: dict = LIVE) -> Iterator[LiveStep]:
    """Fine-tune a fresh copy of `base` for `steps` SFT steps, yielding the probe's distribution after each step.

    The model is loaded from disk here, so the app's shared, cached models are never touched. Process-wide
    settings (torch's thread count) are left as start-up set them.
    """
    yield from _live_steps(base, steps, probe, examples, cfg, time.perf_counter())


def _live_steps(base, steps: int, probe: Example | None, examples, cfg: dict, t0: float) -> Iterator[LiveStep]:
    import torch

    from lib.models.next_token import HFCausalLM
    from lib.teaching.stages import answer_start_ids, expected_probability, format_prompt

    model, tokenizer = load(base)
    add_chat_template(tokenizer)
    wrapped = HFCausalLM(model, tokenizer, "live")
    probe = probe or probe_example()
    probe_prompt = format_prompt(wrapped, probe.instruction, True).prompt
    expected = answer_start_ids(tokenizer, probe.answer)

    def report(step: int, loss: float | None) -> LiveStep:
        dist = wrapped.distribution(probe_prompt)
        return LiveStep(step, steps, loss, dist, expected, expected_probability(dist, expected),
                        time.perf_counter() - t0)

    if examples is None:  # the concise demonstrations only: the demo shows the format being learned
        examples = [ex for ex in sft_examples() if not ex.answer.startswith("Well")]
    rows = [encode_pair(tokenizer, ex.instruction, ex.answer) for ex in examples]
    cfg = {**cfg, "steps": steps}
    torch.manual_seed(cfg["seed"])
    opt = _optimizer(model, cfg["lr"])
    batches = _batches(len(rows), min(cfg["batch_size"], len(rows)), cfg["seed"])
    yield report(0, None)
    for step in range(steps):
        loss = sft_step(model, opt, tokenizer, [rows[i] for i in next(batches)], _lr(step, cfg))
        yield report(step + 1, loss)
