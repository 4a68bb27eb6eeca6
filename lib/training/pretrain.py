"""Train the bundled pocket model: byte-level BPE tokenizer + GPT-2 architecture, from a fixed seed.

    python -m lib.training.pretrain --corpus ../shared/assets/corpora/novels --out assets/pocket-lm

Writes a transformers-format folder (config.json, model.safetensors, tokenizer files),
metrics.json and a model card (README.md).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from pathlib import Path

from lib.training.corpus import DEFAULT_CORPUS, prepare

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CONFIG = dict(vocab_size=4096, n_positions=256, n_embd=256, n_layer=4, n_head=4)
TRAIN = dict(seq_len=128, batch_size=32, steps=1600, lr=2e-3, warmup=100, weight_decay=0.1, seed=1337)


def train_tokenizer(text: str, vocab_size: int):
    """Byte-level BPE, GPT-2 style, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(text.split("\n\n"), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>")


def encode_corpus(tokenizer, text: str) -> list[int]:
    """Paragraphs joined with the end-of-text token between chapters' paragraphs kept as newlines."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def trim_positions(model, length: int):
    """Keep only the position embeddings training reached (seq_len); later rows are untrained noise."""
    import torch

    wpe = model.transformer.wpe
    model.transformer.wpe = torch.nn.Embedding.from_pretrained(wpe.weight.data[:length].clone(), freeze=False)
    model.config.n_positions = length
    return model


def evaluate_perplexity(model, ids: list[int], n_ctx: int, batch_size: int = 16) -> float:
    """Every token after the first is predicted exactly once; windows overlap by one token."""
    import torch

    stride = n_ctx - 1
    windows = [ids[i : i + n_ctx] for i in range(0, len(ids) - 1, stride)]
    windows = [w for w in windows if len(w) > 1]
    nll, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            for w in windows[start : start + batch_size]:  # ragged last window: one at a time is simplest
                x = torch.tensor([w])
                logits = model(x).logits[0, :-1].double()  # (T-1, vocab)
                nll += torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum").item()
                count += len(w) - 1
    return math.exp(nll / count)


def train_model(ids: list[int], config: dict, train: dict, log=print, device: str = "cpu"):
    """AdamW with warmup and cosine decay; batches are drawn on the CPU from the seed, so a GPU run sees
    the same batches. Returns the model on the CPU."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(train["seed"])
    model = GPT2LMHeadModel(GPT2Config(**config, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                       bos_token_id=0, eos_token_id=0)).to(device)
    data = torch.tensor(ids, dtype=torch.long)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": train["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=train["lr"], betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(train["seed"])
    T, B, steps = train["seq_len"], train["batch_size"], train["steps"]
    losses = []
    model.train()
    t0 = time.time()
    for step in range(steps):
        lr = train["lr"] * min(1.0, (step + 1) / train["warmup"]) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in opt.param_groups:
            group["lr"] = max(lr, train["lr"] * 0.02)
        starts = torch.randint(0, len(data) - T - 1, (B,), generator=gen)
        x = torch.stack([data[s : s + T] for s in starts]).to(device)  # (B, T)
        loss = model(x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step:5d}/{steps}  loss {loss.item():.3f}  lr {lr:.2e}  {time.time() - t0:7.1f}s")
    return model.to("cpu"), losses, time.time() - t0


SAMPLE_PROMPTS = ["She opened the door and", "It was a dark and stormy night,", "The weather today is",
                  "My dear sister,", "He looked at her and said,"]


def sample_continuations(model, tokenizer, prompts=SAMPLE_PROMPTS, max_new_tokens=30) -> dict[str, str]:
    import torch

    out = {}
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        torch.manual_seed(0)
        gen = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=True, temperature=0.8, top_k=40,
                             pad_token_id=tokenizer.eos_token_id)
        out[prompt] = tokenizer.decode(gen[0, ids.shape[1]:])
    return out


def write_card(out: Path, metrics: dict, samples: dict[str, str]) -> None:
    m = metrics
    lines = [
        "# pocket-lm: the LLM Explainer's bundled language model",
        "",
        "A tiny GPT-2-architecture model trained from scratch by this project on 11 public-domain novels. "
        "It is a teaching model: it writes recognisable 19th-century-novel English and knows nothing else. "
        "It is **not** a chat assistant and has no knowledge of the world beyond these books.",
        "",
        "## Data",
        f"- Source: {', '.join(m['books'])} (Project Gutenberg, public domain in the US).",
        "- Cleaning (`lib/training/corpus.py`): BOMs and CRLF removed; Gutenberg header, footer and licence lines "
        "removed; title pages and tables of contents dropped; hard-wrapped paragraphs unwrapped; curly quotes "
        "and dashes normalised to ASCII.",
        f"- Split by whole chapters: every 12th chapter of each book is held out. "
        f"Train {m['train_chapters']} chapters / {m['train_tokens']:,} tokens; "
        f"validation {m['valid_chapters']} chapters / {m['valid_tokens']:,} tokens.",
        "",
        "## Tokenizer",
        f"Byte-level BPE (GPT-2 style) trained with the `tokenizers` library on the training split only; "
        f"vocabulary {m['config']['vocab_size']:,} including the special tokens {', '.join(SPECIAL_TOKENS)}.",
        "",
        "## Architecture",
        f"`GPT2LMHeadModel`: {m['config']['n_layer']} layers, d_model {m['config']['n_embd']}, "
        f"{m['config']['n_head']} heads, context {m['context']} tokens (trained on {m['train']['seq_len']}-token "
        f"windows; the position table is cut to that length after training), tied input/output embeddings. "
        f"**{m['parameters']:,} parameters**, stored as float32 safetensors ({m['weights_mb']:.1f} MB).",
        "",
        "## Training",
        f"- Command: `{m['command']}`",
        f"- {m['train']['steps']} steps of AdamW, batch {m['train']['batch_size']} × {m['train']['seq_len']} tokens, "
        f"peak learning rate {m['train']['lr']}, cosine decay, seed {m['train']['seed']}.",
        f"- Wall time: {m['train_seconds'] / 60:.1f} minutes on {m['hardware']}.",
        "- Add `--device cuda` to train on a GPU. Batches are drawn on the CPU from the same seed, so a GPU run sees "
        "the same data; its arithmetic differs slightly, so its weights are close but not bit-identical.",
        "",
        "## Held-out perplexity (same validation chapters, same tokenizer)",
        "| model | perplexity |",
        "|---|---|",
        f"| unigram (add-one) | {m['unigram_ppl']:.1f} |",
        f"| bigram (interpolated, λ={m['bigram_lambda']}) | {m['bigram_ppl']:.1f} |",
        f"| **pocket-lm** | **{m['valid_ppl']:.2f}** |",
        "",
        "The n-gram baselines are fitted on the same training split; their smoothing weight is tuned on "
        "training text only.",
        "",
        "## Sample continuations (temperature 0.8, top-k 40, seed 0)",
        *[f"- *{p}*{c}" for p, c in samples.items()],
        "",
        "## Limits",
        "- Knows only what is in 11 novels: no facts, no arithmetic, no code, no languages other than English.",
        f"- Context of {m['context']} tokens; longer prompts are cut from the left by the app.",
        "- Reproduces the period's style, including its social attitudes.",
        "- Perplexities are not comparable with models that use another tokenizer.",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=Path("assets/pocket-lm"))
    parser.add_argument("--steps", type=int, default=TRAIN["steps"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu (the default and the bundled model's), or cuda")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train_cfg = {**TRAIN, "steps": args.steps}

    corpus = prepare(args.corpus)
    tokenizer = train_tokenizer(corpus.train, CONFIG["vocab_size"])
    train_ids, valid_ids = encode_corpus(tokenizer, corpus.train), encode_corpus(tokenizer, corpus.valid)
    print(f"train {len(train_ids):,} tokens, valid {len(valid_ids):,} tokens", flush=True)

    model, losses, seconds = train_model(train_ids, CONFIG, train_cfg, log=lambda s: print(s, flush=True),
                                         device=args.device)
    command = "python -m lib.training.pretrain " + shlex.join(sys.argv[1:] if argv is None else argv)
    finish(model, tokenizer, corpus, train_ids, valid_ids, train_cfg, seconds, sum(losses[-50:]) / 50, args.out,
           args.threads, command, args.device)


def finish(model, tokenizer, corpus, train_ids, valid_ids, train_cfg, seconds, final_loss, out: Path, threads: int,
           command: str, device: str = "cpu") -> dict:
    """Trim positions, save in transformers format, measure against the n-gram baselines, write the card."""
    from lib.training.ngram import bigram_perplexity, unigram_perplexity

    model = trim_positions(model, train_cfg["seq_len"])
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    valid_ppl = evaluate_perplexity(model, valid_ids, model.config.n_positions)
    bigram, lam = bigram_perplexity(train_ids, valid_ids, CONFIG["vocab_size"])
    metrics = dict(
        books=list(corpus.books), train_chapters=corpus.n_chapters_train, valid_chapters=corpus.n_chapters_valid,
        train_tokens=len(train_ids), valid_tokens=len(valid_ids), config=CONFIG, train=train_cfg,
        parameters=sum(p.numel() for p in model.parameters()), context=model.config.n_positions,
        weights_mb=(out / "model.safetensors").stat().st_size / 1e6,
        valid_ppl=valid_ppl, unigram_ppl=unigram_perplexity(train_ids, valid_ids, CONFIG["vocab_size"]),
        bigram_ppl=bigram, bigram_lambda=lam, train_seconds=seconds, final_train_loss=final_loss,
        hardware=_hardware(device, threads), command=command,
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    write_card(out, metrics, sample_continuations(model, tokenizer))
    print(json.dumps({k: metrics[k] for k in ("valid_ppl", "unigram_ppl", "bigram_ppl", "train_seconds")}))
    return metrics


def _hardware(device: str, threads: int) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))}, torch {torch.__version__}"
    return f"{platform.machine()} CPU, {threads} thread{'s' if threads != 1 else ''}, torch {torch.__version__}"


if __name__ == "__main__":
    main()
