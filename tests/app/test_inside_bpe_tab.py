"""The tokenizer page's BPE tab in AppTest: a deep link opens the replay and the live-trained BPE."""

from tests.app.apptest import open_page
from tests.conftest import need_shared

TAB = "How BPE builds a token"


def chip_blocks(at):
    return [m.value for m in at.markdown if "llmx-chips" in m.value]


def test_deep_link_replays_a_word_with_gpt2_and_trains_a_bpe():
    need_shared()
    at = open_page("pages/tokenizer.py", view=TAB, word=" tokenization", merges="50")
    assert at.text_input(key="bpe_word").value == " tokenization"
    assert at.slider(key="bpe_merges").value == 50
    blocks = chip_blocks(at)
    assert any(m.startswith("**2 tokens**") for m in blocks)  # GPT-2: "Ġtoken" + "ization"
    assert any("merge rank" in m for m in blocks)
    assert any("with your BPE" in m for m in blocks)
    assert len(at.dataframe) == 1


def test_bundled_tokenizer_and_hostile_input_are_escaped():
    at = open_page("pages/tokenizer.py", view=TAB, word="<img src=x onerror=alert(1)> **b** $x$", bpe_tokenizer="pocket-lm")
    assert at.segmented_control(key="bpe_tok").value == "pocket-lm"
    for m in at.markdown:
        assert "<img" not in m.value and "**b**" not in m.value and "$x$" not in m.value


def test_empty_word_asks_for_one():
    at = open_page("pages/tokenizer.py", view=TAB, word="")
    assert any("Type a word" in i.value for i in at.info)
