"""Training stages: the story as data, model families (grouped from lib/models/catalog.py), and the measures that compare stages.

Definitions used everywhere (page, tests, model cards):

* **What a checkpoint sees.** A base checkpoint gets the raw prompt text. A chat checkpoint (SFT, DPO,
  Instruct) gets `tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
  add_generation_prompt=True)`, so its next token is the first token of the assistant's answer. Control
  tokens typed by the user stay plain text (`sanitize_control_tokens=True`).
* **Expected answer's first token.** For a reference answer `a`, the ids `{first(tokenize(a)),
  first(tokenize(" " + a))}`: the answer's first token written straight after the prompt, or after one
  space (a base model continuing "...?" usually puts a space first). Its probability is the sum of those
  ids' probabilities in the next-token distribution (each id counted once).
* **Entropy** of the next-token distribution, in nats (and bits for display).
* **KL divergence** KL(P_later || P_earlier) = sum_x P_later(x) log(P_later(x) / P_earlier(x)), in nats,
  between two stages' first-answer-token distributions over the same vocabulary. It is the quantity
  RLHF's KL penalty keeps small. Undefined (None) across vocabularies or for partial (top-k) API data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from lib.models.catalog import Family, stage_families
from lib.sampling.distribution import Distribution
from lib.models.next_token import Formatted, NextTokenModel

# -- the story ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryStage:
    key: str
    name: str
    ulmfit: str           # ULMFiT's name for the step this one descends from
    objective: str
    data_kind: str        # "text", "instruction" or "preference"
    data_note: str


STORY: tuple[StoryStage, ...] = (
    StoryStage("pretrain", "1. Pretraining", "a) General-domain LM pretraining",
               "Predict the next token of ordinary text. No instructions, no answers: just a lot of documents.",
               "text", "ULMFiT used Wikitext-103 (28,595 Wikipedia articles, 103 million words); "
                       "pocket-lm used 11 public-domain novels."),
    StoryStage("sft", "2. Instruction tuning (SFT)", "b) Target-task LM fine-tuning",
               "Still next-token prediction, but on (instruction, response) pairs, with the loss counted on the "
               "response only. Data sets like FLAN and OpenOrca.",
               "instruction", "InstructGPT step 1: about 13k training prompts with labeler-written demonstrations."),
    StoryStage("preference", "3. Preference tuning (RLHF or DPO)", "c) Target-task classifier fine-tuning",
               "Show two answers to one prompt; push up the one people preferred and push down the other, "
               "while staying close (small KL) to the SFT model.",
               "preference", "InstructGPT: a reward model from 33k prompts (labelers ranked 4 to 9 outputs each), "
                             "then PPO on 31k prompts. DPO skips the reward model and learns from the pairs directly."),
)
PRETRAIN_SNIPPET = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
                    "must be in want of a wife.")  # Jane Austen, Pride and Prejudice (1813): public domain
FLAN_EXAMPLE = ("Does the sentence \"In the Iron Age\" answer the question \"The period of time from 1200 to 1000 "
                "BCE is known as what?\" Choices: 1. yes 2. no", "2")  # the FLAN-style example from the lecture
QUOTE = ("Although you can download pure language models from the internet, they're not generally that useful on "
         "their own until you've fine-tuned them.")  # Jeremy Howard, A Hacker's Guide to Language Models

# InstructGPT (Ouyang et al. 2022), as recorded in ../shared/reference/facts.md section E (marked there as
# read in secondary copies of the paper text).
INSTRUCTGPT_FACTS: tuple[tuple[str, str], ...] = (
    ("SFT prompts", "about 13k training prompts (from the API and labeler-written)"),
    ("Reward-model prompts", "33k training prompts; labelers rank 4 to 9 outputs per prompt"),
    ("PPO prompts", "31k training prompts (only from the API), with a KL penalty toward the SFT model"),
    ("Headline", "outputs from the 1.3B parameter InstructGPT model are preferred to outputs from the 175B GPT-3, "
                 "despite having 100x fewer parameters"),
    ("Same size", "175B InstructGPT is preferred over 175B GPT-3 85 ± 3% of the time"),
)
# Shown on the page as citations; the numbers were checked against the reference notes (facts.md, sections C, E).
SOURCES = {
    "InstructGPT": "Ouyang et al. 2022, Training language models to follow instructions with human feedback, "
                   "arXiv 2203.02155, section 3.2 and abstract",
    "ULMFiT": "Howard & Ruder 2018, Universal Language Model Fine-tuning for Text Classification, arXiv 1801.06146",
    "DPO": "Rafailov et al. 2023, Direct Preference Optimization, arXiv 2305.18290",
}

# -- families, grouped from the catalog -----------------------------------------------------------
FAMILIES: dict[str, Family] = stage_families()  # built from lib/models/catalog.toml: add a family there
DEFAULT_FAMILY = "pocket-lm"

# -- prompts as each checkpoint sees them --------------------------------------------------------


def format_prompt(model: NextTokenModel, text: str, chat: bool) -> Formatted:
    """The prompt as a checkpoint sees it: raw for base checkpoints, as a chat turn otherwise."""
    return model.chat_prompt(text) if chat else Formatted(model.encode(text), False)


# -- measures -------------------------------------------------------------------------------------


def start_ids(tokenize: Callable[[str], Sequence[int]], answer: str) -> tuple[int, ...]:
    """Ids that can start `answer`: its first token, written directly or after one space (deduplicated)."""
    answer = answer.strip()
    if not answer:
        return ()
    out: list[int] = []
    for variant in (answer, " " + answer):
        ids = tokenize(variant)
        if ids and ids[0] not in out:
            out.append(int(ids[0]))
    return tuple(out)


def answer_start_ids(tokenizer, answer: str) -> tuple[int, ...]:
    """`start_ids` with a transformers tokenizer, as plain text."""
    return start_ids(lambda v: tokenizer(v, add_special_tokens=False, split_special_tokens=True)["input_ids"], answer)


def expected_positions(dist: Distribution, answer: str, model: NextTokenModel | None = None) -> tuple[int, ...]:
    """Positions in `dist` that start the expected answer.

    With the model and a complete distribution, positions are token ids (`start_ids`). For partial
    API distributions (no ids), they are the listed tokens whose text, leading spaces removed, is a non-empty
    prefix of the answer: an approximation, as the API's tokenizer is not known here.
    """
    if model is not None and dist.complete:
        return start_ids(model.tokenize, answer)
    target = answer.strip()
    return tuple(i for i, t in enumerate(dist.texts) if t.lstrip() and target.startswith(t.lstrip())) if target else ()


def expected_probability(dist: Distribution, ids: Sequence[int]) -> float:
    """Total probability of the expected first-token positions (each counted once); NaN when there are none."""
    unique = sorted(set(int(i) for i in ids))
    if not unique:
        return float("nan")
    probs = dist.probs
    return float(sum(probs[i] for i in unique if 0 <= i < len(probs)))


def expected_rank(dist: Distribution, ids: Sequence[int]) -> int | None:
    """Best rank (1 = most likely) among the expected ids."""
    ranks = [dist.rank(i) for i in set(ids) if 0 <= i < len(dist.logprobs)]
    return min(ranks) if ranks else None


def kl_divergence(p: Distribution, q: Distribution) -> float | None:
    """KL(p || q) in nats over one vocabulary; None when it is not defined here."""
    if not (p.complete and q.complete) or len(p.scores) != len(q.scores):
        return None
    lp, lq = p.logprobs, q.logprobs
    probs = np.exp(lp)
    mask = probs > 0
    return float(np.sum(probs[mask] * (lp[mask] - lq[mask])))


@dataclass(frozen=True)
class StageMeasure:
    label: str
    stage: str
    expected_prob: float
    expected_rank: int | None
    entropy_nats: float
    kl_from_previous: float | None
    top_token: str
    notes: tuple[str, ...] = field(default=())


def compare(labels: Sequence[tuple[str, str]], dists: Sequence[Distribution], expected_ids: Sequence[Sequence[int]]
            ) -> list[StageMeasure]:
    """One row per stage: P(expected first token), its rank, entropy, and KL from the previous stage."""
    rows = []
    for i, ((label, stage), dist, ids) in enumerate(zip(labels, dists, expected_ids)):
        kl = kl_divergence(dist, dists[i - 1]) if i > 0 else None
        top = dist.top_rows(1)[0]
        rows.append(StageMeasure(label, stage, expected_probability(dist, ids) if ids else float("nan"),
                                 expected_rank(dist, ids) if ids else None, dist.entropy(), kl, top.label))
    return rows


# -- prompt presets: (prompt, expected answer) ----------------------------------------------------------
def presets() -> dict[str, tuple[str, str]]:
    """Held-out instructions for the bundled model (never seen in SFT or DPO), then general ones for hub models."""
    from lib.teaching.instructions import held_out_examples

    picks = {"sentiment": "Sentiment", "yesno": "Yes or no", "opposite": "Opposite", "polite": "Politeness",
             "title": "Title", "letter": "Letter", "repeat": "Repeat"}
    out: dict[str, tuple[str, str]] = {}
    for ex in held_out_examples():
        if ex.task in picks and f"{picks[ex.task]} (held out)" not in out:
            out[f"{picks[ex.task]} (held out)"] = (ex.instruction, ex.answer)
    # A held-out sentence where pocket-lm-sft mostly starts with its copied "Well, ..." habit and DPO fixes it.
    out["Sentiment (held out)"] = (
        "Is this sentence happy or sad?\nThe schoolmaster beamed with pleasure at the letter.", "It is happy.")
    out["Capital of France (hub models)"] = ("What is the capital of France?", "The capital of France is Paris.")
    out["Iron Age, FLAN style (lecture)"] = FLAN_EXAMPLE
    from lib.teaching.presets import STAGE_PRESETS  # the lecture's RLHF prompt

    out.update(STAGE_PRESETS)
    return {"Sentiment (held out)": out.pop("Sentiment (held out)"), **out}


DEFAULT_PRESET = "Sentiment (held out)"
