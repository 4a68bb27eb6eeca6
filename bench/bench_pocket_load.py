"""Load time of the bundled pocket-lm, in a fresh process, beside GPT-2 small (random weights) loaded the same way.

transformers' import is timed separately: it is paid once per process whatever the model.
"""

import json
import os
import subprocess
import sys

from bench.common import ROOT, gpt2_small_random, describe

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import transformers, torch
from lib.models.next_token import HFCausalLM
t1 = time.perf_counter()
HFCausalLM.load(sys.argv[1])  # the first load also imports transformers' lazily loaded GPT-2 modules
t2 = time.perf_counter()
HFCausalLM.load(sys.argv[1])  # the model itself: what every later load in the process costs
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "load": t3 - t2}))
"""


def load_seconds(ref: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, ref], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    _, folder = gpt2_small_random(save=True)
    runs = 3
    pocket = [load_seconds("pocket-lm") for _ in range(runs)]
    gpt2 = [load_seconds(str(folder)) for _ in range(runs)]
    med = lambda xs, k: sorted(x[k] for x in xs)[len(xs) // 2]
    p, g = med(pocket, "load"), med(gpt2, "load")
    print(f"import transformers+torch: {med(pocket, 'import'):.2f} s (paid once per process)")
    print(f"first load in a process (adds transformers' lazy GPT-2 imports): pocket-lm {med(pocket, 'first'):.3f} s "
          f"| GPT-2 small {med(gpt2, 'first'):.3f} s")
    print(f"pocket-lm load: {p:.3f} s (want < 1 s) | GPT-2 small (random, local folder) load: {g:.3f} s | "
          f"ratio {g / p:.1f}x faster")


if __name__ == "__main__":
    describe(__doc__)
    main()
