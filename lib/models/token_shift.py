"""Token distribution shift: which tokens of an aligned model's answer would its base model have chosen too?

After Lin et al. 2023 ("The Unlocking Spell on Base LLMs", the Re-Align / URIAL study): take the aligned
(SFT or preference-tuned) model's greedy answer; at every answer position give the base model the same
context (the same token ids: the chat-formatted prompt plus the answer so far) and find the rank of the
aligned model's token in the base model's next-token distribution:
  rank 1 -> unshifted, rank 2-3 -> marginal, rank > 3 -> shifted.
The base model scores the whole answer in one forward pass (position p's logits predict token p+1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from lib.models.next_token import Prompt

KINDS = ("unshifted", "marginal", "shifted")
MARKERS = {"unshifted": "", "marginal": "~", "shifted": "*"}  # printed beside the token, so colour is not the only cue


def kind_of(rank: int) -> str:
    return "unshifted" if rank == 1 else "marginal" if rank <= 3 else "shifted"


@dataclass(frozen=True)
class ShiftToken:
    id: int
    label: str
    rank: int            # rank of this token under the base model (1 = the base's top choice)
    base_prob: float     # its probability under the base model
    base_top: str        # label of the base model's own top choice here
    kind: str


@dataclass(frozen=True)
class TokenShift:
    tokens: tuple[ShiftToken, ...]
    stopped: bool        # the aligned model ended its answer (end-of-turn token) before the limit

    def count(self, kind: str) -> int:
        return sum(t.kind == kind for t in self.tokens)

    @property
    def shifted_ratio(self) -> float:
        return self.count("shifted") / len(self.tokens) if self.tokens else 0.0

    @property
    def shifted(self) -> list[tuple[int, ShiftToken]]:
        """(position in the answer, token) of every shifted token."""
        return [(i, t) for i, t in enumerate(self.tokens) if t.kind == "shifted"]


def same_vocabulary(a, b) -> bool:
    return a.vocab_size == b.vocab_size and a.texts == b.texts


def base_ranks(base, context: Sequence[int], answer: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ranks, probabilities, base top ids) of each answer token under `base` (an HFCausalLM), one pass."""
    import torch

    ids = list(context) + list(answer)
    if not context or not answer:
        raise ValueError("both the context and the answer need at least one token")
    if len(ids) > base.context_length:
        raise ValueError(f"the prompt plus answer ({len(ids)} tokens) is longer than the base model's context "
                         f"({base.context_length})")
    logits = base.forward(ids).logits[0, len(context) - 1 : -1].double()  # (answer, vocab)
    target = torch.tensor(list(answer))
    chosen = logits.gather(1, target[:, None])  # (answer, 1)
    ranks = (logits > chosen).sum(-1) + 1
    probs = (chosen[:, 0] - torch.logsumexp(logits, -1)).exp()
    return ranks.numpy(), probs.numpy(), logits.argmax(-1).numpy()


def token_shift(aligned, base, prompt: Prompt, max_new_tokens: int) -> TokenShift:
    """The aligned model's greedy answer to `prompt` (its own formatted ids), each token scored under `base`."""
    if not same_vocabulary(aligned, base):
        raise ValueError("the two checkpoints use different vocabularies, so their tokens can't be compared")
    room = min(aligned.context_length, base.context_length) - len(prompt.ids)
    if room < 1:
        raise ValueError("the prompt fills the whole context, so there is no room for an answer")
    gen = aligned.generate(prompt, min(max_new_tokens, room), knobs=None)  # greedy
    answer = [s.chosen.id for s in gen.steps]
    stops = {aligned.tokenizer.eos_token_id}
    stopped = bool(answer) and answer[-1] in stops
    if stopped:
        answer = answer[:-1]
    if not answer:
        return TokenShift((), stopped)
    ranks, probs, tops = base_ranks(base, prompt.ids, answer)
    labels, top_labels = base.token_labels(answer), base.token_labels([int(t) for t in tops])
    tokens = tuple(ShiftToken(int(i), label, int(r), float(p), top, kind_of(int(r)))
                   for i, label, r, p, top in zip(answer, labels, ranks, probs, top_labels))
    return TokenShift(tokens, stopped)
