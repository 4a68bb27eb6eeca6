"""Inside-the-model costs on the GPT-2 small architecture (random weights, real GPT-2 tokenizer).

Prints, against a plain forward pass measured in this run (all positions' logits, the model's default
attention): the cost of the logit lens + attention for a 64-token prompt (aim <= 1.5x), split into the
eager forward with hidden states and attentions, and the lens (13 layers x 64 positions through the head).
Then the cost of drawing one attention head's chart (a layer/head switch) vs the forward pass, and a
whole-page AppTest rerun after moving the head slider (an upper bound: in the browser only the fragment reruns).
"""

import shutil

import torch

from bench.common import gpt2_small_random, timeit, describe


def main():
    torch.set_num_threads(2)
    lm, folder = gpt2_small_random(save=True)
    text = ("When I arrived back at the panda breeding facility after the extraordinary rain of live frogs, I "
            "couldn't believe what I saw: the pandas were dancing in the rain and the keepers were singing along.")
    ids = (list(lm.encode(text).ids) * 4)[:64]
    x = torch.tensor([ids])

    def plain():
        with torch.inference_mode():
            lm.model(x)

    def eager_pass():
        from lib.models.inside import _eager
        with torch.inference_mode(), _eager(lm.model):
            lm.model(x, output_hidden_states=True, output_attentions=True, use_cache=False)

    from lib.models.inside import look_inside

    forward = timeit(plain)
    eager = timeit(eager_pass)
    inside = timeit(lambda: look_inside(lm.model, ids, lm.forward), repeat=5)
    print(f"GPT-2 small random weights, vocab {lm.vocab_size:,}, prompt {len(ids)} tokens, 2 threads")
    print(f"plain forward (all logits)          {forward * 1e3:8.1f} ms")
    print(f"eager forward + hidden + attentions {eager * 1e3:8.1f} ms  ratio {eager / forward:5.2f}x")
    print(f"look_inside (lens + attention)      {inside * 1e3:8.1f} ms  ratio {inside / forward:5.2f}x  (aim <= 1.5x)")

    from components.sections.inside_views import attention_chart, lens_chart
    import plotly.io as pio

    data = look_inside(lm.model, ids, lm.forward)
    heads = iter(range(10**6))

    def switch_head():
        i = next(heads)
        pio.to_json(attention_chart(lm, data, i % 12, (i // 12) % 12), validate=False)

    chart = timeit(switch_head, repeat=21)
    lens = timeit(lambda: pio.to_json(lens_chart(lm, data), validate=False))
    print(f"attention chart for one head (json) {chart * 1e3:8.1f} ms  ratio {chart / forward:5.2f}x forward")
    print(f"lens grid chart (json)              {lens * 1e3:8.1f} ms  ratio {lens / forward:5.2f}x forward")

    from bench.common import apptest_rerun_seconds

    def move_head(at, i):
        at.slider(key="ins_head").set_value(1 + (i + 1) % 12)

    first, rerun = apptest_rerun_seconds("pages/inside.py", {"model": str(folder), "prompt": text, "view": "attention"},
                                         move_head, repeat=7)
    print(f"AppTest: first run {first * 1e3:8.1f} ms, page rerun after a head move {rerun * 1e3:8.1f} ms "
          f"(ratio {rerun / forward:5.2f}x forward)")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    describe(__doc__)
    main()
