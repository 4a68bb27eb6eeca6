import numpy as np
import pytest
import torch


def test_distribution_sums_to_one_over_full_vocab(tiny_gpt2):
    dist = tiny_gpt2.distribution(tiny_gpt2.encode("Hello there, general"))
    assert dist.complete and len(dist.logprobs) == 50257
    assert dist.probs.sum() == pytest.approx(1.0, abs=1e-9)


def test_distribution_equals_softmax_of_model_logits(tiny_gpt2, gpt2_tokenizer):
    text = "The Birds is a 1963 American natural horror-thriller film directed by Alfred"
    ids = gpt2_tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = torch.softmax(tiny_gpt2.model(ids).logits[0, -1].double(), -1).numpy()
    dist = tiny_gpt2.distribution(tiny_gpt2.encode(text))
    np.testing.assert_allclose(dist.probs, expected, rtol=1e-6, atol=1e-12)
    top = dist.top_rows(5)
    assert [r.id for r in top] == list(np.argsort(-expected, kind="stable")[:5])
    assert top[0].text == gpt2_tokenizer.decode([top[0].id])


def test_kv_cache_generation_matches_recomputation(tiny_gpt2):
    prompt = tiny_gpt2.encode("Once upon a time")
    cached = tiny_gpt2.generate(prompt, 20, use_cache=True)
    fresh = tiny_gpt2.generate(prompt, 20, use_cache=False)
    assert [s.chosen.id for s in cached.steps] == [s.chosen.id for s in fresh.steps]
    for a, b in zip(cached.steps, fresh.steps):
        assert a.chosen.logprob == pytest.approx(b.chosen.logprob, abs=1e-4)
        assert [r.id for r in a.alternatives[:3]] == [r.id for r in b.alternatives[:3]]


def test_generation_slides_past_the_context(tiny_gpt2):
    prompt = tiny_gpt2.encode("word " * 200)
    assert prompt.dropped > 0 and len(prompt.ids) == tiny_gpt2.context_length
    gen = tiny_gpt2.generate(prompt, 5)
    assert len(gen.steps) == 5 and gen.notes


def test_greedy_generation_picks_each_steps_argmax(tiny_gpt2):
    gen = tiny_gpt2.generate(tiny_gpt2.encode("A B C"), 6)
    for step in gen.steps:
        assert step.chosen.id == step.alternatives[0].id and step.chosen.rank == 1


def test_sampled_generation_is_reproducible_with_a_seed(tiny_gpt2):
    from lib.sampling.knobs import Knobs

    p = tiny_gpt2.encode("The cat")
    a = tiny_gpt2.generate(p, 8, Knobs(temperature=1.5), seed=3)
    b = tiny_gpt2.generate(p, 8, Knobs(temperature=1.5), seed=3)
    assert a.text == b.text


def test_special_token_text_is_plain_text(tiny_gpt2):
    assert 50256 not in tiny_gpt2.encode("<|endoftext|>").ids


def test_one_model_serves_many_sessions_at_once(tiny_gpt2):
    """Shared fast tokenizers raise "Already borrowed" without the lock; results must match a lone call."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"Session {i} asks about the panda facility and the frogs" * (1 + i % 3) for i in range(16)]
    alone = {t: tiny_gpt2.distribution(tiny_gpt2.encode(t)).top_rows(3) for t in texts}

    def ask(text):
        return text, tiny_gpt2.distribution(tiny_gpt2.encode(text)).top_rows(3)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, texts * 4))
    for text, rows in results:
        assert [r.id for r in rows] == [r.id for r in alone[text]]


def test_a_generation_that_stops_on_its_end_token_says_so_and_its_answer_leaves_it_out():
    """pocket-lm-dpo answers a held-out sentiment question and stops; oracle: its tokenizer's eos, read by
    transformers itself, and generation without that stop."""
    from transformers import AutoTokenizer

    from lib.models.next_token import HFCausalLM
    from tests.conftest import ROOT

    path = str(ROOT / "assets" / "pocket-lm-dpo")
    tok = AutoTokenizer.from_pretrained(path)
    lm = HFCausalLM.load(path)
    prompt = lm.chat_prompt("Is this sentence happy or sad? The schoolmaster beamed with pleasure at the letter.").prompt
    done = lm.generate(prompt, 40)
    assert done.ended and done.steps[-1].chosen.id == tok.eos_token_id and len(done.steps) < 40
    assert done.text == done.answer + tok.eos_token and tok.eos_token not in done.answer
    cut = lm.generate(prompt, len(done.steps) - 1)  # the same answer, stopped one token early by the length
    assert not cut.ended and cut.answer == cut.text == done.answer
