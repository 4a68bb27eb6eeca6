"""Sampling knobs on a GPT-2-sized vocabulary (50,257; GPT-2 small architecture, random weights).

Prints, against a forward pass measured in this run:
- the knob transform alone (aim: under 5 ms), and
- a knob-move rerun of the sampling fragment: knobs + readouts + the three charts' HTML (want >= 20x faster).
"""

import numpy as np
import torch

from bench.common import gpt2_small_random, report, timeit, describe
from components.sections.html_charts import cumulative_svg, paired_bars
from lib.sampling.knobs import Knobs
from lib.sampling.apply import apply_knobs, sample, summary


def main():
    torch.set_num_threads(2)
    lm, _ = gpt2_small_random()
    prompt = lm.encode("She opened the door and looked out at the garden, where the children were playing")
    x = torch.tensor([list(prompt.ids)])

    def forward():
        with torch.inference_mode():
            lm.model(x)

    fwd = timeit(forward)
    logits = lm.logits(prompt.ids)
    dist = lm.distribution_from_logits(logits)
    every_knob = Knobs(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, typical_p=0.95, repetition_penalty=1.3)
    print(f"vocab {len(logits):,}; prompt {len(prompt.ids)} tokens")
    for name, knobs in [("temperature only", Knobs(temperature=0.7)), ("top-p only", Knobs(top_p=0.9)),
                        ("all six knobs", every_knob)]:
        report(f"knob transform: {name}", timeit(lambda: apply_knobs(logits, knobs, prompt.ids), repeat=21),
               fwd, "forward", "aim < 5 ms")

    original, top = dist.probs, dist.order(2000)  # as the page: once per prompt, outside the fragment

    def fragment_rerun():
        """What the sampling fragment computes on a knob move: knobs, readouts, the three charts."""
        result = apply_knobs(logits, every_knob, prompt.ids)
        summary(result.probs, original)  # the "before" readouts are computed once per prompt, outside
        order = dist.order(10)
        labels = [r.label for r in dist.top_rows(10)]
        after = result.probs[order]
        paired_bars([*labels, "everything else"], [*original[order], 0.1], [*after, 0.1], "model", "after knobs",
                    removed=[p == 0 for p in after])
        cumulative_svg(original[top], 0.9)
        freq = np.bincount(sample(result.probs, np.random.default_rng(0), 1000), minlength=len(original)) / 1000
        paired_bars(labels, after, freq[order], "probability after knobs", "share of 1,000 draws")

    report("knob-move rerun of the fragment (no forward)", timeit(fragment_rerun), fwd, "forward",
           "want >= 20x faster")


if __name__ == "__main__":
    describe(__doc__)
    main()
