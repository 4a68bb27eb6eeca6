"""Token-shift labels against ranks computed directly with transformers, on the bundled base and DPO models."""

import functools

import pytest
import torch

from lib.teaching import stages
from lib.models.next_token import HFCausalLM, Prompt
from lib.models.token_shift import kind_of, token_shift


@functools.cache
def bundled(name):
    return HFCausalLM.load(name)


@pytest.mark.parametrize("aligned_name", ["pocket-lm-dpo", "pocket-lm-sft"])
def test_labels_match_ranks_from_transformers(aligned_name):
    from transformers import AutoModelForCausalLM

    aligned, base = bundled(aligned_name), bundled("pocket-lm")
    prompt = stages.format_prompt(aligned, "Write a short letter to your sister about the weather.", chat=True).prompt
    shift = token_shift(aligned, base, prompt, 20)
    assert shift.tokens

    # Oracle: transformers' own greedy generate, then the base model re-run on every prefix separately.
    hf_aligned = AutoModelForCausalLM.from_pretrained(str(stages_path(aligned_name))).eval()
    hf_base = AutoModelForCausalLM.from_pretrained(str(stages_path("pocket-lm"))).eval()
    ctx = torch.tensor([prompt.ids])
    with torch.no_grad():
        out = hf_aligned.generate(ctx, max_new_tokens=20, do_sample=False, eos_token_id=aligned.tokenizer.eos_token_id,
                                  pad_token_id=0)
    answer = out[0, len(prompt.ids):].tolist()
    if answer and answer[-1] == aligned.tokenizer.eos_token_id:
        answer = answer[:-1]
    assert [t.id for t in shift.tokens] == answer
    for i, tok in enumerate(shift.tokens):
        with torch.no_grad():
            logits = hf_base(torch.tensor([list(prompt.ids) + answer[:i]])).logits[0, -1]
        order = torch.argsort(logits, descending=True).tolist()
        rank = order.index(answer[i]) + 1
        assert tok.rank == rank, (i, tok)
        assert tok.kind == ("unshifted" if rank == 1 else "marginal" if rank <= 3 else "shifted")
        assert tok.base_prob == pytest.approx(torch.softmax(logits.double(), -1)[answer[i]].item(), rel=1e-4)
    assert shift.shifted_ratio == sum(t.kind == "shifted" for t in shift.tokens) / len(shift.tokens)


def stages_path(name):
    from lib.models.hub import BUNDLED

    return BUNDLED[name]


def test_kind_boundaries():
    assert [kind_of(r) for r in (1, 2, 3, 4, 4096)] == ["unshifted", "marginal", "marginal", "shifted", "shifted"]


def test_different_vocabularies_and_full_context_are_refused(tiny_gpt2):
    with pytest.raises(ValueError, match="different vocabularies"):
        token_shift(bundled("pocket-lm-dpo"), tiny_gpt2, Prompt((1, 2, 3)), 5)
    base = bundled("pocket-lm")
    with pytest.raises(ValueError, match="no room"):
        token_shift(base, base, Prompt(tuple([5] * base.context_length)), 5)
