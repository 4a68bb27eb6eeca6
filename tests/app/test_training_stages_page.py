"""The Training-stages page in Streamlit's AppTest: offline side by side, links, bad input, the live button."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lib.models import hub
from tests.conftest import ROOT

PAGE = "pages/training-stages.py"
BUNDLED = ("pocket-lm", "pocket-lm-sft", "pocket-lm-dpo")


def need_bundled() -> None:
    missing = [n for n in BUNDLED if not (hub.ASSETS / n / "model.safetensors").exists()]
    if missing:
        pytest.fail(f"bundled checkpoints missing: {missing}")


def run_page(**query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.run()
    at.switch_page(PAGE)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


def test_offline_bundled_family_side_by_side():
    need_bundled()
    at = run_page(prompt="Is this sentence happy or sad?\nThe gardener wept quietly at the window.",
                  expected="It is sad.", family="pocket-lm")
    assert [h.value for h in at.subheader][:3] == ["Base", "SFT", "DPO"]
    assert len(at.get("plotly_chart")) == 3
    probs = [m.value for m in at.metric if m.label == "P(expected)"]
    assert len(probs) == 3
    base, sft = (float(v.rstrip("%")) / 100 for v in probs[:2])
    assert sft >= 5 * base
    table = at.dataframe[0].value
    assert list(table["stage"]) == ["Base", "SFT", "DPO"]
    assert table["KL(this ‖ previous stage), nats"].iloc[0] == "–"
    assert not at.warning


def test_query_params_reproduce_the_view():
    need_bundled()
    at = run_page(prompt="Say this more politely:\nRing the bell.", family="pocket-lm", expected="If you please",
                  tokens="5", seed="3", temperature="1.2", stage="preference")
    assert at.text_area(key="ts_prompt").value == "Say this more politely:\nRing the bell."
    assert at.text_input(key="ts_expected").value == "If you please"
    assert at.slider(key="ts_tokens").value == 5 and at.number_input(key="ts_seed").value == 3
    assert at.query_params["family"] == "pocket-lm" and at.query_params["seed"] == "3"
    at.text_area(key="ts_prompt").set_value("Write the opening of a letter to Sir Thomas.").run()
    assert at.query_params["prompt"] == "Write the opening of a letter to Sir Thomas."
    assert any("REJECTED" in h.proto.body for h in at.get("html"))


def test_hub_family_offline_says_it_is_not_available():
    at = run_page(family="smollm2-135m", prompt="What is the capital of France?")
    warned = texts(at.warning)
    assert warned.count("Not available") == 2 and "no network" in warned
    assert not at.get("plotly_chart")


def test_openai_family_explains_what_it_needs():
    at = run_page(family="openai", prompt="Hello")
    assert "API key" in texts(at.info) or "OpenAI backend" in texts(at.info)


def test_unknown_family_falls_back_with_a_message():
    need_bundled()
    at = run_page(family="no-such-family", prompt="Hello")
    assert "no family called" in texts(at.warning)
    assert at.selectbox(key="ts_family").value == "pocket-lm"


def test_empty_prompt_asks_for_text():
    at = run_page(prompt="   ")
    assert "Type a prompt" in texts(at.info)
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("prompt", ["héllo 🙂 你好 \x00\x07 tab\there <|im_end|>", "word " * 20_000])
def test_awkward_prompts_do_not_crash(prompt):
    need_bundled()
    at = run_page(prompt=prompt, family="pocket-lm")
    assert len(at.get("plotly_chart")) == 3


def test_long_prompt_is_cut_with_a_warning():
    need_bundled()
    at = run_page(prompt="word " * 20_000, family="pocket-lm")
    assert "only the last" in texts(at.warning)


def test_story_stages_switch_their_example_data():
    at = run_page(prompt="   ", stage="pretrain")
    assert any("truth universally acknowledged" in h.proto.body for h in at.get("html"))
    at = run_page(prompt="   ", stage="nonsense")
    assert any("USER:" in h.proto.body for h in at.get("html"))  # falls back to the SFT stage


def test_live_fine_tune_runs_and_shows_before_and_after():
    need_bundled()
    at = run_page(prompt="Hello", family="pocket-lm")
    at.button(key="ts_live_go").click().run(timeout=300)
    assert not at.exception, at.exception
    done = texts(at.success)
    assert "Done: 30 steps" in done
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Before fine-tuning" in t for t in titles) and any("After step 30" in t for t in titles)


@pytest.fixture(scope="module")
def local_family(tmp_path_factory):
    """A base and an 'Instruct' checkpoint in local folders: tiny random GPT-2s sharing a BPE tokenizer;
    only the Instruct one carries a chat template."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from lib.tokens.chat_format import CHATML_TEMPLATE
    from lib.teaching.instructions import sft_examples
    from lib.training.pretrain import train_tokenizer

    text = "\n\n".join(f"{e.instruction}\n{e.answer}" for e in sft_examples())
    folders = {}
    for i, stage in enumerate(("base", "instruct")):
        folder = tmp_path_factory.mktemp(f"local-{stage}")
        tokenizer = train_tokenizer(text, 500)
        if stage == "instruct":
            tokenizer.chat_template = CHATML_TEMPLATE
        torch.manual_seed(i)
        GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=32, n_head=2, n_positions=64,
                                   bos_token_id=0, eos_token_id=0)).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[stage] = str(folder)
    return folders


def test_a_family_of_local_folders_goes_through_the_same_loading_path(local_family, monkeypatch):
    from lib.models.catalog import Checkpoint, Family
    from lib.teaching import stages

    family = Family("local", "Local test family", (Checkpoint(local_family["base"], "base", "Base"),
                                                   Checkpoint(local_family["instruct"], "instruct", "Instruct")))
    monkeypatch.setitem(stages.FAMILIES, "local", family)
    at = run_page(family="local", prompt="Is this sentence happy or sad?", expected="It is sad.")
    assert [h.value for h in at.subheader][:2] == ["Base", "Instruct"]
    assert len(at.get("plotly_chart")) == 2 and not at.warning
    chips = [h.proto.body for h in at.get("html") if 'title="id ' in h.proto.body]  # the prompt-token rows
    assert "im_start" not in chips[0] and chips[1].count("&lt;|im_start|&gt;") == 2  # raw vs templated, escaped
    assert at.dataframe[0].value["KL(this ‖ previous stage), nats"].iloc[1] != "–"


def test_a_preset_prompt_in_the_link_brings_its_expected_answer():
    need_bundled()
    from lib.teaching import stages

    prompt, answer = stages.presets()["Letter (held out)"]
    at = run_page(prompt=prompt, family="pocket-lm")
    assert at.text_input(key="ts_expected").value == answer
    at = run_page(prompt="Something else entirely", family="pocket-lm")
    assert at.text_input(key="ts_expected").value == ""


def test_openai_family_through_a_compatible_server():
    """With a base URL set, davinci-002 (a base completion model) is drawn from the server's top-5 log-probs;
    a chat model the server does not have gets a clear message, not a traceback."""
    from tests.fake_openai_server import FakeOpenAI

    server = FakeOpenAI().start()
    try:
        at = run_page(family="openai", prompt="The capital of France is", expected=" Paris")
        assert "API key" in texts(at.info)
        at.sidebar.text_input(key="_api_base_url_w").input(server.base_url).run()
        at.sidebar.text_input(key="_api_key_w").input("sk-good-test").run()
        assert not at.exception, at.exception
        assert len(at.get("plotly_chart")) == 1  # davinci-002
        assert "Not available" in texts(at.warning)  # gpt-4o-mini is not on this server
        assert any("Partial distribution" in c.value for c in at.caption)
        # the top-5 entropy is a lower bound of the whole distribution's, and says so (as on /next-token)
        assert [m.value[:2] for m in at.metric if m.label == "Entropy"] == ["≥ "]
        assert "sk-good-test" not in str(at.query_params)
    finally:
        server.stop()
