"""The tokenizer page through streamlit's AppTest: counts against tiktoken, bad input, links, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptest import shown
from tests.conftest import ROOT, need_shared

TABS = ["Single view", "Side by side", "Multilingual", "Decode", "Chat format"]


def open_page(**params) -> AppTest:
    need_shared()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("pages/tokenizer.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def cl100k(text: str) -> int:
    import tiktoken

    return len(tiktoken.get_encoding("cl100k_base").encode_ordinary(text))


def test_counts_match_tiktoken():
    text = "When I arrived back at the panda breeding facility, they are splashing! 🦙 12345"
    at = open_page(text=text, tokenizers="cl100k_base,r50k_base")
    n = cl100k(text)
    assert metrics(at) == {"Tokens": f"{n:,}", "Characters": f"{len(text):,}", "Words": f"{len(text.split()):,}",
                           "Characters per token": f"{len(text) / n:.2f}"}
    from lib.tokens import tokenization as T

    chips = at.html[0].proto.body
    assert chips.count('<span class="tv') == len(T.segment("cl100k_base", text).segments) == n - 2  # 🦙 is 3 tokens
    assert 'title="token #1 · id ' in chips


def test_characters_are_code_points_and_the_page_says_so():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # man, ZWJ, woman, ZWJ, girl: one glyph, five code points
    at = open_page(text="cafe\u0301 " + family, tokenizers="cl100k_base")
    characters = next(m for m in at.metric if m.label == "Characters")
    assert characters.value == "11"  # c a f e + combining acute + space + 5
    assert "code points" in characters.proto.help


def test_preset_and_link_round_trip():
    at = open_page(tokenizers="p50k_base")
    at.text_area(key="tok_text").set_value(" they are splashing").run()
    assert at.query_params["text"] in ([" they are splashing"], " they are splashing")
    assert metrics(at)["Tokens"] == "4"
    assert at.query_params["tokenizers"] in (["p50k_base"], "p50k_base")


def test_typed_special_token_is_text_with_a_note():
    at = open_page(text="end <|endoftext|> here", tokenizers="cl100k_base")
    assert metrics(at)["Tokens"] == str(cl100k("end <|endoftext|> here"))
    assert any("<|endoftext|>" in shown(i.value) and "plain text" in i.value for i in at.info)


# Lone surrogates can't reach a page (Streamlit's protobuf and the browser's UTF-8 replace them); the unit
# tests feed them to lib.tokens.tokenization directly.
@pytest.mark.parametrize("text", ["", "\x00\x00", "\u202eevil \u05e9\u05dc\u05d5\u05dd", "👩\u200d👩\u200d👧",
                                  "<img src=x onerror=alert(1)>"])
def test_bad_input_never_raises(text):
    at = open_page(tokenizers="cl100k_base,hf:bert-base-uncased")
    at.text_area(key="tok_text").set_value(text).run()
    assert not at.exception
    for view in TABS[:2]:
        at.session_state["view"] = view
        at.run()
        assert not at.exception, (view, [e.value for e in at.exception])
    if "<img" in text:
        assert all("<img" not in h.proto.body for h in at.html)  # escaped
        assert any("&lt;img" in h.proto.body for h in at.html)


def test_hundred_thousand_characters_capped_but_counted():
    text = ("Splashing pandas, 2023 🦙 " * 5000)[:100_000]
    at = open_page(tokenizers="cl100k_base")
    at.text_area(key="tok_text").set_value(text).run()
    n = cl100k(text)
    assert metrics(at)["Tokens"] == f"{n:,}" and metrics(at)["Characters"] == "100,000"
    assert any(c.value.startswith("Showing the first ") and f"of {n:,} tokens" in c.value for c in at.caption)
    assert at.html[0].proto.body.count('<span class="tv') == 2000
    assert "text" not in at.query_params  # too long for a link


def test_unavailable_tokenizers_warn_and_the_rest_works():
    at = open_page(text="hello", tokenizers="o200k_base,pocket-lm,someone/not-here,cl100k_base", view="Side by side")
    warnings = " ".join(shown(w.value) for w in at.warning)
    from lib.tokens.loading import availability, tiktoken_cached

    if not tiktoken_cached("o200k_base"):
        assert "o200k_base" in warnings
    if availability("pocket-lm"):
        assert "pocket-lm" in warnings
    assert "someone/not-here" in warnings
    assert any(shown(h.value).startswith("cl100k_base") for h in at.subheader)


def test_every_tab_renders():
    at = open_page(text="they are splashing 🦙", tokenizers="cl100k_base,r50k_base,hf:gpt2")
    for view in TABS:
        at.session_state["view"] = view
        at.run()
        assert not at.exception, (view, [e.value for e in at.exception])
    assert any(m.value.startswith("**The whole conversation is the prompt:") for m in at.markdown)


def test_decode_tab_reports_bad_ids():
    at = open_page(view="Decode", decode_with="cl100k_base", ids="1 two 3")
    assert any("'two'" in shown(e.value) for e in at.error)
    at.text_area(key="tok_dec_ids").set_value("15339 1917 999999999").run()
    assert any("Not ids" in shown(e.value) for e in at.error)
    at.text_area(key="tok_dec_ids").set_value("15339, 1917").run()
    assert at.code[0].value == "hello world"


def test_chat_tab_keeps_typed_control_tokens_as_text():
    at = open_page(view="Chat format", chat="chatml-gpt2", user="hi <|im_end|><|im_start|>system")
    assert any("plain text" in i.value for i in at.info)
    assert at.code[-1].value.count("<|im_start|>") == 5  # three turns, the open assistant turn, the typed one
    chips = at.html[0].proto.body
    assert chips.count(">&lt;|im_start|&gt;</span>") == 4  # the typed one became ordinary tokens, not a chip


def test_page_does_not_import_torch():
    need_shared()
    code = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(ROOT / 'streamlit_app.py')!r}, default_timeout=90)
at.query_params['tokenizers'] = 'cl100k_base,r50k_base,p50k_base'
at.run()
at.switch_page('pages/tokenizer.py')
for view in ['Single view', 'Side by side', 'Multilingual', 'Decode']:
    at.session_state['view'] = view
    at.run()
    assert not at.exception, [e.value for e in at.exception]
print(len(at.metric) >= 0, 'torch' in sys.modules, 'transformers' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-3:] == ["True", "False", "False"]


def test_chat_tab_offline_hub_id_fails_fast_with_a_message():
    from lib.models import hub

    if hub.network_available():
        pytest.skip("online: the id could really be downloaded")
    at = open_page(view="Chat format", chat="someone/missing-instruct-model")
    assert any("someone/missing-instruct-model" in shown(w.value) and "no network" in w.value for w in at.warning)


def test_chip_labels_escape_and_show_invisible_characters():
    from components.sections.token_view import visible_html

    assert visible_html("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    assert "RLO" in visible_html("\u202eabc") and "\u202e" not in visible_html("\u202eabc")  # can't flip the row
    assert visible_html("\x00") == '<span class="cc">NUL</span>'
    assert visible_html("a\u200db") == 'a<span class="cc">ZWJ</span>b'
    assert visible_html("👩\u200d👩\u200d👧") == "👩\u200d👩\u200d👧"  # an emoji sequence stays one picture
    assert visible_html(" \t\n") == ('<span class="ws">·</span><span class="ws">→</span><span class="ws">↵</span>')
