"""Tokenizer page speed on a 100,000-character text. Timings and ratios come from the same run.

    .venv/bin/python bench/bench_tokenizer.py [--chars 100000] [--repeat 5] [--no-hf]

Compares our segmentation with bare tiktoken encoding, the capped render with the full render,
and (unless --no-hf) our GPT-2 transformers path with the bare transformers call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.setup import configure_environment

configure_environment()

from lib.tokens.loading import load
from lib.tokens import tokenization as T

SAMPLE = ("When I arrived back at the panda breeding facility, they are splashing! 🦙👩‍👩‍👧 "
          "def f(x):\n    return x ** 2  # 1234567 × 89\n今天天气很好，所以我们要去公园。 आज मौसम अच्छा है। ")


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-hf", action="store_true")
    parser.add_argument("--no-page", action="store_true", help="skip the whole-page AppTest timing")
    args = parser.parse_args()
    text = (SAMPLE * (args.chars // len(SAMPLE) + 1))[:args.chars]

    from components.sections.token_view import RENDER_CAP, chips_html  # imports streamlit, but renders nothing

    enc = load("cl100k_base").enc
    enc.encode_ordinary(text)  # warm up
    rows = []
    t_bare, ids = timed(lambda: enc.encode_ordinary(text), args.repeat)
    t_full, full = timed(lambda: T.segment("cl100k_base", text), args.repeat)
    t_cap, capped = timed(lambda: T.segment("cl100k_base", text, limit=RENDER_CAP), args.repeat)
    t_html_full, html_full = timed(lambda: chips_html(full, cap=len(full.segments)), args.repeat)
    t_html_cap, html_cap = timed(lambda: chips_html(capped, cap=RENDER_CAP), args.repeat)
    assert full.n_tokens == capped.n_tokens == len(ids)

    print(f"text: {len(text):,} characters, {len(text.encode()):,} bytes; cl100k_base: {len(ids):,} tokens, "
          f"{len(full.segments):,} segments; median of {args.repeat}")
    rows += [("bare tiktoken encode_ordinary", t_bare), ("segment(), all segments", t_full),
             (f"segment(), first {RENDER_CAP:,} segments", t_cap),
             (f"chips HTML, all {len(full.segments):,} chips ({len(html_full) / 1e6:.1f} MB)", t_html_full),
             (f"chips HTML, capped at {RENDER_CAP:,} ({len(html_cap) / 1e6:.2f} MB)", t_html_cap)]
    for name, t in rows:
        print(f"  {name:<48} {t * 1000:9.1f} ms")
    print("ratios (same run):")
    print(f"  full segmentation / bare tiktoken encode        {t_full / t_bare:6.1f}×")
    print(f"  capped segmentation / bare tiktoken encode      {t_cap / t_bare:6.1f}×")
    print(f"  full render / capped render (segment + HTML)    {(t_full + t_html_full) / (t_cap + t_html_cap):6.1f}×")
    print(f"  full HTML size / capped HTML size               {len(html_full) / len(html_cap):6.1f}×")

    if not args.no_hf:
        backend = load("hf:gpt2")
        backend.encode(text)  # warm up
        t_hf_bare, _ = timed(lambda: backend.tok(text, verbose=False)["input_ids"], args.repeat)
        t_hf_seg, seg = timed(lambda: T.segment("hf:gpt2", text, limit=RENDER_CAP), args.repeat)
        print(f"transformers GPT-2 ({seg.n_tokens:,} tokens):")
        print(f"  {'bare tokenizer(text)':<48} {t_hf_bare * 1000:9.1f} ms")
        print(f"  {'segment(), first %s segments' % f'{RENDER_CAP:,}':<48} {t_hf_seg * 1000:9.1f} ms")
        print(f"  ratio segment / bare transformers call          {t_hf_seg / t_hf_bare:6.1f}×")

    if not args.no_page:
        t_short, t_long = page_runs(text, args.repeat)
        print("whole page rerun through AppTest (Single view, cl100k_base):")
        print(f"  {'19-character text':<48} {t_short * 1000:9.1f} ms")
        print(f"  {f'{len(text):,}-character text (capped chips)':<48} {t_long * 1000:9.1f} ms")
        print(f"  ratio long / short page rerun                   {t_long / t_short:6.1f}×")


def page_runs(text: str, repeat: int) -> tuple[float, float]:
    """Median rerun time of the page after typing a short text and after typing `text` (fresh text each time)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params["tokenizers"] = "cl100k_base"
    at.run()
    at.switch_page("pages/tokenizer.py")
    at.run()
    out = []
    for sample in (" they are splashing", text):
        times = []
        for k in range(repeat):
            fresh = sample + " " * (k + 1)  # new text, so the segmentation cache does not answer
            start = time.perf_counter()
            at.text_area(key="tok_text").set_value(fresh).run()
            times.append(time.perf_counter() - start)
            assert not at.exception
        out.append(statistics.median(times))
    return out[0], out[1]


if __name__ == "__main__":
    main()
