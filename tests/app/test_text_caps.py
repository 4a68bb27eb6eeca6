"""Every text box has a length cap (max_chars: Streamlit cuts what the browser sends to it), and a text from a
link longer than the Tokenizer's cap is cut with one clear line. A source scan (ast) keeps every box capped."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([ROOT / "streamlit_app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "components").rglob("*.py")])
TEXT_WIDGETS = ("text_input", "text_area", "chat_input")


def uncapped(source: str, filename: str = "<src>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TEXT_WIDGETS
                and not any(kw.arg == "max_chars" for kw in node.keywords)):
            found.append(f"{filename}:{node.lineno} {node.func.attr} without max_chars")
    return found


def test_every_text_box_has_a_cap():
    problems = [p for path in SOURCES for p in uncapped(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source, n", [("st.text_area('x')", 1), ("c1.text_input('x', key='k')", 1),
                                       ("st.text_area('x', max_chars=10)", 0), ("st.chat_input()", 1)])
def test_the_scan_finds_an_uncapped_box(source, n):
    assert len(uncapped(source)) == n


def rss_bytes() -> int:
    """This process's resident memory now (Linux /proc), not its peak."""
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_three_distinct_10_mb_texts_grow_the_hosted_tokenizer_by_at_most_100_mb(monkeypatch):
    """Issue 24: each distinct 10 MB text used to add ~180 MB that stayed cached for an hour (600 MB for three)."""
    import gc
    import random

    from tests.app.apptest import open_page

    monkeypatch.setenv("LLMX_HOSTED", "1")
    at = open_page("pages/tokenizer.py")
    words = "the of and to in that it was his her with as for had you not be on at by which".split()
    gc.collect()
    before = rss_bytes()
    for seed in range(3):
        rng = random.Random(seed)
        text = " ".join(rng.choice(words) + str(rng.randrange(10_000)) for _ in range(1_400_000))[: 10 * 2**20]
        at.text_area(key="tok_text").set_value(text).run()
        assert not at.exception
        del text
    gc.collect()
    grown = rss_bytes() - before
    assert grown <= 100 * 2**20, f"grew by {grown / 2**20:.0f} MB"
    assert len(at.text_area(key="tok_text").value) == 100_000  # what was tokenized: the capped text


def test_a_text_from_a_link_over_the_cap_is_cut_with_one_line():
    from tests.app.apptest import open_page

    at = open_page("pages/tokenizer.py", text="ab " * 50_000)  # 150,000 characters
    assert [w.value for w in at.warning] == ["That text was 150,000 characters; the tokenizer here takes the first 100,000."]
    assert len(at.text_area(key="tok_text").value) == 100_000 and not at.error
