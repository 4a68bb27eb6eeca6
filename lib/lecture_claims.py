"""What each lecture step claims, as data, and the measurement that checks it on the model the step shows.

A step's `claim` in lecture_steps.toml names a kind (a key of KINDS) and its arguments, e.g.
`claim = { kind = "top_token", token = " Hitch" }`. `measure(step, params, models)` computes it on the step's own
prompt and model (params as lib.teaching.lecture.step_params fills them) and returns a `Measured`: whether it
holds, one line saying what was measured, and the figures a note may quote (tests/unit/test_note_numbers.py).
`models` opens a model by id (the app's shared loader, or lib.models.backends.open_model in tests).
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np

if TYPE_CHECKING:
    from lib.models.next_token import HFCausalLM

Models = Callable[[str], object]   # model id -> a loaded NextTokenModel


@dataclass(frozen=True)
class Measured:
    holds: bool
    summary: str                                          # one line: what was measured
    figures: Mapping[str, float] = field(default_factory=dict)  # name -> value a note may quote


def claim_of(step) -> dict:
    return dict(dict(step.extra).get("claim", {}))


def _prompt(model, params: Mapping[str, str], text: str | None = None):
    """The prompt as the step shows it: the chat template only where the step's ?chat= says so (default: the
    catalog's stage, as the next-token page does)."""
    from lib.models.catalog import entry_for

    chat = params.get("chat", "1" if entry_for(model.name).chat else "0") == "1"
    text = params["prompt"] if text is None else text
    return model.chat_prompt(text).prompt if chat and model.has_chat_template else model.encode(text)


def _token_id(model, token: str) -> int:
    ids = model.tokenize(token)
    if len(ids) != 1:
        raise ValueError(f"{token!r} is {len(ids)} tokens for {model.name}; a claim names one token")
    return ids[0]


# -- next-token claims -------------------------------------------------------------------------------------

def top_token(claim, params, models) -> Measured:
    """The most likely next token is `token` (and, with `then`, the greedy continuation spells `then`: a word the
    model writes in several tokens, one prediction each)."""
    model = models(params["model"])
    prompt = _prompt(model, params)
    top = model.distribution(prompt).top_rows(1)[0]
    holds, summary = top.text == claim["token"], f"top token {top.text!r} at {top.prob:.1%} ({model.name})"
    if "then" in claim:
        steps = model.generate(prompt, len(model.tokenize(claim["then"]))).steps
        spelled = [s.chosen.text for s in steps]
        holds = holds and "".join(spelled) == claim["then"]
        summary += f", then greedy {spelled}"
    return Measured(holds, summary, {"top_pct": 100 * top.prob})


def token_rank(claim, params, models) -> Measured:
    """`token` ranks within the top `k` (k = 1: it is the top token); its probability and rank are figures."""
    model = models(params["model"])
    dist = model.distribution(_prompt(model, params, claim.get("prompt")))
    token = _token_id(model, claim["token"])
    rank, prob = dist.rank(token), float(dist.probs[token])
    holds = rank <= claim["k"] if "k" in claim else rank > claim["below"]
    top = dist.top_rows(1)[0]
    return Measured(holds, f"{claim['token']!r} ranks {rank} at {prob:.2%}; top {top.text!r} at {top.prob:.1%} "
                           f"({model.name})", {"rank": rank, "pct": 100 * prob, "top_pct": 100 * top.prob})


def sampled_differs(claim, params, models) -> Measured:
    """Greedy text is one text; sampling with different seeds gives different texts from the same distribution."""
    from lib.sampling.knobs import Knobs

    model = models(params["model"])
    prompt = _prompt(model, params)
    n = int(params.get("tokens", 30))
    knobs = Knobs(temperature=float(params.get("temperature", 1.0)))
    texts = [model.generate(prompt, n).text] + [model.generate(prompt, n, knobs, seed).text for seed in claim["seeds"]]
    return Measured(len(set(texts)) == len(texts), f"{len(set(texts))} different texts from {len(texts)} runs")


def few_shot(claim, params, models) -> Measured:
    """With examples in the prompt and no fine-tuning, `token` becomes the top next token; without them it is not."""
    model = models(params["model"])
    token = _token_id(model, claim["token"])
    with_examples = model.distribution(model.encode(params["prompt"]))
    without = model.distribution(model.encode(claim["zero_shot"]))
    pct_few, pct_zero = 100 * float(with_examples.probs[token]), 100 * float(without.probs[token])
    holds = with_examples.rank(token) == 1 and without.rank(token) > 1
    return Measured(holds, f"{claim['token']!r}: {pct_few:.1f}% with examples (rank {with_examples.rank(token)}), "
                           f"{pct_zero:.2f}% without (rank {without.rank(token)})",
                    {"few_pct": pct_few, "zero_pct": pct_zero, "zero_rank": without.rank(token)})


def greedy_contains(claim, params, models) -> Measured:
    """The greedy answer (as the step shows it) contains `text`."""
    model = models(params["model"])
    out = model.generate(_prompt(model, params), int(params.get("tokens", 40))).text
    return Measured(claim["text"] in out, f"greedy answer starts {out[:80]!r}")


# -- tokenizer claims --------------------------------------------------------------------------------------

def pieces(claim, params, models) -> Measured:
    """`text` splits into exactly these pieces under `tokenizer` (what the token chips show)."""
    from lib.tokens.tokenization import segment

    seg = segment(claim["tokenizer"], claim.get("text", params.get("text", "")))
    got = [s.text for s in seg.segments]
    return Measured(got == list(claim["pieces"]), f"{claim['tokenizer']}: {got}", {"tokens": seg.n_tokens})


def decodes(claim, params, models) -> Measured:
    from lib.tokens.segmentation import parse_ids
    from lib.tokens.tokenization import decode

    seg = decode(params["decode_with"], parse_ids(params["ids"]))
    return Measured(seg.text == claim["text"], f"{params['ids']} -> {seg.text!r}")


# -- training-stage claims (held-out prompts of the formats the bundled family learned) --------------------

def _held_out(tasks) -> list:
    from lib.teaching.instructions import held_out_examples

    return [ex for ex in held_out_examples() if ex.task in tasks]


def _stage_models(params, models) -> list[tuple[HFCausalLM, bool]]:
    from lib.teaching import stages

    family = stages.FAMILIES[params["family"]]
    return [(models(ck.model_id), ck.chat) for ck in family.checkpoints]


def stage_rises(claim, params, models) -> Measured:
    """The mean chance of the expected answer's first token rises stage by stage on held-out prompts."""
    from lib.teaching import stages

    means = []
    for model, chat in _stage_models(params, models):
        probs = [stages.expected_probability(model.distribution(stages.format_prompt(model, ex.instruction, chat).prompt),
                                             stages.start_ids(model.tokenize, ex.answer)) for ex in _held_out(claim["tasks"])]
        means.append(100 * float(np.mean(probs)))
    figures = {f"stage{i + 1}_pct": v for i, v in enumerate(means)}
    return Measured(all(a < b for a, b in zip(means, means[1:])),
                    "P(answer) by stage: " + " -> ".join(f"{v:.1f}%" for v in means), figures)


def held_out_pairs(tasks, seed: int = 5) -> list:
    """Preference pairs from held-out content, built as the DPO pairs were (concise, correct, on-format chosen;
    rambling, wrong or off-format rejected). No tuned model saw these instructions."""
    from lib.teaching import instructions as I

    rng = random.Random(seed)
    out = []
    for ex in _held_out(tasks):
        rejected, why = (I.ramble(ex.answer, rng), "concise") if rng.random() < 0.6 else I.worse_answer(ex, rng)
        out.append(I.PreferencePair(ex.task, ex.instruction, ex.answer, rejected, why))
    return out


def margin_rises(claim, params, models) -> Measured:
    """DPO's preference margin, log P(chosen) - log P(rejected), rises from SFT to DPO on held-out pairs."""
    from lib.training.sft_dpo import preference_margins

    pairs = held_out_pairs(claim["tasks"])
    means = {model.name: float(preference_margins(model.model, model.tokenizer, pairs).mean())
             for model, chat in _stage_models(params, models) if chat}
    values = list(means.values())
    return Measured(len(values) >= 2 and all(a < b for a, b in zip(values, values[1:])),
                    "mean margin (nats): " + ", ".join(f"{k} {v:.2f}" for k, v in means.items()),
                    {"sft_margin": values[0], "dpo_margin": values[-1]})


# -- prediction as compression -----------------------------------------------------------------------------

def bits_per_char(model, text: str, window: int = 128) -> float:
    """The model's code length for `text` (sum of -log2 P(token | the tokens before, up to `window`)) per
    character. The first token is coded after the end-of-text token, so every token is paid for."""
    import torch

    start = model.tokenizer.eos_token_id if model.tokenizer.bos_token_id is None else model.tokenizer.bos_token_id
    ids = [start] + model.tokenize(text)
    total = 0.0
    with torch.inference_mode():
        for end in range(1, len(ids), window // 2):  # each chunk predicts ids[end:end + window//2]
            lo = max(0, end - window // 2)
            chunk = ids[lo: end + window // 2]
            logp = torch.log_softmax(model.model(torch.tensor([chunk])).logits[0].double(), -1)  # (T, vocab)
            total -= sum(float(logp[i - 1 - lo, ids[i]]) for i in range(end, min(end + window // 2, len(ids))))
    return total / math.log(2) / len(text)


def gzip_bits_per_char(text: str) -> float:
    """DEFLATE at its best level (what gzip does), without the gzip header, per character."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return 8 * len(packer.compress(text.encode("utf-8")) + packer.flush()) / len(text)


def compresses(claim, params, models) -> Measured:
    """The model's bits per character on held-out text are fewer than gzip's on the same text."""
    model = models(params["model"])
    text = params["prompt"]
    ours, gz = bits_per_char(model, text), gzip_bits_per_char(text)
    return Measured(ours < gz, f"{model.name} {ours:.2f} bits/char, gzip {gz:.2f} bits/char",
                    {"model_bpc": ours, "gzip_bpc": gz})


def said(claim, params, models) -> Measured:
    """No model here can show it: the step says so plainly (the test checks the step's text carries `phrase`)."""
    return Measured(True, f"stated, not shown: {claim['phrase']}")


KINDS: dict[str, Callable[[dict, Mapping[str, str], Models], Measured]] = {
    "top_token": top_token, "token_rank": token_rank, "sampled_differs": sampled_differs, "few_shot": few_shot,
    "greedy_contains": greedy_contains, "pieces": pieces, "decodes": decodes, "stage_rises": stage_rises,
    "margin_rises": margin_rises, "compresses": compresses, "said": said,
}


def measure(step, params: Mapping[str, str], models: Models) -> Measured | None:
    """The step's claim measured on its own model and prompt; None for a step that claims nothing measurable."""
    claim = claim_of(step)
    if not claim:
        return None
    return KINDS[claim["kind"]](claim, {**params, **claim.get("params", {})}, models)
