"""How much faster is the analytic count than building each model on the meta device? Ratios from one run.

    python -m bench.bench_scale
"""

from __future__ import annotations

import time

from bench.common import describe

from lib.scale import meta_device
from lib.scale import maths as scale
from lib.scale import published as scale_catalog


def timed(fn, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    models = [m for m in scale_catalog.catalog() if m.counter == "transformers"]
    import_s = timed(lambda: __import__("transformers") and __import__("torch"))
    formula_s = timed(lambda: [scale.count(m.spec) for m in models], repeat=200)
    meta_device.meta_breakdown.cache_clear()
    meta_s = timed(lambda: [meta_device.meta_count(m.spec) for m in models])
    cached_s = timed(lambda: [meta_device.meta_count(m.spec) for m in models], repeat=200)
    print(f"{len(models)} models with a transformers class")
    print(f"import torch + transformers : {import_s * 1e3:9.1f} ms (once per process)")
    print(f"analytic formula, all models : {formula_s * 1e3:9.3f} ms")
    print(f"meta device, all models      : {meta_s * 1e3:9.1f} ms  ({meta_s / formula_s:,.0f}× the formula)")
    print(f"meta device, cached          : {cached_s * 1e3:9.3f} ms  ({cached_s / formula_s:.2f}× the formula)")
    print(f"first meta count incl. import: {(import_s + meta_s) / formula_s:,.0f}× the formula")


if __name__ == "__main__":
    describe(__doc__)
    main()
