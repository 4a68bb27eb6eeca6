"""Batched generation (lib.models.batching): one forward pass per step for every session, and a seeded continuation
that does not depend on who else pressed Generate.

The oracle for "alone" is the same request with nobody else in the batch; "bit-for-bit" means np.array_equal on the
float32 logits of every step. The naive way to batch (left-padding with an attention mask) fails the same check.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.models.batching import Scheduler, Sequence, naive_padded_logits
from lib.models.next_token import Generation, HFCausalLM
from lib.sampling.knobs import Knobs

ASSETS = Path(__file__).resolve().parents[2] / "assets"
BUNDLED = ["pocket-lm", "pocket-lm-sft", "pocket-lm-dpo"]
TARGET = "It was the best of times, it was the worst of times, it was the"
OTHERS = ["She said", "Once upon a time there lived a king whose daughters were all beautiful, and the youngest",
          "The old man looked at the sea and", "Mr.", "I", "In the morning the carriage came round to the door, and"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As a server process runs (lib.models.next_token.serving_threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def open_bundled(name: str) -> HFCausalLM:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = str(ASSETS / name)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="float32").eval()
    return HFCausalLM(model, AutoTokenizer.from_pretrained(folder), name)


class Recording(Scheduler):
    """A scheduler that keeps every step's logits per request, driven step by step by the test."""

    def __init__(self, lm, **kwargs):
        super().__init__(lm, **kwargs)
        self.logits: dict[tuple, list[np.ndarray]] = {}

    def _advance(self, active, logits):
        for seq, row in zip(active, logits):
            self.logits.setdefault(seq.key, []).append(np.array(row))
        return super()._advance(active, logits)


SAMPLED = Knobs(temperature=0.9, top_k=50)


def request(lm, text: str, seed: int, n: int = 10, knobs=SAMPLED) -> Sequence:
    ids = lm.encode(text).ids
    return Sequence((text, seed), list(ids), n, knobs, seed, 5)


def drive(scheduler: Scheduler, arrivals: dict[int, list[Sequence]]) -> None:
    """Step the scheduler until everyone is done; arrivals[i] join before step i (continuous batching)."""
    active, step = [], 0
    while active or any(i >= step for i in arrivals):
        active += arrivals.get(step, [])
        done = scheduler.run_step(active) if active else set()
        assert not any(s.error for s in done), [s.error for s in done]
        active = [s for s in active if s not in done]
        step += 1


def others(lm, count: int, seed0: int = 100) -> list[Sequence]:
    return [request(lm, OTHERS[i % len(OTHERS)] * (1 + i % 3), seed0 + i, n=3 + i % 9) for i in range(count)]


def target_alone(lm) -> tuple[list[np.ndarray], Sequence]:
    scheduler, target = Recording(lm), request(lm, TARGET, 7)
    drive(scheduler, {0: [target]})
    return scheduler.logits[target.key], target


# -- same link, same text: logits alone == logits in any batch ------------------------------------------------
SCENARIOS = [("pocket-lm", 1, 0), ("pocket-lm", 5, 0), ("pocket-lm", 24, 3), ("pocket-lm", 6, -2),
             ("pocket-lm", "same prompt", 0), ("pocket-lm", "same prompt", 3), ("pocket-lm", "same prompt", -2),
             ("pocket-lm-sft", 12, 2), ("pocket-lm-dpo", 12, -3)]


@pytest.fixture(scope="module")
def models():
    return {name: open_bundled(name) for name in BUNDLED}


@pytest.mark.parametrize("name, company, joins_at", SCENARIOS)
def test_logits_and_text_alone_equal_inside_batches(models, name, company, joins_at):
    """`joins_at` > 0: the others arrive mid-generation; < 0: the target joins others already going. Batches of
    2 to 25 sequences: fewer and more rows than the padding minimum, prompts of other lengths. With the same
    prompt, whoever comes later (or alongside) copies the first one's pass of it."""
    bundled = models[name]
    alone, reference = target_alone(bundled)
    scheduler, target = Recording(bundled), request(bundled, TARGET, 7)
    crowd = ([request(bundled, TARGET, seed) for seed in range(20, 40)] if company == "same prompt"
             else others(bundled, company))  # the same prompt: caches as long as the target's, attended together
    arrivals = {0: [target] + crowd} if joins_at == 0 else (
        {0: [target], joins_at: crowd} if joins_at > 0 else {0: crowd, -joins_at: [target]})
    drive(scheduler, arrivals)
    seen = scheduler.logits[target.key]
    assert len(seen) == len(alone) == 10
    for step, (a, b) in enumerate(zip(alone, seen)):
        assert np.array_equal(a, b), f"step {step}: max difference {np.abs(a - b).max():.3g}"
    assert [chosen(s) for s in target.steps] == [chosen(s) for s in reference.steps]
    assert target.ids == reference.ids


def test_a_class_on_one_prompt_runs_it_through_the_model_once(models):
    """20 seeds of one prompt in one step, 20 more two steps later, 5 of another prompt: three prompt passes (the
    target's, its repeat after the cache is cleared, the other prompt's), and every text as alone."""
    bundled = models["pocket-lm"]
    scheduler = Recording(bundled)
    first, later = [request(bundled, TARGET, seed) for seed in range(20)], [request(bundled, TARGET, s) for s in range(20, 40)]
    other = [request(bundled, OTHERS[1], seed) for seed in range(5)]
    drive(scheduler, {0: first + other, 2: later})
    assert scheduler.prefills == 2 and len(scheduler.prompts) == 2
    scheduler.prompts.clear()
    again = request(bundled, TARGET, 3)
    drive(scheduler, {0: [again]})
    assert scheduler.prefills == 3
    for seq in (first[3], later[0], again):
        alone_scheduler, alone = Recording(bundled), request(bundled, TARGET, seq.seed)
        drive(alone_scheduler, {0: [alone]})
        assert all(np.array_equal(a, b) for a, b in zip(alone_scheduler.logits[alone.key], scheduler.logits[seq.key]))
        assert seq.ids == alone.ids


def test_caches_go_back_to_their_pool_and_an_empty_pool_is_freed(models):
    bundled = models["pocket-lm"]
    scheduler = Scheduler(bundled)
    crowd = others(bundled, 12) + [request(bundled, TARGET, seed, n=40) for seed in range(3)]
    drive(scheduler, {0: crowd[:6], 2: crowd[6:]})
    assert all(seq.slot is None for seq in crowd) and scheduler.pools == {}


def chosen(step) -> tuple:
    return step.chosen.id, step.chosen.prob, step.chosen.rank, step.entropy


def padded_batch_logits(lm, company: int) -> tuple[np.ndarray, np.ndarray]:
    """The target's first-step logits alone and inside a naive left-padded batch with `company` other prompts."""
    target = list(lm.encode(TARGET).ids)
    prompts = [target] + [list(lm.encode(o * 3).ids) for o in OTHERS[:company]]
    return naive_padded_logits(lm.model, [target])[0].numpy(), naive_padded_logits(lm.model, prompts)[0].numpy()


@pytest.mark.parametrize("company", [2, 5])
def test_naive_padded_batching_fails_the_same_check(models, company):
    """What the scheduler avoids: a left-padded batch with an attention mask changes the target's logits."""
    alone, batched = padded_batch_logits(models["pocket-lm"], company)
    assert not np.array_equal(alone, batched)
    np.testing.assert_allclose(alone, batched, atol=1e-4)  # close (about 4e-6 here), never bit-identical


@pytest.mark.parametrize("name", BUNDLED)
def test_first_step_equals_the_model_itself(models, name):
    """The scheduler's own layout computes what transformers' forward pass does (to float32 rounding)."""
    bundled = models[name]
    alone, _ = target_alone(bundled)
    with torch.inference_mode():
        theirs = bundled.model(torch.tensor([list(bundled.encode(TARGET).ids)])).logits[0, -1].numpy()
    np.testing.assert_allclose(alone[0], theirs, atol=1e-4)
    assert int(np.argmax(alone[0])) == int(np.argmax(theirs))


# -- through the real background thread ----------------------------------------------------------------------
def test_a_class_pressing_generate_at_once_gets_the_texts_each_would_get_alone():
    lm = open_bundled("pocket-lm")  # a scheduler of its own
    prompts = [lm.encode(t) for t in [TARGET] + OTHERS]
    knobs = Knobs(temperature=0.8, top_p=0.95)
    results: dict[int, object] = {}
    start = threading.Barrier(16)

    def student(i):
        start.wait(30)
        results[i] = lm.generate(prompts[i % len(prompts)], 12, knobs, seed=i)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert lm.scheduler.largest_batch > 1  # they did share steps
    for i in (0, 7, 15):
        alone = lm.generate(prompts[i % len(prompts)], 12, knobs, seed=i)
        assert results[i].text == alone.text
        assert [s.chosen.prob for s in results[i].steps] == [s.chosen.prob for s in alone.steps]


def test_identical_requests_in_flight_share_one_sequence(tiny_gpt2):
    scheduler = Scheduler(tiny_gpt2)
    ids = tiny_gpt2.encode("Once upon a time").ids
    first, second = scheduler.submit(ids, 3, None, 1), scheduler.submit(ids, 3, None, 1)
    third = scheduler.submit(ids, 3, None, 2)
    finished = []
    for listener in (first, second, third):
        while not isinstance(message := listener.get(timeout=60), Sequence):
            pass
        finished.append(message)
    assert finished[0] is finished[1] and finished[2] is not finished[0]


def test_only_a_caller_that_asks_for_progress_is_woken_at_every_token(tiny_gpt2):
    scheduler = Scheduler(tiny_gpt2)
    ids = tiny_gpt2.encode("Once upon a time").ids
    quiet, counting = scheduler.submit(ids, 4, None, 1), scheduler.submit(ids, 4, None, 1, progress=True)
    heard = []
    while not isinstance(message := counting.get(timeout=60), Sequence):
        heard.append(message)
    assert heard == [1, 2, 3, 4]
    assert quiet.get(timeout=60) is message and quiet.empty()


def test_bad_requests_get_one_clear_error_and_the_loop_goes_on(tiny_gpt2):
    with pytest.raises(ValueError, match="token ids must be between 0 and 50256"):
        tiny_gpt2.scheduler.submit([1, 60_000], 3)
    with pytest.raises(ValueError, match="empty prompt"):
        tiny_gpt2.scheduler.submit([], 3)
    assert len(tiny_gpt2.generate(tiny_gpt2.encode("Still"), 2).steps) == 2


def test_a_failing_step_fails_its_requests_and_the_loop_goes_on(tiny_gpt2, monkeypatch):
    import lib.sampling.apply as batching_apply

    def broken(*args):
        raise RuntimeError("planted")

    prompt = tiny_gpt2.encode("Once upon a time")
    with monkeypatch.context() as patch:
        patch.setattr(batching_apply, "pick_many", broken)
        listener = tiny_gpt2.scheduler.submit(prompt.ids, 3, None, 123)
        while not isinstance(message := listener.get(timeout=60), Sequence):  # a dead loop would never answer
            pass
    assert isinstance(message.error, RuntimeError) and "planted" in str(message.error)
    assert len(tiny_gpt2.generate(prompt, 3, None, 123).steps) == 3


def test_other_architectures_step_each_sequence_alone_with_the_same_text(gpt2_tokenizer):
    """A Llama-style model is not batched (no GPT-2 layout), yet goes through the same loop, and greedy matches
    transformers' generate()."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=50257, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=64)).eval()
    lm = HFCausalLM(model, gpt2_tokenizer, "tiny-llama")
    scheduler = Recording(lm)
    assert not scheduler.batched
    target = request(lm, "Once upon a time", 3, n=6, knobs=None)
    drive(scheduler, {0: others(lm, 4), 2: [target]})
    ids = torch.tensor([list(lm.encode("Once upon a time").ids)])
    with torch.inference_mode():
        theirs = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=6,
                                pad_token_id=0)[0, ids.shape[1]:].tolist()
    assert target.ids[ids.shape[1]:] == theirs


def test_three_continuations_run_together_and_match_each_alone(tiny_gpt2):
    prompt = tiny_gpt2.encode("Once upon a time")
    knobs = Knobs(temperature=1.2)
    together = tiny_gpt2.generate_many(prompt, 6, knobs, [4, 5, 6])
    for seed, gen in zip([4, 5, 6], together):
        alone = Scheduler(tiny_gpt2).generate(prompt.ids, 6, knobs, seed)
        assert [s.chosen.id for s in gen.steps] == alone.ids[len(prompt.ids):]
    assert len({gen.text for gen in together}) > 1  # the seeds differ, so do the texts


def test_steps_built_when_read_are_the_steps_and_the_text_needs_none(models):
    """A Generation's steps come from its batch's arrays when read; its text (what /sampling shows) is the chosen
    tokens' bytes, read without building any step."""
    lm = models["pocket-lm"]
    gen = lm.generate_many(lm.encode(TARGET), 8, SAMPLED, [4, 5, 6])[2]  # the batch's third row
    text = gen.text
    assert gen.steps._built == {}  # nothing built for the text
    chosen_ids = [step.chosen.id for step in gen.steps]
    assert text == b"".join(lm.raws[i] for i in chosen_ids).decode("utf-8", errors="replace")
    assert text == Generation(gen.prompt, tuple(gen.steps)).text  # the same as a plain tuple of steps gives
    steps = tuple(gen.steps)
    assert gen.steps == steps and gen.steps[-1] is steps[-1] and gen.steps[2:4] == steps[2:4]
    with pytest.raises(IndexError):
        gen.steps[8]


def test_each_steps_readouts_match_the_distribution_of_its_logits(models):
    """The batch's per-step readouts (chosen rank and probability, alternatives, entropy) are the ones the page's
    Distribution gives for the same logits."""
    lm = models["pocket-lm"]
    scheduler, target = Recording(lm), request(lm, TARGET, 7)
    drive(scheduler, {0: [target] + others(lm, 5)})
    for logits, step, token in zip(scheduler.logits[target.key], target.steps, target.ids[-10:]):
        dist = lm.distribution_from_logits(logits)
        assert step.chosen.id == token and step.chosen.rank == dist.rank(token)
        assert step.chosen.prob == pytest.approx(float(dist.probs[token]), rel=1e-12)
        assert step.entropy == pytest.approx(dist.entropy(), rel=1e-9)
        theirs = dist.top_rows(5)
        assert [r.id for r in step.alternatives] == [r.id for r in theirs]
        assert [r.label for r in step.alternatives] == [r.label for r in theirs]
        np.testing.assert_allclose([r.cum_prob for r in step.alternatives], [r.cum_prob for r in theirs], rtol=1e-12)


# -- a step shared among workers (a class on a multi-core machine) ---------------------------------------------
def test_a_step_split_among_workers_gives_every_sequence_what_one_worker_gives(models):
    """100 sequences (one prompt copied by most, other prompts, greedy, temperature-only and top-k knobs) joining at
    three steps: with three workers each step runs in three shares side by side; every sequence's logits at every
    step and its tokens are the ones a single worker gives, and the target's are the ones it gets alone."""
    lm = models["pocket-lm"]

    def crowd() -> dict[int, list[Sequence]]:
        same = [request(lm, TARGET, seed, knobs=[None, Knobs(temperature=0.7), SAMPLED][seed % 3]) for seed in range(200, 260)]
        return {0: [request(lm, TARGET, 7)] + same[:30], 1: others(lm, 40), 3: same[30:]}

    runs = {}
    for workers in (1, 3):
        scheduler, arrivals = Recording(lm, workers=workers), crowd()
        drive(scheduler, arrivals)
        runs[workers] = (scheduler, [seq for joined in arrivals.values() for seq in joined])
    (single, by_one), (split, by_three) = runs[1], runs[3]
    assert single.split_steps == 0 and split.split_steps >= 8
    for a, b in zip(by_one, by_three):
        assert a.ids == b.ids
        assert all(np.array_equal(x, y) for x, y in zip(single.logits[a.key], split.logits[b.key])), a.key
    alone, _ = target_alone(lm)
    assert all(np.array_equal(x, y) for x, y in zip(alone, split.logits[by_three[0].key]))


def test_a_text_only_continuation_has_the_text_and_no_readouts(models):
    """/sampling shows only the continuations' text, so it asks for none of the per-token readouts (n_alternatives=0):
    the same text as with readouts, and reading a step says why there is none."""
    lm = models["pocket-lm"]
    with_readouts = lm.generate_many(lm.encode(TARGET), 8, SAMPLED, [4, 5, 6])
    text_only = lm.generate_many(lm.encode(TARGET), 8, SAMPLED, [4, 5, 6], n_alternatives=0)
    assert [g.text for g in text_only] == [g.text for g in with_readouts]
    assert [g.answer for g in text_only] == [g.answer for g in with_readouts]
    with pytest.raises(LookupError, match="text only"):
        text_only[0].steps[0]


def test_a_share_that_fails_fails_the_step_once_every_share_has_finished(models, monkeypatch):
    """A worker's share raising fails the step's requests (each gets the error), but only after the other share has
    finished writing into its slots (a slot freed while still written could be a new request's); the next requests
    generate as alone."""
    import lib.models.batching as batching

    lm = models["pocket-lm"]
    scheduler, real = Scheduler(lm, workers=2), batching.batched_step
    finished = []

    def first_share_fails(model, seqs, feeds, min_rows):
        if seqs[0] is crowd[0]:  # the loop thread's share: fails at once, while the helper's is still running
            raise RuntimeError("planted")
        time.sleep(0.3)
        out = real(model, seqs, feeds, min_rows)
        finished.append(len(seqs))
        return out

    crowd = [request(lm, TARGET, seed) for seed in range(300, 380)]
    assert not scheduler.run_step(crowd)  # one prompt pass, copied by the others; the next step feeds all 80
    monkeypatch.setattr(batching, "batched_step", first_share_fails)
    done = scheduler.run_step(crowd)
    assert done == set(crowd) and all("planted" in str(seq.error) for seq in crowd)
    assert finished == [40] and all(seq.slot is None for seq in crowd)
    monkeypatch.setattr(batching, "batched_step", real)
    alone, again = target_alone(lm), request(lm, TARGET, 7)
    recording = Recording(lm, workers=2)
    drive(recording, {0: [again] + [request(lm, TARGET, seed) for seed in range(400, 480)]})
    assert recording.split_steps > 0
    assert all(np.array_equal(x, y) for x, y in zip(alone[0], recording.logits[again.key]))


def test_the_fused_tanh_gelu_computes_transformers_mlp(models):
    """batched_step's MLP runs GPT-2's tanh GELU as one fused kernel: the same function as transformers' module."""
    from lib.models.batching import mlp

    block = models["pocket-lm"].model.transformer.h[0]
    h = torch.randn(40, block.mlp.c_fc.weight.shape[0], generator=torch.Generator().manual_seed(0)) * 3
    with torch.inference_mode():
        ours, theirs = mlp(block.mlp, h), block.mlp(h)
        without_gelu = block.mlp.c_proj(block.mlp.c_fc(h))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=2e-6)
    assert not np.allclose(without_gelu.numpy(), theirs.numpy(), atol=1e-2)  # the check sees a dropped activation
