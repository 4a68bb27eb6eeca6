"""Next-token page costs on the GPT-2 small architecture (random weights, real tokenizer).

Prints three ratios, each against a baseline measured in this run:
1. rerun after changing N / the log toggle vs a forward pass   (want >= 20x faster)
2. KV-cache generation of 200 tokens vs recomputing every step (want >= 5x faster)
3. distribution for a 32-token prompt vs a bare forward pass   (want <= 1.5x the cost)
"""

import shutil

import torch

from bench.common import apptest_rerun_seconds, gpt2_small_random, report, timeit, describe


def main():
    torch.set_num_threads(2)
    lm, folder = gpt2_small_random(save=True)
    text = "When I arrived back at the panda breeding facility after the extraordinary rain of live frogs, I"
    prompt = lm.encode(text)
    ids32 = (list(prompt.ids) * 4)[:32]
    prompt32 = lm.encode("", ids32)
    x = torch.tensor([ids32])

    def bare_forward():
        with torch.inference_mode():
            lm.model(x)

    forward = timeit(bare_forward)
    dist_cost = timeit(lambda: lm.distribution(prompt32))
    print(f"GPT-2 small random weights, vocab {lm.vocab_size:,}, prompt 32 tokens")
    report("distribution(prompt) incl. forward", dist_cost, forward, "bare forward", "want cost <= 1.5x forward")
    print(f"{'':<48} cost ratio {dist_cost / forward:.2f}x forward")

    from components.charts import distribution_chart

    import itertools

    import plotly.io as pio

    logits = lm.logits(ids32).astype("float32")  # what the page's cache holds
    dist = lm.distribution_from_logits(logits.astype("float64"))  # built once per prompt, outside the fragment
    settings = itertools.cycle([(5, True), (15, False)])  # as the AppTest below: N and the log toggle change

    def panel_rerun():
        n, log_scale = next(settings)
        fig = distribution_chart(dist.top_rows(n), dist.rest_mass(n), log_scale=log_scale)
        pio.to_json(fig.to_dict(), validate=False)  # what st.plotly_chart does with a figure
        dist.entropy(), dist.entropy()

    report("fragment rerun after changing N (no forward)", timeit(panel_rerun, repeat=21), forward, "forward",
           "want >= 20x faster")

    def change_n(at, i):
        at.slider(key="nt_n").set_value(5 + i % 2 * 10)
        at.toggle(key="nt_log").set_value(i % 2 == 0)

    first, rerun = apptest_rerun_seconds("pages/next-token.py", {"model": str(folder), "prompt": text, "tokens": "5"},
                                         change_n)
    report("whole-page AppTest rerun (info: fragments skip most)", rerun, forward, "forward", "info only")
    print(f"{'':<48} (first page run, with model load and generation: {first:.1f} s)")

    gen_prompt = lm.encode(text)
    cached = timeit(lambda: lm.generate(gen_prompt, 200, use_cache=True), repeat=1, warmup=0)
    fresh = timeit(lambda: lm.generate(gen_prompt, 200, use_cache=False), repeat=1, warmup=0)
    report("generate 200 tokens with KV cache", cached, fresh, "recompute each step", "want >= 5x faster")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    describe(__doc__)
    main()
