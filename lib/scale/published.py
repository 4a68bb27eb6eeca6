"""The published models and training sets the Model scale page compares, each number with its source.

Every model is counted by lib/scale/maths.py's formula; the ones with a transformers class are also counted on the
meta device (lib/scale/meta_device.py). GPT-3 has no transformers class, so it uses the GPT-2 formula, which tests
check against the meta counts for GPT-2. Marks follow ../shared/reference/facts.md: ✅ read in a primary file,
◐ only in secondary copies, ⚠ not verified.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from lib.scale.maths import Spec, breakdown, count, gpt2_spec, gpt_formula

POCKET_DIR = Path(__file__).resolve().parents[2] / "assets" / "pocket-lm"
POCKET_DEFAULT = dict(n_layer=4, n_embd=256, n_head=4, vocab_size=4096, n_positions=256, tie_word_embeddings=True)
GPT1_VOCAB = 40478  # openai-gpt's BPE vocabulary ⚠ (HF config); used only to explain GPT-2's paper counts


# -- the catalog ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Model:
    key: str            # stable id used in ?models=
    name: str
    group: str
    kind: str           # "encoder", "decoder" or "encoder-decoder"
    spec: Spec
    year: int
    published: float    # parameters as published
    published_label: str
    published_src: str
    arch_src: str
    data: str
    tokens: float | None  # training tokens, when known
    data_src: str
    counter: str = "transformers"  # or "formula" (GPT-3)
    notes: tuple[str, ...] = field(default=())

    @property
    def counted(self) -> int:
        return count(self.spec)


S_GPT3 = "Brown et al. 2020, Table 2.1 (arXiv 2005.14165) ◐"
S_GPT3_DATA = "GPT-3 paper §2.2, Table 2.2: 300B training tokens ◐"
S_BERT = "google-research/bert README.md ✅"
# BERT paper appendix A.2 ◐ (also the HF bert-base-uncased card ◐): 1,000,000 steps of 256 sequences; sequences were
# 128 tokens long for 90% of the steps and 512 for the rest. The paper's "128,000 tokens/batch" counts every sequence at 512.
BERT_STEPS, BERT_BATCH, BERT_SHORT_SHARE, BERT_SHORT, BERT_LONG = 1_000_000, 256, 0.9, 128, 512
BERT_NOMINAL_TOKENS = BERT_STEPS * BERT_BATCH * BERT_LONG
BERT_TOKENS = round(BERT_STEPS * BERT_BATCH * (BERT_SHORT_SHARE * BERT_SHORT + (1 - BERT_SHORT_SHARE) * BERT_LONG))
S_BERT_DATA = (f"BERT paper §3.1: BooksCorpus 800M words + English Wikipedia 2,500M words ◐; appendix A.2 ◐: "
               f"{BERT_STEPS:,} steps × {BERT_BATCH} sequences, 128 tokens long for 90% of the steps and 512 for "
               f"the rest: {BERT_TOKENS / 1e9:.1f}B tokens processed (counted here). The nominal 256 × 512 tokens "
               f"per batch × {BERT_STEPS:,} steps would be {BERT_NOMINAL_TOKENS / 1e9:.0f}B (the paper rounds the "
               f"batch to 128,000 tokens: 128B).")
S_GPT2_REL = "openai/gpt-2 DEVELOPERS.md, model_card.md (released sizes) ✅"
S_GPT2_ARCH = "GPT-2 paper Table 2 (layers, d_model) ◐; heads from the HF config ◐"
S_GPT2_DATA = "WebText: 45M Reddit outbound links ✅ (model_card.md), 40 GB ◐ (HF card); token count not published"
S_T5 = "google-research/text-to-text-transfer-transformer README.md (sizes) ✅"
S_T5_ARCH = "T5 paper §3.7 / HF configs (d_model, d_ff, heads, d_kv) ◐"
S_T5_DATA = "C4 (~750 GB ◐, from ~7 TB of Common Crawl ✅); ~1T pre-training tokens (T5 paper §3.7) ⚠"
S_L2 = "meta-llama/llama MODEL_CARD.md (size, 2.0T tokens, 4k context) ✅"
S_L3 = "meta-llama/llama3 MODEL_CARD.md (size, 15T+ tokens, 8k context, 128K vocab) ✅"
S_L31 = "meta-llama/llama-models llama3_1 MODEL_CARD.md (size, ~15T tokens, 128k context) ✅"
S_L32 = "meta-llama/llama-models llama3_2 MODEL_CARD.md (1.23B / 3.21B, up to 9T tokens) ✅"
S_LLAMA_ARCH = "HF config.json (d_model, layers, heads, KV heads, d_ff; secondary copies) ◐"
S_OLMO = "HF allenai/OLMo-2-1124-7B card (layers, d_model, heads, tokens, 4k context) ✅; d_ff, vocab from HF config ◐"
S_SMOL = "HF SmolLM2 cards (2T / 4T / 11T tokens) ✅; architecture from HF config.json ◐"
S_QWEN = "Qwen2.5-0.5B HF config: 0.49B, 24 layers, d=896, 14 Q / 2 KV heads, vocab 151,936, tied ◐"
S_QWEN_DATA = "18T tokens (Qwen2.5 technical report) ⚠"
S_PYTHIA = "EleutherAI/pythia README.md (layers, d_model, heads, 299,892,736,000 tokens) ✅"
S_PYTHIA_COUNT = "HF Pythia model card, 'total params' column (secondary copy) ◐"
S_PYTHIA_VOCAB = "vocab padded to 50,304 (50,432 for 6.9B, 50,688 for 12B) from HF configs ◐"

_GPT3 = (  # size, layers, d_model, heads, published, published label
    ("Small", 12, 768, 12, 125e6, "125M"), ("Medium", 24, 1024, 16, 350e6, "350M"),
    ("Large", 24, 1536, 16, 760e6, "760M"), ("XL", 24, 2048, 24, 1.3e9, "1.3B"),
    ("2.7B", 32, 2560, 32, 2.7e9, "2.7B"), ("6.7B", 32, 4096, 32, 6.7e9, "6.7B"),
    ("13B", 40, 5120, 40, 13.0e9, "13.0B"), ("175B", 96, 12288, 96, 175.0e9, "175.0B"),
)
GPT3_PRINTED_D_MODEL = {"13B": 5140}  # the paper's typo; 40 heads × 128 = 5120


def _gpt3_models() -> list[Model]:
    out = []
    for label, L, d, h, pub, pub_label in _GPT3:
        notes: tuple[str, ...] = ("GPT-3 has no transformers class: counted with the GPT-2 formula (tied embeddings assumed ⚠; "
                 "GPT-3's alternating sparse attention has no extra parameters).",)
        if label == "XL":
            notes += ("Table 2.1 lists d_head = 128 for XL, but 24 × 128 ≠ 2048; the count assumes attention width = d_model.",)
        if label == "13B":
            notes += ("Table 2.1 prints d_model = 5140, but 40 heads × 128 = 5120: a known typo. Counted with 5120.",)
        out.append(Model(f"gpt3-{label.lower()}", f"GPT-3 {label}", "GPT-3", "decoder",
                         Spec("gpt2", L, d, h, 50257, 2048, 4 * d), 2020, pub, pub_label, S_GPT3,
                         S_GPT3 + "; vocab 50,257 as GPT-2 ◐", "Common Crawl, WebText2, Books1/2, Wikipedia",
                         300e9, S_GPT3_DATA, counter="formula", notes=notes))
    return out


def _gpt2_models() -> list[Model]:
    rows = (("small", "small", 12, 768, 12, 124e6, "124M", "117M"), ("medium", "medium", 24, 1024, 16, 355e6, "355M", "345M"),
            ("large", "large", 36, 1280, 20, 774e6, "774M", "762M"), ("xl", "XL", 48, 1600, 25, 1558e6, "1558M", "1542M"))
    out = []
    for key, short, L, d, h, pub, label, paper in rows:
        notes = (f"The GPT-2 paper printed {paper}; OpenAI's README says the original counts were wrong 'due to an "
                 "error' ✅ and the released name is the correct one.",
                 "The output layer reuses the token-embedding matrix (tied), so it is counted once.")
        out.append(Model(f"gpt2-{key}", f"GPT-2 {short}", "GPT-2", "decoder", gpt2_spec(L, d, h, 50257, 1024), 2019,
                         pub, f"{label} (paper: {paper})", S_GPT2_REL, S_GPT2_ARCH, "WebText (40 GB)", None,
                         S_GPT2_DATA, notes=notes))
    return out


def _t5_models() -> list[Model]:
    rows = (("small", "Small", 6, 512, 2048, 8, 64, 60e6, "60M"), ("base", "Base", 12, 768, 3072, 12, 64, 220e6, "220M"),
            ("large", "Large", 24, 1024, 4096, 16, 64, 770e6, "770M"), ("3b", "3B", 24, 1024, 16384, 32, 128, 3e9, "3B"),
            ("11b", "11B", 24, 1024, 65536, 128, 128, 11e9, "11B"))
    return [Model(f"t5-{key}", f"T5 {label}", "T5", "encoder-decoder",
                  Spec("t5", L, d, h, 32128, 512, ff, d_head=dkv, decoder_layers=L), 2019, pub, pub_label, S_T5,
                  S_T5_ARCH + "; vocab 32,128; 512-token inputs in pre-training", "C4 (Colossal Clean Crawled Corpus)",
                  1e12, S_T5_DATA) for key, label, L, d, ff, h, dkv, pub, pub_label in rows]


def _llama(key, name, group, L, d, h, kv, ff, V, C, tied, year, pub, pub_label, src, tokens, data_src) -> Model:
    return Model(key, name, group, "decoder", Spec("llama", L, d, h, V, C, ff, kv_heads=kv, tied=tied), year, pub,
                 pub_label, src, S_LLAMA_ARCH, "a new mix of publicly available online data", tokens, data_src)


def _modern_models() -> list[Model]:
    out = [
        _llama("llama-2-7b", "Llama 2 7B", "Llama 2", 32, 4096, 32, 32, 11008, 32000, 4096, False, 2023, 7e9, "7B", S_L2, 2e12, S_L2),
        _llama("llama-2-13b", "Llama 2 13B", "Llama 2", 40, 5120, 40, 40, 13824, 32000, 4096, False, 2023, 13e9, "13B", S_L2, 2e12, S_L2),
        _llama("llama-2-70b", "Llama 2 70B", "Llama 2", 80, 8192, 64, 8, 28672, 32000, 4096, False, 2023, 70e9, "70B", S_L2, 2e12, S_L2),
        _llama("llama-3-8b", "Llama 3 8B", "Llama 3", 32, 4096, 32, 8, 14336, 128256, 8192, False, 2024, 8e9, "8B", S_L3, 15e12, S_L3),
        _llama("llama-3-70b", "Llama 3 70B", "Llama 3", 80, 8192, 64, 8, 28672, 128256, 8192, False, 2024, 70e9, "70B", S_L3, 15e12, S_L3),
        _llama("llama-3.1-405b", "Llama 3.1 405B", "Llama 3", 126, 16384, 128, 8, 53248, 128256, 131072, False, 2024,
               405e9, "405B", S_L31, 15e12, S_L31),
        _llama("llama-3.2-1b", "Llama 3.2 1B", "Llama 3", 16, 2048, 32, 8, 8192, 128256, 131072, True, 2024,
               1.23e9, "1.23B", S_L32, 9e12, S_L32 + " (9T is an upper bound)"),
        _llama("llama-3.2-3b", "Llama 3.2 3B", "Llama 3", 28, 3072, 24, 8, 8192, 128256, 131072, True, 2024,
               3.21e9, "3.21B", S_L32, 9e12, S_L32 + " (9T is an upper bound)"),
    ]
    smol = (("135m", "135M", 30, 576, 9, 3, 1536, 8192, 135e6, 2e12), ("360m", "360M", 32, 960, 15, 5, 2560, 8192, 360e6, 4e12),
            ("1.7b", "1.7B", 24, 2048, 32, 32, 8192, 8192, 1.7e9, 11e12))
    for key, label, L, d, h, kv, ff, C, pub, tokens in smol:
        out.append(Model(f"smollm2-{key}", f"SmolLM2 {label}", "SmolLM2", "decoder",
                         Spec("llama", L, d, h, 49152, C, ff, kv_heads=kv, tied=True), 2024, pub, label, S_SMOL, S_SMOL,
                         "FineWeb-Edu, DCLM, The Stack and curated math/code sets ◐", tokens, S_SMOL))
    out.append(Model("qwen2.5-0.5b", "Qwen2.5 0.5B", "Qwen2.5", "decoder",
                     Spec("qwen2", 24, 896, 14, 151936, 32768, 4864, kv_heads=2, tied=True), 2024, 0.49e9, "0.49B",
                     S_QWEN, S_QWEN + "; d_ff 4,864 ◐", "multilingual web, code and maths data ⚠", 18e12, S_QWEN_DATA))
    for key, label, L, d, h, ff, pub, tokens in (("7b", "7B", 32, 4096, 32, 11008, 7e9, 4e12), ("13b", "13B", 40, 5120, 40, 13824, 13e9, 5e12)):
        out.append(Model(f"olmo-2-{key}", f"OLMo 2 {label}", "OLMo 2", "decoder",
                         Spec("olmo2", L, d, h, 100352, 4096, ff, tied=False), 2024, pub, label, S_OLMO, S_OLMO,
                         "OLMo-mix-1124 then Dolmino-mix-1124 ◐", tokens, S_OLMO))
    pythia = (("70m", "70M", 6, 512, 8, 50304, 70_426_624), ("160m", "160M", 12, 768, 12, 50304, 162_322_944),
              ("410m", "410M", 24, 1024, 16, 50304, 405_334_016), ("1b", "1B", 16, 2048, 8, 50304, 1_011_781_632),
              ("1.4b", "1.4B", 24, 2048, 16, 50304, 1_414_647_808), ("2.8b", "2.8B", 32, 2560, 32, 50304, 2_775_208_960),
              ("6.9b", "6.9B", 32, 4096, 32, 50432, 6_857_302_016), ("12b", "12B", 36, 5120, 40, 50688, 11_846_072_320))
    for key, label, L, d, h, V, pub in pythia:
        out.append(Model(f"pythia-{key}", f"Pythia {label}", "Pythia", "decoder",
                         Spec("neox", L, d, h, V, 2048, 4 * d, tied=False), 2023, pub, f"{pub:,}", S_PYTHIA_COUNT,
                         f"{S_PYTHIA}; {S_PYTHIA_VOCAB}", "The Pile (825 GiB) ◐", 299_892_736_000, S_PYTHIA))
    return out


def _bert_models() -> list[Model]:
    return [Model(f"bert-{key}", f"BERT-{label}", "BERT", "encoder",
                  Spec("bert", L, d, h, 30522, 512, 4 * d), 2018, pub, pub_label, S_BERT,
                  S_BERT + "; vocab 30,522 (uncased WordPiece), 512 positions", "BooksCorpus + English Wikipedia",
                  BERT_TOKENS, S_BERT_DATA, notes=("Counted as transformers' BertModel (encoder + pooler, no MLM head).",))
            for key, label, L, d, h, pub, pub_label in (("base", "base", 12, 768, 12, 110e6, "110M"),
                                                        ("large", "large", 24, 1024, 16, 340e6, "340M"))]


def pocket_model(folder: Path = POCKET_DIR) -> Model:
    """The bundled model, from its config.json when present (else the documented defaults)."""
    cfg, metrics, found = dict(POCKET_DEFAULT), {}, False
    try:
        cfg.update(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        found = True
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    spec = gpt2_spec(int(cfg["n_layer"]), int(cfg["n_embd"]), int(cfg["n_head"]), int(cfg["vocab_size"]),
                     int(cfg["n_positions"]), tied=bool(cfg.get("tie_word_embeddings", True)))
    train = metrics.get("train", {})
    tokens = float(train["steps"] * train["batch_size"] * train["seq_len"]) if {"steps", "batch_size", "seq_len"} <= train.keys() else None
    published = float(metrics.get("parameters") or count(spec))
    where = "assets/pocket-lm/config.json ✅" if found else "documented defaults (assets/pocket-lm is not here yet) ⚠"
    data = f"11 public-domain novels ({metrics['train_tokens']:,} training tokens)" if "train_tokens" in metrics else "11 public-domain novels"
    return Model("pocket-lm", "pocket-lm (bundled)", "pocket-lm", "decoder", spec, 2026, published,
                 f"{published / 1e6:.2f}M", "assets/pocket-lm/metrics.json ✅" if metrics else where, where, data, tokens,
                 "metrics.json: steps × batch × sequence length ✅" if tokens else "not trained yet ⚠",
                 notes=("GPT-2 architecture, tied embeddings; trained by this project.",))


@functools.lru_cache(maxsize=1)
def _published_models() -> tuple[Model, ...]:
    return tuple(_bert_models() + _gpt2_models() + _gpt3_models() + _t5_models() + _modern_models())


@functools.lru_cache(maxsize=4)
def _pocket_for(stamp: tuple[float, float]) -> Model:
    return pocket_model()


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def catalog() -> tuple[Model, ...]:
    """Every model; pocket-lm is re-read when its files change (it may finish training while the app runs)."""
    pocket = _pocket_for((_stamp(POCKET_DIR / "config.json"), _stamp(POCKET_DIR / "metrics.json")))
    return _published_models() + (pocket,)


def by_key() -> dict[str, Model]:
    return {m.key: m for m in catalog()}


DEFAULT_SELECTION = ("bert-base", "bert-large", "gpt2-small", "gpt2-xl", "t5-11b", "gpt3-175b", "pythia-12b",
                     "llama-2-70b", "llama-3-8b", "llama-3.1-405b", "olmo-2-7b", "qwen2.5-0.5b", "smollm2-135m", "pocket-lm")


def parse_selection(raw: str | None) -> tuple[list[str], list[str]]:
    """?models=a,b,c -> (known keys in order, unknown names). Empty or missing -> the default selection."""
    if not raw or not raw.strip():
        return list(DEFAULT_SELECTION), []
    known, unknown, index = [], [], by_key()
    lower = {k.lower(): k for k in index}
    for item in raw.split(","):
        name = item.strip().lower()
        if not name:
            continue
        if name in lower and lower[name] not in known:
            known.append(lower[name])
        elif name not in lower:
            unknown.append(item.strip()[:40])
    return known, unknown


# -- GPT-2's 117M and GPT-3's 5140 -------------------------------------------------------------------
def gpt2_paper_count_explained(model: Model) -> int:
    """The count with GPT-1's 40,478-token vocabulary: it reproduces all four GPT-2 paper numbers (our arithmetic)."""
    return count(replace(model.spec, vocab=GPT1_VOCAB))


def gpt3_13b_with_printed_d_model() -> int:
    return gpt_formula(40, GPT3_PRINTED_D_MODEL["13B"], 50257, 2048)


GPT3_175B_PAPER_FLOPS = 3.14e23  # GPT-3 paper, Table D.1: total training compute of GPT-3 175B ⚠


# -- comparing with the catalog ----------------------------------------------------------------------
def closest(params: float) -> Model:
    """The catalog model nearest in log-parameters."""
    return min(catalog(), key=lambda m: abs(math.log(m.counted) - math.log(max(params, 1.0))))


def embedding_share(m: Model) -> float:
    return breakdown(m.spec).get("Embeddings", 0) / m.counted


def same_architecture(spec: Spec) -> Model | None:
    for m in catalog():
        s = m.spec
        if (s.family, s.layers, s.d_model, s.heads, s.vocab, s.context, s.d_ff, s.tied) == \
                (spec.family, spec.layers, spec.d_model, spec.heads, spec.vocab, spec.context, spec.d_ff, spec.tied):
            return m
    return None


# -- training data sizes ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    name: str
    used_by: str
    stated: str       # the size as its source states it
    tokens: float     # in tokens (estimated when `estimated`)
    estimated: bool
    source: str


DATASETS = (
    Dataset("BooksCorpus + Wikipedia", "BERT (2018)", "3.3B words", 3.3e9 * 1.3, True,
            "800M + 2,500M words, BERT paper §3.1 ◐; ≈1.3 tokens per word is our rule of thumb ⚠"),
    Dataset("WebText", "GPT-2 (2019)", "40 GB of text", 40e9 / 4, True,
            "40 GB, HF gpt2 card ◐; ≈4 bytes per GPT-2 token is our rule of thumb ⚠"),
    Dataset("C4", "T5 (2019)", "~750 GB of text", 750e9 / 4, True, "~750 GB, T5 paper (secondary quotes) ◐; ≈4 bytes per token ⚠"),
    Dataset("GPT-3's training run", "GPT-3 (2020)", "300B tokens", 300e9, False, S_GPT3_DATA),
    Dataset("The Pile (as seen by Pythia)", "Pythia (2023)", "299.9B tokens", 299_892_736_000, False, S_PYTHIA),
    Dataset("Llama 2's pre-training data", "Llama 2 (2023)", "2.0T tokens", 2e12, False, S_L2),
    Dataset("Llama 3's pre-training data", "Llama 3 (2024)", "15T+ tokens", 15e12, False, S_L3),
)
