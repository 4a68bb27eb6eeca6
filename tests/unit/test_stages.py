"""Stage measures against torch/tiktoken oracles; prompt formats through the real loading path; families as data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.models import catalog
from lib.models import hub
from lib.teaching import stages
from lib.sampling.distribution import Distribution
from lib.tokens.chat_format import CHATML_TEMPLATE
from lib.text import clean_text


def dist_from(logits, complete: bool = True) -> Distribution:
    logits = np.asarray(logits, dtype=np.float64)
    n = len(logits)
    return Distribution(logits, np.arange(n), [str(i) for i in range(n)], [b"x"] * n, complete=complete)


logit_vectors = st.lists(st.floats(-30, 30, allow_nan=False), min_size=2, max_size=50)


# -- measures -------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_kl_matches_torch_kl_div(data):
    a = data.draw(logit_vectors)
    b = data.draw(st.lists(st.floats(-30, 30, allow_nan=False), min_size=len(a), max_size=len(a)))
    p, q = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    oracle = torch.nn.functional.kl_div(torch.log_softmax(q, 0), torch.log_softmax(p, 0), reduction="sum",
                                        log_target=True).item()  # KL(p || q)
    assert stages.kl_divergence(dist_from(a), dist_from(b)) == pytest.approx(oracle, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(logit_vectors)
def test_entropy_matches_torch_categorical(logits):
    oracle = torch.distributions.Categorical(logits=torch.tensor(logits, dtype=torch.float64)).entropy().item()
    assert dist_from(logits).entropy() == pytest.approx(oracle, rel=1e-9, abs=1e-9)


def test_kl_is_zero_for_identical_and_positive_otherwise():
    a = dist_from([1.0, 2.0, 3.0])
    assert stages.kl_divergence(a, a) == pytest.approx(0.0, abs=1e-15)
    assert stages.kl_divergence(a, dist_from([3.0, 2.0, 1.0])) > 0.5


def test_kl_is_undefined_across_vocabularies_and_for_partial_distributions():
    assert stages.kl_divergence(dist_from([1.0, 2.0]), dist_from([1.0, 2.0, 3.0])) is None
    partial = dist_from(np.log([0.5, 0.3]), complete=False)
    assert stages.kl_divergence(partial, partial) is None


def test_expected_probability_sums_unique_ids():
    logits = np.array([0.0, 1.0, 2.0, 3.0])
    probs = np.exp(logits) / np.exp(logits).sum()
    d = dist_from(logits)
    assert stages.expected_probability(d, [3]) == pytest.approx(probs[3])
    assert stages.expected_probability(d, [1, 3, 3]) == pytest.approx(probs[1] + probs[3])
    assert np.isnan(stages.expected_probability(d, []))
    assert stages.expected_rank(d, [1, 2]) == 2


def test_answer_start_ids_match_tiktoken(gpt2_tokenizer):
    import tiktoken

    enc = tiktoken.get_encoding("gpt2")
    for answer in ["Paris", "The capital of France is Paris.", "2", "Yes."]:
        expected = list(dict.fromkeys([enc.encode(answer)[0], enc.encode(" " + answer)[0]]))
        assert list(stages.answer_start_ids(gpt2_tokenizer, answer)) == expected
    assert stages.answer_start_ids(gpt2_tokenizer, "   ") == ()


def test_compare_rows_chain_kl_from_the_previous_stage():
    a, b, c = dist_from([0.0, 0.0, 5.0]), dist_from([5.0, 0.0, 0.0]), dist_from([5.0, 0.1, 0.0])
    rows = stages.compare([("Base", "base"), ("SFT", "sft"), ("DPO", "dpo")], [a, b, c], [[0], [0], [0]])
    assert rows[0].kl_from_previous is None
    assert rows[1].kl_from_previous == pytest.approx(stages.kl_divergence(b, a))
    assert rows[2].kl_from_previous == pytest.approx(stages.kl_divergence(c, b))
    assert rows[0].expected_prob < 0.01 < 0.9 < rows[1].expected_prob
    assert [r.expected_rank for r in rows] == [2, 1, 1]


# -- prompt formats, through the same loading code as the app ------------------------------------------
@pytest.fixture(scope="module")
def local_chat_model(tmp_path_factory):
    """A tiny random GPT-2 and a byte-level BPE tokenizer with ChatML, saved to a folder and loaded back."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from lib.models.next_token import HFCausalLM
    from lib.training.pretrain import train_tokenizer

    folder = tmp_path_factory.mktemp("tiny-chat")
    text = "\n\n".join(["She opened the door and looked out at the rain.", "Is this sentence happy or sad?",
                        "It is happy. It is sad. Yes. No. Dear friend, the opposite of hot is cold."] * 20)
    tokenizer = train_tokenizer(text, 400)
    tokenizer.chat_template = CHATML_TEMPLATE
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=32, n_head=2, n_positions=48,
                               bos_token_id=0, eos_token_id=0)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return HFCausalLM.load(str(folder))


def test_chat_checkpoint_sees_the_chatml_rendering(local_chat_model):
    m = local_chat_model
    f = stages.format_prompt(m, "Is this sentence happy or sad?", chat=True)
    rendered = "<|im_start|>user\nIs this sentence happy or sad?<|im_end|>\n<|im_start|>assistant\n"
    assert f.templated and not f.note
    assert list(f.prompt.ids) == m.tokenizer(rendered, add_special_tokens=False)["input_ids"]
    labels = m.token_labels(f.prompt.ids)
    assert labels[0] == "<|im_start|>" and labels[-1] == "↵" and "<|im_end|>" in labels


def test_base_checkpoint_sees_the_raw_prompt(local_chat_model):
    m = local_chat_model
    f = stages.format_prompt(m, "Is this sentence happy or sad?", chat=False)
    assert not f.templated
    assert list(f.prompt.ids) == m.tokenizer("Is this sentence happy or sad?", add_special_tokens=False)["input_ids"]


def test_control_tokens_typed_by_the_user_stay_text(local_chat_model):
    m = local_chat_model
    im_end = m.tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = stages.format_prompt(m, "hi <|im_end|> there", chat=True).prompt.ids
    assert list(ids).count(im_end) == 1  # only the template's own


def test_long_chat_prompt_keeps_the_end(local_chat_model):
    m = local_chat_model
    f = stages.format_prompt(m, "rain " * 200, chat=True)
    assert f.prompt.dropped > 0 and len(f.prompt.ids) == m.context_length
    assert m.token_labels(f.prompt.ids)[-1] == "↵"


def test_lone_surrogates_are_cleaned_before_tokenizing(local_chat_model):
    text = clean_text("a\ud800b 🙂")
    assert text == "a\ufffdb 🙂"
    assert stages.format_prompt(local_chat_model, text, chat=True).prompt.ids


def test_missing_chat_template_falls_back_to_raw_with_a_note(tiny_gpt2):
    f = stages.format_prompt(tiny_gpt2, "Hello", chat=True)
    assert not f.templated and "no chat template" in f.note


def test_distribution_after_template_matches_direct_forward_pass(local_chat_model):
    m = local_chat_model
    ids = stages.format_prompt(m, "Yes or no?", chat=True).prompt.ids
    with torch.no_grad():
        oracle = torch.softmax(m.model(torch.tensor([list(ids)])).logits[0, -1].double(), -1).numpy()
    np.testing.assert_allclose(m.distribution(stages.format_prompt(m, "Yes or no?", chat=True).prompt).probs, oracle,
                               rtol=1e-6, atol=1e-12)


# -- families as data ---------------------------------------------------------------------------
def test_families_cover_the_issue():
    ids = {f.key: [c.model_id for c in f.checkpoints] for f in stages.FAMILIES.values()}
    assert ids["pocket-lm"] == ["pocket-lm", "pocket-lm-sft", "pocket-lm-dpo"]
    assert ids["smollm2-135m"] == ["HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert ids["smollm2-360m"] == ["HuggingFaceTB/SmolLM2-360M", "HuggingFaceTB/SmolLM2-360M-Instruct"]
    assert ids["qwen2.5-0.5b"] == ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B-Instruct"]
    assert ids["olmo-2-1b"] == ["allenai/OLMo-2-0425-1B", "allenai/OLMo-2-0425-1B-SFT", "allenai/OLMo-2-0425-1B-DPO",
                                "allenai/OLMo-2-0425-1B-Instruct"]
    assert ids["openai"][0] == "openai:davinci-002"


def test_every_family_starts_at_base_and_hf_checkpoints_are_in_the_catalog():
    order = {"base": 0, "sft": 1, "dpo": 2, "instruct": 3}
    for fam in stages.FAMILIES.values():
        ranks = [order[c.stage] for c in fam.checkpoints]
        assert ranks[0] == 0 and ranks == sorted(ranks) and len(ranks) >= 2
        assert [c.chat for c in fam.checkpoints] == [c.stage != "base" for c in fam.checkpoints]
        if fam.backend == "hf":
            for c in fam.checkpoints:
                assert catalog.BY_ID[c.model_id].stage == c.stage


def test_a_new_family_is_rows_in_the_catalog_file_only(tmp_path):
    toml = tmp_path / "catalog.toml"
    toml.write_text(catalog.CATALOG_FILE.read_text(encoding="utf-8") + """
[[family]]
key = "tiny-fam"
name = "Tiny family"
note = "Two stages."

[[model]]
id = "someone/tiny-base"
family = "tiny-fam"
size = "1M"
stage = "base"
description = "A base model."

[[model]]
id = "someone/tiny-chat"
family = "tiny-fam"
size = "1M"
stage = "instruct"
description = "Its tuned stage."
label = "Chat"
""", encoding="utf-8")
    families = catalog.stage_families(*catalog.read_catalog(toml))
    assert list(families)[-1] == "tiny-fam" and list(families)[:-1] == list(stages.FAMILIES)
    new = families["tiny-fam"]
    assert (new.name, new.note, new.backend) == ("Tiny family", "Two stages.", "hf")
    assert [(c.model_id, c.stage, c.label, c.chat) for c in new.checkpoints] == [
        ("someone/tiny-base", "base", "Base", False), ("someone/tiny-chat", "instruct", "Chat", True)]


@pytest.mark.parametrize("model_id", [c.model_id for f in stages.FAMILIES.values() if f.key != "pocket-lm"
                                      and f.backend == "hf" for c in f.checkpoints])
def test_hub_checkpoints_say_they_are_unavailable_offline(model_id, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.network_available.cache_clear()
    if hub.cached_snapshot(model_id) is not None:
        pytest.skip(f"{model_id} is in the local cache here")
    with pytest.raises(hub.ModelUnavailable, match="no network"):
        hub.resolve(model_id)
    hub.network_available.cache_clear()


def test_presets_are_held_out_and_have_expected_answers():
    from lib.teaching.instructions import preference_pairs, sft_examples

    seen = {e.instruction for e in sft_examples()} | {p.instruction for p in preference_pairs()}
    presets = stages.presets()
    assert stages.DEFAULT_PRESET in presets
    for name, (prompt, expected) in presets.items():
        assert prompt.strip() and expected.strip()
        if "held out" in name:
            assert prompt not in seen


def test_story_has_three_stages_with_sources():
    assert [s.data_kind for s in stages.STORY] == ["text", "instruction", "preference"]
    facts = " ".join(v for _, v in stages.INSTRUCTGPT_FACTS)
    for number in ("13k", "33k", "31k", "1.3B", "175B"):
        assert number in facts
    assert "arXiv 2203.02155" in stages.SOURCES["InstructGPT"] and "arXiv 1801.06146" in stages.SOURCES["ULMFiT"]
    assert not any("/" in source for source in stages.SOURCES.values())  # citations, never a file path


def test_one_cleaning_for_every_text_box():
    """Lone surrogates become U+FFFD everywhere, and a surrogate pair written as two code points is one character."""
    from lib.models import openai_backend
    from lib.tokens import segmentation

    assert clean_text("\ud83d\ude00 \udc00") == "😀 \ufffd"
    assert segmentation.clean_text("\ud83d\ude00 \udc00")[0] == "😀 \ufffd"
    assert openai_backend._sanitise("a\ud800") == "a\ufffd"
    assert "😀".encode() == clean_text("\ud83d\ude00").encode("utf-8")


def test_a_chat_prompt_that_exactly_fills_the_context_is_not_cut(local_chat_model, monkeypatch):
    """Issue 13, item 6, on the chat path (/next-token "as a chat message"): cut only what does not fit."""
    from lib.models.prompting import chat_prompt

    text = "Is this sentence happy or sad?"
    full = local_chat_model.tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                                          add_generation_prompt=True, tokenize=True,
                                                          return_dict=True)["input_ids"]  # the tokenizer's own ids
    monkeypatch.setattr(local_chat_model, "context_length", len(full))
    exact = chat_prompt(local_chat_model, text, [], as_chat=True)
    assert list(exact.ids) == list(full) and exact.dropped == 0 and not exact.note
    monkeypatch.setattr(local_chat_model, "context_length", len(full) - 1)
    cut = chat_prompt(local_chat_model, text, [], as_chat=True)
    assert list(cut.ids) == list(full[1:]) and cut.dropped == 1
