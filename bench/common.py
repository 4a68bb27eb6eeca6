"""Helpers for benchmarks: every figure is printed beside a baseline measured in the same run."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_ASSETS = ROOT.parent / "shared" / "assets"
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED_ASSETS / "tiktoken-cache"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def timeit(fn, repeat: int = 7, warmup: int = 1) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gpt2_small_random(save: bool = False):
    """GPT-2 small architecture (124M, vocab 50,257) with random weights and the real GPT-2 tokenizer.

    Returns (HFCausalLM, folder or None). With save=True the model is written to a temp folder
    so the app itself can load it by path.
    """
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from lib.models.next_token import HFCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(SHARED_ASSETS / "hf-tokenizers" / "gpt2"))
    model = GPT2LMHeadModel(GPT2Config()).eval()
    folder = None
    if save:
        folder = Path(tempfile.mkdtemp(prefix="gpt2-random-"))
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return HFCausalLM(model, tokenizer, str(folder) if folder else "gpt2-small-random"), folder


def report(name: str, value: float, baseline: float, baseline_name: str, want: str) -> None:
    ratio = baseline / value if value else float("inf")
    print(f"{name:<48} {value * 1e3:9.2f} ms | {baseline_name} {baseline * 1e3:9.2f} ms | "
          f"ratio {ratio:7.1f}x  ({want})")


def apptest_rerun_seconds(page: str, query: dict, change, repeat: int = 5) -> tuple[float, float]:
    """(first run, median rerun after `change(at)`) for one page in AppTest."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.run()
    at.switch_page(page)
    at.query_params.update(query)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    assert not at.exception, at.exception
    times = []
    for i in range(repeat):
        change(at, i)
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    return first, statistics.median(times)


def describe(doc: str | None) -> argparse.Namespace:
    """A benchmark without options still answers --help with what it measures (its module docstring)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser.parse_args()
