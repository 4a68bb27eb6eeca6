"""SFT/DPO pieces against independent oracles, the data sets' split, the live demo, and the shipped checkpoints."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch

from lib.models import hub
from lib.teaching import stages
from lib.teaching import instructions as ins
from lib.training import live, sft_dpo as finetune

ASSETS = hub.ASSETS


# -- the data sets --------------------------------------------------------------------------------
def test_sizes_are_small_but_not_tiny():
    assert 200 <= len(ins.sft_examples()) <= 600
    assert 100 <= len(ins.preference_pairs()) <= 600
    assert len(ins.held_out_examples()) >= 50
    assert {e.task for e in ins.sft_examples()} == set(ins.TASKS) == {e.task for e in ins.held_out_examples()}


def test_held_out_instructions_are_not_in_any_training_set():
    train = {e.instruction for e in ins.sft_examples()} | {p.instruction for p in ins.preference_pairs()}
    held = [e.instruction for e in ins.held_out_examples()]
    assert len(set(held)) == len(held)
    assert not set(held) & train
    assert ins.probe_example().instruction in held


def test_held_out_content_is_disjoint_from_training_content():
    for pair in (ins.SUBJECTS, ins.HAPPY, ins.SAD, ins.COMMANDS, ins.OPPOSITES, ins.OBJECTS, ins.NAMES, ins.ANIMALS,
                 ins.FOODS, ins.THINGS, ins.SENTENCES):
        assert not set(pair[0]) & set(pair[1])
    train_words = {w for a, b in ins.OPPOSITES[0] for w in (a, b)}
    assert not train_words & {w for a, b in ins.OPPOSITES[1] for w in (a, b)}


def test_data_is_reproducible():
    assert ins.sft_examples() == ins.sft_examples() and ins.preference_pairs() == ins.preference_pairs()


def test_answers_follow_their_formats():
    starts = {"sentiment": ("It is happy.", "It is sad."), "yesno": ("Yes.", "No."), "polite": ("If you please, ",),
              "opposite": ('The opposite of "',), "title": ('A good title would be "The Old ',), "letter": ("Dear ",)}
    for ex in ins.held_out_examples() + [e for e in ins.sft_examples() if not e.answer.startswith("Well")]:
        if ex.task == "repeat":
            assert ex.answer == ex.instruction.split("\n", 1)[1]
        else:
            assert ex.answer.startswith(starts[ex.task]), ex


def test_a_quarter_of_sft_answers_ramble_and_pairs_prefer_the_concise_one():
    sft = ins.sft_examples()
    rambling = [e for e in sft if e.answer.startswith("Well")]
    assert 0.15 < len(rambling) / len(sft) < 0.35
    for p in ins.preference_pairs():
        assert p.chosen != p.rejected and not p.chosen.startswith("Well")
        if p.why == "concise":
            assert p.rejected.startswith("Well") and len(p.rejected) > len(p.chosen)


# -- tokenization for SFT --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random GPT-2 with a BPE tokenizer carrying pocket-lm's special tokens, saved to a folder."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from lib.training.pretrain import train_tokenizer

    folder = tmp_path_factory.mktemp("tiny-base")
    texts = [f"{e.instruction}\n{e.answer}" for e in ins.sft_examples() + ins.held_out_examples()]
    tokenizer = train_tokenizer("\n\n".join(texts * 3), 600)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_layer=2, n_embd=64, n_head=2, n_positions=128,
                                       bos_token_id=0, eos_token_id=0))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_encode_pair_matches_the_full_chat_template(tiny):
    _, tok = finetune.load(tiny)
    finetune.add_chat_template(tok)
    for ex in ins.sft_examples()[:20]:
        ids, labels = finetune.encode_pair(tok, ex.instruction, ex.answer)
        full = tok.apply_chat_template([{"role": "user", "content": ex.instruction},
                                        {"role": "assistant", "content": ex.answer}],
                                       tokenize=True, return_dict=True)["input_ids"]
        assert ids == full[: len(ids)] and tok.convert_ids_to_tokens(full[len(ids):]) == ["Ċ"]
        prompt_len = len(finetune.prompt_ids(tok, ex.instruction))
        assert labels[:prompt_len] == [finetune.IGNORE] * prompt_len
        assert labels[prompt_len:] == ids[prompt_len:] and tok.convert_ids_to_tokens(labels[-1]) == "<|im_end|>"
        assert tok.decode(labels[prompt_len:-1]) == ex.answer


def sft_batch(tiny, n: int):
    """The tiny model (with the chat template) and its first n SFT examples, encoded one by one and collated."""
    model, tok = finetune.load(tiny)
    finetune.add_chat_template(tok)
    rows = [finetune.encode_pair(tok, e.instruction, e.answer) for e in ins.sft_examples()[:n]]
    return model, rows, finetune.collate(rows, tok.pad_token_id)


def test_sft_loss_equals_transformers_loss(tiny):
    model, _, (ids, mask, labels) = sft_batch(tiny, 6)
    with torch.no_grad():
        ours = finetune.sft_loss(model, ids, mask, labels)
        theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


def test_token_logprobs_match_a_per_example_loop(tiny):
    model, rows, (ids, mask, labels) = sft_batch(tiny, 5)
    with torch.no_grad():
        batched = finetune.token_logprobs(model, ids, mask, labels)
        for b, (x, y) in enumerate(rows):  # unpadded, one at a time
            logp = torch.log_softmax(model(torch.tensor([x])).logits[0].double(), -1)
            oracle = sum(logp[t - 1, y[t]].item() for t in range(1, len(x)) if y[t] != finetune.IGNORE)
            assert batched[b].item() == pytest.approx(oracle, rel=1e-4)


# -- DPO ------------------------------------------------------------------------------------------
def test_dpo_loss_matches_the_formula():
    pc, pr = torch.tensor([-3.0, -10.0, -2.0]), torch.tensor([-5.0, -4.0, -2.0])
    rc, rr = torch.tensor([-4.0, -9.0, -1.0]), torch.tensor([-4.0, -6.0, -3.0])
    beta = 0.5
    z = beta * ((pc.numpy() - rc.numpy()) - (pr.numpy() - rr.numpy()))
    oracle = float(np.mean(np.log1p(np.exp(-z))))  # -log sigmoid(z)
    loss, margin = finetune.dpo_loss(pc, pr, rc, rr, beta)
    assert loss.item() == pytest.approx(oracle, rel=1e-6)
    np.testing.assert_allclose(margin.numpy(), z, rtol=1e-6)


def test_dpo_starts_at_log_2_and_one_step_widens_the_margin(tiny):
    policy, tok = finetune.load(tiny)
    reference, _ = finetune.load(tiny)
    finetune.add_chat_template(tok)
    pairs = ins.preference_pairs()[:8]
    rows = finetune._pair_rows(tok, pairs)
    with torch.no_grad():
        pc, pr = finetune.pair_logprobs(policy, tok, rows)
        rc, rr = finetune.pair_logprobs(reference, tok, rows)
    loss, _ = finetune.dpo_loss(pc, pr, rc, rr, 0.1)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
    log = finetune.train_dpo(policy, reference, tok, pairs, {**finetune.DPO, "steps": 3, "batch_size": 8, "lr": 1e-3})
    assert log[-1]["margin"] > 0 and log[-1]["loss"] < math.log(2)
    assert all(not p.requires_grad for p in reference.parameters())


# -- the live demo ----------------------------------------------------------------------------------
def test_live_sft_changes_the_probe_distribution(tiny):
    steps = list(live.live_sft(tiny, steps=6))
    assert [s.step for s in steps] == list(range(7))
    assert steps[0].loss is None and all(s.loss is not None for s in steps[1:])
    before, after = steps[0].probe, steps[-1].probe
    assert stages.kl_divergence(after, before) > 1e-3
    assert steps[-1].expected_prob > steps[0].expected_prob
    assert not np.allclose(before.probs, after.probs)


def test_live_sft_leaves_the_folder_untouched(tiny):
    before = (tiny / "model.safetensors").read_bytes()
    for _ in live.live_sft(tiny, steps=2):
        pass
    assert (tiny / "model.safetensors").read_bytes() == before


# -- the shipped checkpoints ------------------------------------------------------------------------
def need(*names: str) -> None:
    missing = [n for n in names if not (ASSETS / n / "model.safetensors").exists()]
    if missing:
        pytest.fail(f"shipped checkpoints missing: {missing}")


@pytest.mark.parametrize("name", ["pocket-lm-sft", "pocket-lm-dpo"])
def test_shipped_checkpoint_is_small_same_architecture_and_chatml(name):
    need("pocket-lm", name)
    from transformers import AutoTokenizer

    folder = ASSETS / name
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 25e6
    base_cfg, cfg = (json.loads((ASSETS / n / "config.json").read_text()) for n in ("pocket-lm", name))
    for key in ("model_type", "n_layer", "n_embd", "n_head", "n_positions", "vocab_size"):
        assert cfg[key] == base_cfg[key]
    tok = AutoTokenizer.from_pretrained(str(folder))
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}],
                                   tokenize=False, add_generation_prompt=False)
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
    assert tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                   add_generation_prompt=True).endswith("<|im_start|>assistant\n")
    assert tok.eos_token == "<|im_end|>"
    card = (folder / "README.md").read_text()
    for part in ("## Data", "Command: `python -m lib.training.finetune", "Wall time", "held-out"):
        assert part in card


def _probs(name: str, chat: bool, examples):
    model, tok = finetune.load(ASSETS / name)
    return np.array(finetune.first_token_probs(model, tok, examples, chat=chat))


@pytest.mark.slow
def test_sft_makes_the_answer_formats_first_token_at_least_5x_more_likely_on_held_out_instructions():
    need("pocket-lm", "pocket-lm-sft")
    held = ins.held_out_examples()
    base, sft = _probs("pocket-lm", False, held), _probs("pocket-lm-sft", True, held)
    summary = finetune.summarise_first_token(base, sft)
    print(f"\nheld-out P(expected first token): base {summary['base_mean']:.5f}, SFT {summary['tuned_mean']:.3f}; "
          f"ratio of means {summary['ratio_of_means']:.0f}x, median ratio {summary['median_ratio']:.0f}x, "
          f"{summary['share_at_least_5x']:.0%} of {len(held)} instructions at least 5x")
    assert summary["ratio_of_means"] >= 5
    assert summary["median_ratio"] >= 5
    for task in ins.TASKS:  # every answer format, not just the average
        idx = [i for i, e in enumerate(held) if e.task == task]
        assert sft[idx].mean() >= 5 * base[idx].mean(), task


@pytest.mark.slow
def test_dpo_moves_away_from_rambling_and_keeps_the_format():
    need("pocket-lm-sft", "pocket-lm-dpo")
    held = ins.held_out_examples()
    results = {}
    for name in ("pocket-lm-sft", "pocket-lm-dpo"):
        model, tok = finetune.load(ASSETS / name)
        results[name] = (np.mean(finetune.first_token_of(model, tok, held, "Well")),
                         np.mean(finetune.first_token_probs(model, tok, held, chat=True)))
    (well_sft, fmt_sft), (well_dpo, fmt_dpo) = results["pocket-lm-sft"], results["pocket-lm-dpo"]
    print(f"\nheld-out P('Well' first): SFT {well_sft:.3f} -> DPO {well_dpo:.3f}; "
          f"P(expected first token): SFT {fmt_sft:.3f} -> DPO {fmt_dpo:.3f}")
    assert well_dpo < 0.5 * well_sft
    assert fmt_dpo > fmt_sft


def test_model_cards_report_the_measured_figures():
    need("pocket-lm-sft", "pocket-lm-dpo")
    m = json.loads((ASSETS / "pocket-lm-sft" / "metrics.json").read_text())
    card = (ASSETS / "pocket-lm-sft" / "README.md").read_text()
    assert f"**{m['first_token']['ratio_of_means']:,.0f}x**" in card
    assert re.search(r"Wall time: \d+ s", card)
