"""Readouts on /next-token, /sampling, /training-stages and /model-scale against independent oracles:
torch's own Categorical and kl_div, the model's forward pass, transformers' processors, and transformers
model classes built on the meta device (their parameters' real element sizes for memory)."""

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers as tf

from lib.scale import maths as scale
from lib.scale import published as scale_catalog
from lib.teaching import stages
from lib.sampling.distribution import Distribution
from lib.models.next_token import HFCausalLM
from lib.sampling.knobs import Knobs
from lib.sampling.apply import apply_knobs, summary

POCKET = Path(__file__).resolve().parents[2] / "assets" / "pocket-lm"
PROMPTS = ["It was a dark and stormy night; the rain fell in", "She said to him,", "\n\n", "The old house"]


@pytest.fixture(scope="module")
def pocket():
    tok = tf.AutoTokenizer.from_pretrained(str(POCKET))
    model = tf.AutoModelForCausalLM.from_pretrained(str(POCKET), dtype="float32").eval()
    return HFCausalLM(model, tok, "pocket-lm")


def forward(lm: HFCausalLM, ids) -> torch.Tensor:
    with torch.inference_mode():
        return lm.model(torch.tensor([list(ids)])).logits[0, -1]  # (vocab,) float32, no KV cache, all positions


# -- /next-token: entropy, effective choices, the bars --------------------------------------------------
@pytest.mark.parametrize("text", PROMPTS)
def test_next_token_entropy_bars_and_rest_against_torch(pocket, text):
    prompt = pocket.encode(text)
    dist = pocket.distribution(prompt)
    logits = forward(pocket, prompt.ids).double()
    cat = torch.distributions.Categorical(logits=logits)
    assert dist.entropy() == pytest.approx(float(cat.entropy()), abs=1e-5)
    assert np.exp(dist.entropy()) == pytest.approx(float(cat.entropy().exp()), rel=1e-5)
    top = torch.topk(cat.probs, 10)
    rows = dist.top_rows(10)
    np.testing.assert_allclose([r.prob for r in rows], top.values.numpy(), rtol=1e-5)
    assert [r.id for r in rows] == top.indices.tolist()
    np.testing.assert_allclose([r.cum_prob for r in rows], top.values.cumsum(0).numpy(), rtol=1e-5)
    assert dist.rest_mass(10) == pytest.approx(1 - float(top.values.sum()), abs=1e-6)
    assert rows[0].text == pocket.tokenizer.decode([rows[0].id])


def test_generation_steps_report_the_models_own_probabilities_and_ranks(pocket):
    prompt = pocket.encode("The captain looked at the sea and")
    gen = pocket.generate(prompt, 8, Knobs(temperature=1.2), seed=5)
    ids = list(prompt.ids)
    for step in gen.steps:
        probs = torch.softmax(forward(pocket, ids).double(), -1)
        chosen = step.chosen.id
        assert step.chosen.prob == pytest.approx(float(probs[chosen]), rel=1e-5)
        assert step.chosen.rank == int((probs > probs[chosen]).sum()) + 1
        assert [r.id for r in step.alternatives[:5]] == torch.topk(probs, 5).indices.tolist()
        assert step.entropy == pytest.approx(float(torch.distributions.Categorical(probs=probs).entropy()), abs=1e-5)
        ids.append(chosen)


# -- /sampling: entropy and effective choices after the knobs -------------------------------------------
@pytest.mark.parametrize("knobs", [Knobs(temperature=0.7, top_k=40), Knobs(temperature=1.4, top_p=0.9),
                                   Knobs(min_p=0.05, repetition_penalty=1.3), Knobs(typical_p=0.8),
                                   Knobs(temperature=0.001)])
def test_sampling_readouts_against_the_processed_distribution(pocket, knobs):
    from transformers.generation.logits_process import (LogitsProcessorList, MinPLogitsWarper,
                                                        RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                                                        TopKLogitsWarper, TopPLogitsWarper, TypicalLogitsWarper)

    prompt = pocket.encode(PROMPTS[0])
    dist = pocket.distribution(prompt)
    procs = [p for on, p in [
        (knobs.repetition_penalty != 1, RepetitionPenaltyLogitsProcessor(knobs.repetition_penalty)),
        (knobs.temperature != 1, TemperatureLogitsWarper(knobs.temperature or 1.0)),
        (knobs.top_k > 0, TopKLogitsWarper(max(knobs.top_k, 1))), (knobs.top_p < 1, TopPLogitsWarper(knobs.top_p)),
        (knobs.min_p > 0, MinPLogitsWarper(knobs.min_p)),
        (knobs.typical_p < 1, TypicalLogitsWarper(min(knobs.typical_p, 0.99)))] if on]
    processed = LogitsProcessorList(procs)(torch.tensor([list(prompt.ids)]), forward(pocket, prompt.ids)[None].clone())[0]
    cat = torch.distributions.Categorical(logits=processed.double())
    result = apply_knobs(dist.scores, knobs, prompt.ids)
    readout = summary(result.probs, dist.probs, result.kept)
    assert readout["entropy"] == pytest.approx(float(cat.entropy()), abs=1e-5)
    assert readout["effective_choices"] == pytest.approx(float(cat.entropy().exp()), rel=1e-5)
    kept = torch.isfinite(processed).numpy()
    assert readout["survivors"] == kept.sum()
    model_probs = torch.softmax(forward(pocket, prompt.ids).double(), -1).numpy()
    assert readout["mass_kept"] == pytest.approx(model_probs[kept].sum(), rel=1e-6)


# -- /training-stages: KL, entropy, expected-token probability and rank ----------------------------------
def test_stage_measures_against_torch(pocket):
    p = pocket.distribution(pocket.encode(PROMPTS[0]))
    q = pocket.distribution(pocket.encode(PROMPTS[1]))
    lp, lq = torch.tensor(p.logprobs), torch.tensor(q.logprobs)
    kl = torch.nn.functional.kl_div(lq, lp, log_target=True, reduction="sum")  # KL(p || q)
    assert stages.kl_divergence(p, q) == pytest.approx(float(kl), rel=1e-6)
    assert p.entropy() == pytest.approx(float(torch.distributions.Categorical(logits=lp).entropy()), abs=1e-6)
    ids = torch.topk(lp, 7).indices.tolist()[3:6]
    assert stages.expected_probability(p, ids + ids[:1]) == pytest.approx(float(lp[ids].exp().sum()), rel=1e-9)
    assert stages.expected_rank(p, ids) == 4  # the 4th most likely token is the best of them


def test_partial_kl_is_not_claimed():
    partial = Distribution(np.log([0.5, 0.2]), np.array([-1, -1]), ["a", "b"], [b"a", b"b"], complete=False)
    assert stages.kl_divergence(partial, partial) is None


# -- /model-scale: parameter counts and weight memory from transformers' own classes ---------------------
MEMORY_CASES = {
    "gpt2-small": (tf.GPT2LMHeadModel, lambda: tf.GPT2Config()),
    "bert-base": (tf.BertModel, lambda: tf.BertConfig()),
    "llama-3-8b": (tf.LlamaForCausalLM, lambda: tf.LlamaConfig(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, max_position_embeddings=8192, tie_word_embeddings=False)),
    "qwen2.5-0.5b": (tf.Qwen2ForCausalLM, lambda: tf.Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, max_position_embeddings=32768, tie_word_embeddings=True)),
}


@pytest.mark.parametrize("key", list(MEMORY_CASES))
def test_weight_memory_is_what_the_real_class_occupies(key):
    cls, config = MEMORY_CASES[key]
    m = scale_catalog.by_key()[key]
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        with torch.device("meta"):
            model = cls(config()).to(dtype)
        occupied = sum(p.numel() * p.element_size() for p in model.parameters())
        assert scale.weight_bytes(m.counted, precision) == occupied
        fits = scale.fits(m.counted)[precision]
        assert fits == [name for name, cap in scale.HARDWARE if occupied <= cap]


def test_pocket_lm_counts_equal_the_shipped_weights(pocket):
    shipped = sum(p.numel() for p in pocket.model.parameters())  # tied: the head shares the embedding tensor
    m = scale_catalog.by_key()["pocket-lm"]
    assert m.counted == shipped and m.published == shipped
    assert pocket.context_length == m.spec.context


def test_hardware_capacities_are_whole_gibibytes():
    for name, cap in scale.HARDWARE:
        gib = cap / 2**30
        assert gib == int(gib) and f"{int(gib)} GiB" in name


# -- /training-stages: the pocket-lm SFT/DPO table comes from metrics.json; it must match the shipped weights --
def test_dpo_summary_table_matches_the_shipped_weights():
    import json
    import statistics

    from lib.teaching.instructions import held_out_examples

    assets = POCKET.parent
    metrics = json.loads((assets / "pocket-lm-dpo" / "metrics.json").read_text())
    held = held_out_examples()
    assert len(held) == metrics["n_held_out"]

    def first_ids(tok, answer):
        ids = []
        for variant in (answer.strip(), " " + answer.strip()):
            first = tok(variant, add_special_tokens=False)["input_ids"][0]
            ids += [first] if first not in ids else []
        return ids

    def mean_p(folder, chat, answer_of):
        tok = tf.AutoTokenizer.from_pretrained(str(assets / folder))
        model = tf.AutoModelForCausalLM.from_pretrained(str(assets / folder), dtype="float32").eval()
        out = []
        for ex in held:
            if chat:
                ids = tok.apply_chat_template([{"role": "user", "content": ex.instruction}], add_generation_prompt=True,
                                              tokenize=True, return_dict=True)["input_ids"]
            else:
                ids = tok(ex.instruction, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                probs = torch.softmax(model(torch.tensor([list(ids)])).logits[0, -1].double(), -1)
            out.append(float(probs[first_ids(tok, answer_of(ex))].sum()))
        return statistics.fmean(out)

    answer = lambda ex: ex.answer
    assert mean_p("pocket-lm", False, answer) == pytest.approx(metrics["first_token_vs_base"]["base_mean"], rel=1e-3)
    assert mean_p("pocket-lm-sft", True, answer) == pytest.approx(metrics["first_token_vs_sft"]["base_mean"], rel=1e-3)
    assert mean_p("pocket-lm-dpo", True, answer) == pytest.approx(metrics["first_token_vs_sft"]["tuned_mean"], rel=1e-3)
