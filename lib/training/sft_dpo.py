"""SFT and DPO in plain torch: encoding ChatML pairs, both losses, the training loops and the held-out measures.

The command line that trains the bundled models and writes their model cards is lib/training/finetune.py;
the app's live demo is lib/training/live.py.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Callable, Iterator, Sequence

from lib.tokens.chat_format import CHATML_TEMPLATE
from lib.teaching.instructions import Example, PreferencePair, held_out_examples

IGNORE = -100
SFT = dict(steps=200, batch_size=16, lr=5e-4, warmup=20, seed=1234)
DPO = dict(steps=60, batch_size=8, lr=2e-5, beta=0.1, warmup=10, seed=1234)


# -- tokenizer and data -------------------------------------------------------------------------------
def add_chat_template(tokenizer):
    """Give the tokenizer ChatML (<|im_start|>role\\n...<|im_end|>\\n); the assistant's turn ends at <|im_end|>."""
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.eos_token = "<|im_end|>"
    return tokenizer


def prompt_ids(tokenizer, instruction: str) -> list[int]:
    """The user's turn plus the assistant header, exactly as apply_chat_template gives it."""
    return list(tokenizer.apply_chat_template([{"role": "user", "content": instruction}], add_generation_prompt=True,
                                              tokenize=True, return_dict=True)["input_ids"])


def answer_ids(tokenizer, answer: str) -> list[int]:
    """The assistant's reply and the <|im_end|> that closes it (the model learns to stop)."""
    return tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.convert_tokens_to_ids("<|im_end|>")]


def encode_pair(tokenizer, instruction: str, answer: str) -> tuple[list[int], list[int]]:
    """(input ids, labels): labels are IGNORE on the prompt, the token ids on the answer."""
    p, a = prompt_ids(tokenizer, instruction), answer_ids(tokenizer, answer)
    return p + a, [IGNORE] * len(p) + a


def collate(rows: Sequence[tuple[list[int], list[int]]], pad_id: int):
    """Right-pad to the longest row: (input_ids, attention_mask, labels), each (B, T)."""
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (x, y) in enumerate(rows):
        ids[r, : len(x)], labels[r, : len(y)], mask[r, : len(x)] = torch.tensor(x), torch.tensor(y), 1
    return ids, mask, labels


def token_logprobs(model, ids, mask, labels):
    """Sum of log p(label token) over each row's labelled positions: (B,)."""
    import torch

    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]           # (B, T-1, vocab)
    targets = labels[:, 1:]                                                     # (B, T-1)
    logp = torch.log_softmax(logits.float(), dim=-1)
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)   # (B, T-1)
    return (picked * (targets != IGNORE)).sum(-1)


def sft_loss(model, ids, mask, labels):
    """Mean cross-entropy over the answer tokens of the batch."""
    import torch

    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]  # (B, T-1, vocab)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                             ignore_index=IGNORE)


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float):
    """DPO loss (mean over the batch) and the implicit reward margin beta * (chosen logratio - rejected logratio)."""
    import torch

    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))  # (B,)
    return -torch.nn.functional.logsigmoid(margin).mean(), margin


# -- training loops -----------------------------------------------------------------------------------
def _lr(step: int, cfg: dict) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    warm = min(1.0, (step + 1) / max(1, cfg["warmup"]))
    return cfg["lr"] * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / cfg["steps"])))


def _batches(n: int, batch_size: int, seed: int) -> Iterator[list[int]]:
    """Shuffled epochs of indices, forever."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=gen).tolist()
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def _optimizer(model, lr: float):
    import torch

    return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)


def _update(opt, model, loss) -> None:
    """One optimiser step on `loss`, gradients clipped to norm 1."""
    import torch

    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def sft_step(model, opt, tokenizer, rows, lr: float) -> float:
    """One optimizer step on a batch of encoded (ids, labels) rows; returns its loss."""
    for group in opt.param_groups:
        group["lr"] = lr
    ids, mask, labels = collate(rows, tokenizer.pad_token_id)
    model.train()
    loss = sft_loss(model, ids, mask, labels)
    _update(opt, model, loss)
    model.eval()
    return loss.item()


def train_sft(model, tokenizer, examples: Sequence[Example], cfg: dict = SFT,
              on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Plain SFT loop; returns the loss of every step."""
    import torch

    torch.manual_seed(cfg["seed"])
    rows = [encode_pair(tokenizer, ex.instruction, ex.answer) for ex in examples]
    opt, losses = _optimizer(model, cfg["lr"]), []
    batches = _batches(len(rows), min(cfg["batch_size"], len(rows)), cfg["seed"])
    for step in range(cfg["steps"]):
        losses.append(sft_step(model, opt, tokenizer, [rows[i] for i in next(batches)], _lr(step, cfg)))
        if on_step:
            on_step(step, losses[-1])
    return losses


def _pair_rows(tokenizer, pairs: Sequence[PreferencePair]):
    return [(encode_pair(tokenizer, p.instruction, p.chosen), encode_pair(tokenizer, p.instruction, p.rejected))
            for p in pairs]


def pair_logprobs(model, tokenizer, rows) -> tuple:
    """Answer log-probabilities of chosen and rejected replies, batched together: two (B,) tensors."""
    ids, mask, labels = collate([c for c, _ in rows] + [r for _, r in rows], tokenizer.pad_token_id)
    logp = token_logprobs(model, ids, mask, labels)
    return logp[: len(rows)], logp[len(rows):]


def train_dpo(policy, reference, tokenizer, pairs: Sequence[PreferencePair], cfg: dict = DPO,
              on_step: Callable[[int, float, float], None] | None = None) -> list[dict]:
    """DPO against a frozen reference; returns per-step loss, reward margin and reward accuracy."""
    import torch

    torch.manual_seed(cfg["seed"])
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    rows = _pair_rows(tokenizer, pairs)
    opt, log = _optimizer(policy, cfg["lr"]), []
    batches = _batches(len(rows), cfg["batch_size"], cfg["seed"])
    policy.train()
    for step in range(cfg["steps"]):
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        batch = [rows[i] for i in next(batches)]
        with torch.no_grad():
            ref_c, ref_r = pair_logprobs(reference, tokenizer, batch)
        pol_c, pol_r = pair_logprobs(policy, tokenizer, batch)
        loss, margin = dpo_loss(pol_c, pol_r, ref_c, ref_r, cfg["beta"])
        _update(opt, policy, loss)
        log.append(dict(loss=loss.item(), margin=margin.mean().item(), accuracy=(margin > 0).float().mean().item()))
        if on_step:
            on_step(step, log[-1]["loss"], log[-1]["accuracy"])
    policy.eval()
    return log


# -- measuring the stages -----------------------------------------------------------------------------
def load(path: str | Path):
    """(model, tokenizer) from a transformers folder, float32, eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype="float32").eval()
    return model, tokenizer


def first_token_probs(model, tokenizer, examples: Sequence[Example], chat: bool) -> list[float]:
    """P(expected answer's first token) per example, as defined in lib/teaching/stages.py."""
    from lib.models.next_token import HFCausalLM
    from lib.teaching.stages import answer_start_ids, expected_probability, format_prompt

    wrapped = HFCausalLM(model, tokenizer, "eval")
    out = []
    for ex in examples:
        dist = wrapped.distribution(format_prompt(wrapped, ex.instruction, chat).prompt)
        out.append(expected_probability(dist, answer_start_ids(tokenizer, ex.answer)))
    return out


def first_token_of(model, tokenizer, examples: Sequence[Example], text: str) -> list[float]:
    """P(first answer token = the first token of `text`) per example, chat format (e.g. text="Well")."""
    from lib.models.next_token import HFCausalLM
    from lib.teaching.stages import answer_start_ids, expected_probability, format_prompt

    wrapped = HFCausalLM(model, tokenizer, "eval")
    ids = answer_start_ids(tokenizer, text)[:1]
    return [expected_probability(wrapped.distribution(format_prompt(wrapped, ex.instruction, True).prompt), ids)
            for ex in examples]


def greedy_reply(model, tokenizer, instruction: str, max_new_tokens: int = 40) -> str:
    from lib.models.next_token import HFCausalLM
    from lib.teaching.stages import format_prompt

    wrapped = HFCausalLM(model, tokenizer, "eval")
    gen = wrapped.generate(format_prompt(wrapped, instruction, True).prompt, max_new_tokens)
    return tokenizer.decode([s.chosen.id for s in gen.steps], skip_special_tokens=True)


def held_out_pairs() -> list[PreferencePair]:
    """Preference pairs built like the training pairs, from held-out instructions only."""
    from lib.teaching.instructions import ramble

    import random

    rng = random.Random(99)
    return [PreferencePair(ex.task, ex.instruction, ex.answer, ramble(ex.answer, rng), "concise")
            for ex in held_out_examples()]


def reward_accuracy(policy, reference, tokenizer, pairs: Sequence[PreferencePair]) -> float:
    """Share of pairs where DPO's implicit reward (policy/reference log-ratio) is higher for the chosen answer."""
    import torch

    rows = _pair_rows(tokenizer, pairs)
    with torch.no_grad():
        pc, pr = pair_logprobs(policy, tokenizer, rows)
        rc, rr = pair_logprobs(reference, tokenizer, rows)
    return float((((pc - rc) - (pr - rr)) > 0).float().mean())


def preference_margins(model, tokenizer, pairs: Sequence[PreferencePair]):
    """log p(chosen answer) - log p(rejected answer) per pair, each as the training rows encode it: (B,)."""
    import torch

    with torch.no_grad():
        pc, pr = pair_logprobs(model, tokenizer, _pair_rows(tokenizer, pairs))
    return pc - pr


def prefers_chosen(model, tokenizer, pairs: Sequence[PreferencePair]) -> float:
    """Share of pairs where the model gives the whole chosen answer a higher log-probability than the rejected."""
    return float((preference_margins(model, tokenizer, pairs) > 0).float().mean())


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(max(v, 1e-300)) for v in values))


def summarise_first_token(base: Sequence[float], tuned: Sequence[float]) -> dict:
    ratios = [t / max(b, 1e-12) for b, t in zip(base, tuned)]
    return dict(n=len(ratios), base_mean=statistics.fmean(base), tuned_mean=statistics.fmean(tuned),
                ratio_of_means=statistics.fmean(tuned) / max(statistics.fmean(base), 1e-12),
                median_ratio=statistics.median(ratios), geometric_mean_ratio=geometric_mean(ratios),
                share_at_least_5x=sum(r >= 5 for r in ratios) / len(ratios))
