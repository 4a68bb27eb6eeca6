"""Fuzz: every query parameter of every page and every text box, with a corpus of hostile and broken values.

A page passes when it shows no exception element, its guard caught nothing, it still renders its title, and
no user text reached markdown, HTML or a Plotly spec unescaped (tests/app/inspect_page.py says how each is
read). To stay fast, each run sets *every* parameter of a page to the same corpus value (one fresh session
per value), and each text box gets the corpus through one shared session per page. The browser sample is in
tests/e2e/test_fuzz_browser.py.
"""

from __future__ import annotations

import math
import os

import pytest
from streamlit.testing.v1 import AppTest

from lib.page_table import PAGES as PAGE_TABLE
from lib.sampling.knobs import KNOBS
from tests.app.inspect_page import problems
from tests.conftest import ROOT, need_shared

CORPUS = {
    "empty": "",
    "whitespace": "   \t\n  ",
    "100k chars": "ab " * 33_334,
    "lone surrogate": "x\ud800y\udfff",
    "NUL and control": "a\x00b\x01\x07\x1b[31m\x7fc",
    "RTL override": "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "ZWJ emoji": "👩\u200d👩\u200d👧\u200d👦🏳️\u200d🌈",
    "special tokens": "<|endoftext|><|im_start|>user\nhi<|im_end|>[CLS][MASK]</s>",
    "html and js": '<script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a>',
    "markdown link": "[click](http://evil.example/) **bold** # heading http://evil.example",
    "latex and directives": r"$\frac{1}{0}$ $$x$$ :red[red] :material/home: :smile: \[x\]",
    "percent-encoding": "%G1%25%32%35%",
    "number as text": "12abc",
    "negative": "-5",
    "nan": "nan",
    "inf": "-inf",
    "huge": "1e308",
    "huge integer": "9" * 400,
    "300-char id": "org/" + "a" * 300,
    "300-char name": "m" * 300,
    "separators": ",,, ; ,",
}
# Every markup payload at once. In CI one session per page puts it in *every* parameter, so whichever parameter a
# page echoes into a message, label or chart gets it (the rotation alone gives each parameter only a few values).
HOSTILE = ("[click](http://evil.example/) <script>alert(1)</script> <img src=x onerror=alert(1)> "
           '<a href="javascript:alert(1)">x</a> $x$ :red[x] **b** <|endoftext|>')
CORPUS["all markup at once"] = HOSTILE

KNOB_PARAMS = [row.name for row in KNOBS]  # each knob's URL parameter is its name in the table

# Every query parameter each page reads, by hand except the knobs' (test_every_parameter_the_code_reads_is_fuzzed
# scans the code for any name missing here).
PARAMS = {
    "pages/tokenizer.py": ["text", "tokenizers", "ids_view", "group", "view", "single", "lang", "decode_with", "ids",
                           "chat", "system", "user", "assistant", "word", "bpe_tokenizer", "merges"],
    "pages/next-token.py": ["model", "prompt", "chat", "picks", "n", "scale", "tokens", "mode", "seed", "temperature",
                            "api", "api_model", "api_endpoint"],
    "pages/sampling.py": ["model", "prompt", *KNOB_PARAMS, "api", "api_model", "api_endpoint"],
    "pages/training-stages.py": ["stage", "family", "prompt", "expected", "tokens", "temperature", "seed",
                                 "shift_model", "complete"],
    "pages/model-scale.py": ["models", "view", "meta", "treemap", "L", "d", "h", "V", "ctx", "tied", "sentence",
                             "bert"],
    "pages/inside.py": ["model", "prompt", "view", "layer", "head", "pattern", "grid"],
    "pages/lecture.py": ["step", "present", "frame"],
    "pages/play.py": ["round", "me"],
}
PAGES = {row.file: PARAMS.get(row.file, []) for row in PAGE_TABLE}  # every page of the app, from its table
# Tabs that only run when open: each gets its own sweep so their parameters are read.
TABS = {
    "pages/tokenizer.py": ["Single view", "Side by side", "Multilingual", "Decode", "Chat format"],
    "pages/model-scale.py": None,  # filled from components.sections.scale_views.VIEWS
}


def fresh(page: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.run()
    at.switch_page(page)
    at.query_params.update(query)
    at.run()
    return at


def url_safe(value: str) -> str:
    """What a browser can put in a link: lone surrogates become U+FFFD (as the browser's URL encoder does)."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("?", "\ufffd") if any(
        0xD800 <= ord(c) <= 0xDFFF for c in value) else value


FULL = os.environ.get("LLMX_FUZZ_FULL", "") == "1"  # every (parameter, value) pair: ~20x longer, for nightly runs


def assignments(params: list[str]) -> list[dict[str, str]]:
    """Deterministic queries. CI: the fewest sessions that pass every corpus value through the page, parameter i of
    run k getting value (k * len(params) + i) mod N. Full: one session per value, with every parameter set to it."""
    values = list(CORPUS.values())
    if FULL:
        return [{p: url_safe(v) for p in params} for v in values]
    runs = math.ceil(len(values) / len(params))
    return [{p: url_safe(values[(k * len(params) + i) % len(values)]) for i, p in enumerate(params)}
            for k in range(runs)] + [{p: HOSTILE for p in params}]


def describe(query: dict[str, str]) -> str:
    names = {v: k for k, v in CORPUS.items()}
    return ", ".join(f"{p}={names.get(v, 'surrogate')}" for p, v in query.items())


@pytest.mark.parametrize("page", [p for p in PAGES if PAGES[p]])
def test_every_query_parameter_with_bad_values(page):
    need_shared()
    failures = []
    for query in assignments(PAGES[page]):
        at = fresh(page, query)
        failures += [f"{describe(query)}: {p}" for p in problems(at)]
    assert not failures, "\n".join(failures)


def literal_parameters() -> dict[str, set[str]]:
    """Query parameters read by name in pages/ and components/: from_query(key, "name", …),
    st.query_params.get("name") and st.query_params["name"] (names built at run time, as the knobs', are not seen)."""
    import ast

    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "components").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            name = None
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == "from_query" and len(node.args) >= 2:
                    name = node.args[1]
                elif called == "get" and "query_params" in ast.unparse(getattr(func, "value", func)) and node.args:
                    name = node.args[0]
            elif isinstance(node, ast.Subscript) and "query_params" in ast.unparse(node.value):
                name = node.slice
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found.setdefault(name.value, set()).add(path.name)
    return found


def test_the_parameter_lists_name_only_pages_of_the_app():
    assert set(PARAMS) <= set(PAGES), set(PARAMS) - set(PAGES)


def test_every_parameter_the_code_reads_is_fuzzed():
    fuzzed = {p for params in PAGES.values() for p in params}
    missing = {name: files for name, files in literal_parameters().items() if name not in fuzzed}
    assert not missing, f"add these to PAGES: {missing}"
    assert len(literal_parameters()) > 30  # the scan itself still finds the parameters


def test_the_ci_runs_pass_every_value_through_every_page():
    for page, params in PAGES.items():
        if params:
            used = {v for q in assignments(params) for v in q.values()}
            assert used == {url_safe(v) for v in CORPUS.values()}, page


# Text boxes: one session per page; each box gets a rotating third of the corpus (all of it with LLMX_FUZZ_FULL).
TEXT_BOXES = {
    "pages/next-token.py": ({}, ["nt_prompt"]),
    "pages/sampling.py": ({}, ["sk_prompt"]),
    "pages/tokenizer.py": ({"view": "Chat format"}, ["tok_text", "tok_sys", "tok_user", "tok_asst"]),
    "pages/training-stages.py": ({"tokens": "1"}, ["ts_prompt", "ts_expected"]),
    "pages/inside.py": ({}, ["ins_prompt"]),
    "pages/tokenizer.py#bpe": ({"view": "How BPE builds a token"}, ["bpe_word", "bpe_train_text"]),
}


@pytest.mark.parametrize("page", list(TEXT_BOXES))
def test_every_text_box_with_bad_values(page):
    need_shared()
    query, keys = TEXT_BOXES[page]
    at = fresh(page.split("#")[0], query)  # "#tab" names a second sweep of one page
    values = list(CORPUS.items())
    failures = []
    for j, key in enumerate(keys):
        chosen = values if FULL else values[j % 3::3]
        for name, value in chosen:
            box = at.text_area(key=key) if any(w.key == key for w in at.text_area) else at.text_input(key=key)
            box.set_value(url_safe(value)).run()
            failures += [f"{key}={name}: {p}" for p in problems(at)]
    assert not failures, "\n".join(failures)


def test_the_lecturers_boxes_on_the_game_page(tmp_path, monkeypatch):
    """The lecturer's sidebar: their own prompt and true word (then Start round), and the lecturer-code box."""
    need_shared()
    monkeypatch.setenv("LLMX_GAME_STORE", str(tmp_path / "game.sqlite3"))
    at = fresh("pages/game.py", {})
    at.radio(key="game_source").set_value("My own").run()
    code = at.session_state["game_code"]
    failures = []
    for name, value in CORPUS.items():
        at.text_area(key="game_prompt").set_value(url_safe(value))
        at.text_input(key="game_true_custom").set_value(url_safe(value)[:40])
        at.button(key="game_start").click().run()
        failures += [f"prompt/true word={name}: {p}" for p in problems(at)]
    from lib.classroom.store import open_store

    assert len(open_store(str(tmp_path / "game.sqlite3")).rounds_for(code)) >= len(CORPUS) // 2  # rounds did start
    for name, value in list(CORPUS.items())[::3]:
        at.text_input(key="game_code_in").set_value(url_safe(value)).run()
        failures += [f"lecturer code={name}: {p}" for p in problems(at)]
    assert not failures, "\n".join(failures)
