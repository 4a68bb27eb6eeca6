"""Instruction tuning (SFT) and preference tuning (DPO) for the bundled pocket model, in plain torch.

    python -m lib.training.finetune sft --base assets/pocket-lm --out assets/pocket-lm-sft
    python -m lib.training.finetune dpo --base assets/pocket-lm-sft --out assets/pocket-lm-dpo

Why a plain loop and not TRL: TRL would add `datasets` and `accelerate` (and, with them, much more than
this 4M-parameter model needs) to a project that must install fast and run offline. Both objectives fit
on a screen here, which is the point of a teaching app:

* SFT is next-token cross-entropy on ChatML conversations, counted on the assistant's tokens only.
* DPO (Rafailov et al. 2023) is  -log sigmoid(beta * ((log pi(y_w|x) - log ref(y_w|x))
  - (log pi(y_l|x) - log ref(y_l|x))))  against the frozen SFT model as the reference.

The objectives, loops and measures are in lib/training/sft_dpo.py; the page's "Fine-tune live" button
runs lib/training/live.py.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import time
from pathlib import Path

from lib.training.sft_dpo import (DPO, SFT, add_chat_template, first_token_of, first_token_probs, greedy_reply,
                                  held_out_pairs, load, prefers_chosen, reward_accuracy, summarise_first_token,
                                  train_dpo, train_sft)
from lib.teaching.instructions import held_out_examples, preference_pairs, sft_examples


def _hardware(threads: int) -> str:
    import torch

    return f"{platform.machine()} CPU, {threads} torch thread{'s' if threads != 1 else ''}, torch {torch.__version__}"


def _save(model, tokenizer, out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return (out / "model.safetensors").stat().st_size / 1e6


def run_sft(args) -> dict:
    from collections import Counter

    examples = sft_examples()
    model, tokenizer = load(args.base)
    base_model, base_tok = load(args.base)
    add_chat_template(tokenizer)
    cfg = {**SFT, "steps": args.steps or SFT["steps"]}

    def progress(step: int, loss: float) -> None:
        if step % 25 == 0 or step == cfg["steps"] - 1:
            print(f"sft step {step:4d}/{cfg['steps']}  loss {loss:.3f}", flush=True)

    t0 = time.perf_counter()
    losses = train_sft(model, tokenizer, examples, cfg, on_step=progress)
    seconds = time.perf_counter() - t0
    weights_mb = _save(model, tokenizer, args.out)
    held = held_out_examples()
    base_p = first_token_probs(base_model, base_tok, held, chat=False)
    sft_p = first_token_probs(model, tokenizer, held, chat=True)
    return dict(stage="sft", base=str(args.base), train=cfg, n_examples=len(examples),
                tasks=dict(Counter(ex.task for ex in examples)),
                rambling_answers=sum(ex.answer.startswith("Well") for ex in examples),
                n_held_out=len(held), train_seconds=seconds, weights_mb=weights_mb,
                first_loss=statistics.fmean(losses[:10]), final_loss=statistics.fmean(losses[-20:]),
                first_token=summarise_first_token(base_p, sft_p),
                well_first=statistics.fmean(first_token_of(model, tokenizer, held, "Well")),
                samples={ex.instruction: greedy_reply(model, tokenizer, ex.instruction) for ex in held[::12]},
                hardware=_hardware(args.threads), command=_command(args))


def run_dpo(args) -> dict:
    from collections import Counter

    pairs = preference_pairs()
    policy, tokenizer = load(args.base)
    reference, _ = load(args.base)
    cfg = {**DPO, "steps": args.steps or DPO["steps"]}

    def progress(step: int, loss: float, accuracy: float) -> None:
        if step % 10 == 0 or step == cfg["steps"] - 1:
            print(f"dpo step {step:4d}/{cfg['steps']}  loss {loss:.3f}  acc {accuracy:.2f}", flush=True)

    t0 = time.perf_counter()
    log = train_dpo(policy, reference, tokenizer, pairs, cfg, on_step=progress)
    seconds = time.perf_counter() - t0
    weights_mb = _save(policy, tokenizer, args.out)

    held, held_pairs = held_out_examples(), held_out_pairs()
    sft_card = Path(args.base) / "metrics.json"
    pretrained = json.loads(sft_card.read_text())["base"] if sft_card.exists() else "assets/pocket-lm"
    base_model, base_tok = load(pretrained)
    base_p = first_token_probs(base_model, base_tok, held, chat=False)
    sft_p = first_token_probs(reference, tokenizer, held, chat=True)
    dpo_p = first_token_probs(policy, tokenizer, held, chat=True)
    replies = {name: [greedy_reply(m, tokenizer, ex.instruction) for ex in held]
               for name, m in (("sft", reference), ("dpo", policy))}
    return dict(stage="dpo", base=str(args.base), pretrained=pretrained, train=cfg, n_pairs=len(pairs),
                why=dict(Counter(p.why for p in pairs)), n_held_out=len(held),
                train_seconds=seconds, weights_mb=weights_mb,
                first_loss=statistics.fmean(r["loss"] for r in log[:10]),
                final_loss=statistics.fmean(r["loss"] for r in log[-10:]),
                final_train_accuracy=statistics.fmean(r["accuracy"] for r in log[-10:]),
                held_out_reward_accuracy=reward_accuracy(policy, reference, tokenizer, held_pairs),
                held_out_prefers_chosen=dict(sft=prefers_chosen(reference, tokenizer, held_pairs),
                                             dpo=prefers_chosen(policy, tokenizer, held_pairs)),
                first_token_vs_base=summarise_first_token(base_p, dpo_p),
                first_token_vs_sft=summarise_first_token(sft_p, dpo_p),
                well_first=dict(sft=statistics.fmean(first_token_of(reference, tokenizer, held, "Well")),
                                dpo=statistics.fmean(first_token_of(policy, tokenizer, held, "Well"))),
                reply_chars={name: statistics.fmean(map(len, r)) for name, r in replies.items()},
                samples={ex.instruction: dict(sft=replies["sft"][i], dpo=replies["dpo"][i])
                         for i, ex in enumerate(held) if i % 12 == 0},
                hardware=_hardware(args.threads), command=_command(args))


def _command(args) -> str:
    steps = f" --steps {args.steps}" if args.steps else ""
    return (f"python -m lib.training.finetune {args.stage} --base {shlex.quote(str(args.base))} "
            f"--out {shlex.quote(str(args.out))}{steps}")


def _first_token_table(ft: dict, tuned: str) -> list[str]:
    return [
        f"| held-out instructions | base (pocket-lm) | {tuned} |",
        "|---|---|---|",
        f"| mean P(expected first token) | {ft['base_mean']:.4f} | {ft['tuned_mean']:.3f} |",
        f"| ratio of means | | **{ft['ratio_of_means']:,.0f}x** |",
        f"| median per-instruction ratio | | {ft['median_ratio']:,.0f}x |",
        f"| share of instructions at least 5x | | {ft['share_at_least_5x']:.0%} |",
        "",
    ]


MEASURE = [
    "## The measure",
    "P(expected first token) = the probability, in the next-token distribution right after the prompt, of the "
    "reference answer's first token (written directly or after one space), as defined in `lib/teaching/stages.py`. "
    "The base model gets the raw instruction; the tuned models get it in the ChatML chat template. The held-out "
    "instructions are built from words and sentences that no training example uses.",
    "",
]
LIMITS = ["## Limits", "- A teaching model: it learned a handful of answer formats, not general instruction following.",
          "- It knows only what is in 11 novels.", ""]


def write_card(out: Path, m: dict) -> None:
    """README.md model card: data, command, wall time and the measured figures."""
    run = (f"- Wall time: {m['train_seconds']:.0f} s of training on {m['hardware']}.",
           f"- Weights: {m['weights_mb']:.1f} MB float32 safetensors.")
    lines = (_sft_card if m["stage"] == "sft" else _dpo_card)(m, m["train"], run)
    (out / "README.md").write_text("\n".join(lines + LIMITS), encoding="utf-8")


def _sft_card(m: dict, t: dict, run: tuple[str, ...]) -> list[str]:
    tasks = ", ".join(f"{k} {v}" for k, v in m["tasks"].items())
    return [
        "# pocket-lm-sft: pocket-lm after instruction tuning", "",
        "The bundled pocket-lm (a 4-layer GPT-2 trained on 11 novels) after supervised fine-tuning on the "
        "project's own small instruction set. Same architecture and tokenizer; the tokenizer now carries a ChatML "
        "chat template (`<|im_start|>role\\n...<|im_end|>\\n`) and `<|im_end|>` ends the assistant's turn.", "",
        "## Data",
        f"- {m['n_examples']} (instruction, answer) pairs templated in `lib/teaching/instructions.py` ({tasks}).",
        f"- {m['rambling_answers']} of them ramble before answering (\"Well, let me think about that. ...\"), like "
        "untidy human demonstrations; the DPO stage learns to prefer the concise form.",
        "- Loss on the answer tokens and the closing `<|im_end|>` only.", "",
        "## Training",
        f"- Command: `{m['command']}`",
        f"- {t['steps']} steps of AdamW, batch {t['batch_size']}, peak learning rate {t['lr']}, warm-up "
        f"{t['warmup']}, cosine decay, seed {t['seed']}; plain torch loop.",
        *run,
        f"- Loss {m['first_loss']:.2f} (first 10 steps) -> {m['final_loss']:.2f} (last 20).", "",
        *MEASURE, *_first_token_table(m["first_token"], "SFT"),
        f"Mean P(first answer token = \"Well\") on the held-out set: {m['well_first']:.3f}: the rambling "
        "style copied from the demonstrations.", "",
        "## Greedy replies to held-out instructions",
        *[f"- *{k.replace(chr(10), ' / ')}* -> {v}" for k, v in m["samples"].items()], "",
    ]


def _dpo_card(m: dict, t: dict, run: tuple[str, ...]) -> list[str]:
    why, sft_dpo, pref = m["why"], m["first_token_vs_sft"], m["held_out_prefers_chosen"]
    return [
        "# pocket-lm-dpo: pocket-lm-sft after preference tuning (DPO)", "",
        "pocket-lm-sft tuned with Direct Preference Optimization against a frozen copy of itself. Same "
        "architecture and tokenizer (ChatML chat template).", "",
        "## Data",
        f"- {m['n_pairs']} preference pairs from `lib/teaching/instructions.py`: the chosen answer is concise and "
        f"on format; the rejected one rambles ({why.get('concise', 0)}), has the wrong label "
        f"({why.get('correct', 0)}) or is off format ({why.get('on format', 0)}).", "",
        "## Training",
        f"- Command: `{m['command']}`",
        f"- Loss: -log sigmoid(beta * (policy log-ratio - reference log-ratio)), beta {t['beta']}; {t['steps']} "
        f"steps, batch {t['batch_size']} pairs, peak learning rate {t['lr']}, seed {t['seed']}; plain torch loop.",
        *run,
        f"- Loss {m['first_loss']:.3f} -> {m['final_loss']:.3f}; training reward accuracy "
        f"{m['final_train_accuracy']:.0%} (last 10 steps).", "",
        "## What changed from SFT (held-out instructions)",
        "| | SFT | DPO |", "|---|---|---|",
        f"| mean P(expected first token) | {sft_dpo['base_mean']:.3f} | {sft_dpo['tuned_mean']:.3f} |",
        f"| mean P(first token = \"Well\") | {m['well_first']['sft']:.3f} | {m['well_first']['dpo']:.3f} |",
        f"| mean greedy reply length (characters) | {m['reply_chars']['sft']:.0f} "
        f"| {m['reply_chars']['dpo']:.0f} |",
        f"| log p(concise) > log p(rambling) | {pref['sft']:.0%} | {pref['dpo']:.0%} |", "",
        f"DPO implicit-reward accuracy on {m['n_held_out']} held-out pairs (concise vs rambling): "
        f"{m['held_out_reward_accuracy']:.0%}.", "",
        *MEASURE, *_first_token_table(m["first_token_vs_base"], "DPO"),
        "## Greedy replies to held-out instructions (SFT -> DPO)",
        *[f"- *{k.replace(chr(10), ' / ')}*: SFT \"{v['sft']}\" -> DPO \"{v['dpo']}\""
          for k, v in m["samples"].items()], "",
    ]


def main(argv=None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=["sft", "dpo"])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=0, help="override the number of steps")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (on a busy 2-core machine one thread is faster: 0.8 s vs 2.1 s per step)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    metrics = run_sft(args) if args.stage == "sft" else run_dpo(args)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    write_card(args.out, metrics)
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("samples",)}, indent=1))


if __name__ == "__main__":
    main()
