"""Model scale as maths: count a transformer's parameters from its hyperparameters, then its memory and compute.

`breakdown(spec)` is an analytic formula, part by part (fast, no imports). lib/scale/meta_device.py counts the same
specs a second, independent way (the real transformers class on the meta device); lib/scale/published.py holds
the published models these formulas are applied to.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("Embeddings", "Attention", "MLP", "Norms", "Output head", "Pooler")
BYTES_PER_PARAM = {"fp32": 4.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
GIB = 2**30
# Memory sizes sold as "16 GB" / "80 GB" are binary: 16 GiB and 80 GiB (17.2 and 85.9 decimal GB). Weights are
# compared in bytes, so a model that needs 16.06 decimal GB (14.96 GiB) fits a 16 GiB card.
HARDWARE = (("laptop (16 GiB)", 16 * GIB), ("T4 (16 GiB)", 16 * GIB), ("A100 (80 GiB)", 80 * GIB), ("H100 (80 GiB)", 80 * GIB))


# -- architecture --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """Enough hyperparameters to count a model exactly.

    family picks the block layout: gpt2 (learned positions, biases, LayerNorm, GELU MLP), bert
    (BertModel with pooler), t5 (encoder-decoder, relative bias, RMSNorm, ReLU MLP, no biases),
    llama / qwen2 / olmo2 (RoPE, RMSNorm, SwiGLU; qwen2 adds q/k/v biases, olmo2 adds q/k norms),
    neox (Pythia: RoPE, biases, LayerNorm, GELU MLP, untied head).
    """

    family: str
    layers: int
    d_model: int
    heads: int
    vocab: int
    context: int | None
    d_ff: int
    kv_heads: int | None = None
    d_head: int | None = None
    decoder_layers: int | None = None  # t5 only
    tied: bool = True

    @property
    def n_kv(self) -> int:
        return self.kv_heads or self.heads

    @property
    def head_dim(self) -> int:
        return self.d_head or self.d_model // self.heads


@dataclass(frozen=True)
class Part:
    category: str  # one of CATEGORIES
    name: str
    count: int


def gpt2_spec(layers: int, d_model: int, heads: int, vocab: int, context: int, tied: bool = True) -> Spec:
    return Spec("gpt2", layers, d_model, heads, vocab, context, 4 * d_model, tied=tied)


def parts(spec: Spec) -> list[Part]:
    """Analytic parameter count, part by part (weights and biases)."""
    L, d, V, C, ff, f = spec.layers, spec.d_model, spec.vocab, spec.context or 0, spec.d_ff, spec.family
    hd, h, kv = spec.head_dim, spec.heads, spec.n_kv
    out: list[Part] = [Part("Embeddings", "token embeddings", V * d)]
    if f in ("gpt2", "bert", "neox"):
        if f != "neox":
            out.append(Part("Embeddings", "position embeddings", C * d))
        if f == "bert":
            out.append(Part("Embeddings", "segment (token type) embeddings", 2 * d))
        out += [Part("Attention", "Q, K, V projections", L * (3 * d * d + 3 * d)),
                Part("Attention", "output projection", L * (d * d + d)),
                Part("MLP", "up projection", L * (d * ff + ff)),
                Part("MLP", "down projection", L * (ff * d + d)),
                Part("Norms", "LayerNorms", L * 4 * d + 2 * d)]
        if f == "bert":
            out.append(Part("Pooler", "pooler", d * d + d))
        if f == "neox" or (f == "gpt2" and not spec.tied):
            out.append(Part("Output head", "output projection (untied)", V * d))
    elif f == "t5":
        Ld, inner = spec.decoder_layers or L, h * hd
        out += [Part("Embeddings", "relative position buckets", 2 * 32 * h),
                Part("Attention", "encoder self-attention", L * 4 * d * inner),
                Part("Attention", "decoder self-attention", Ld * 4 * d * inner),
                Part("Attention", "decoder cross-attention", Ld * 4 * d * inner),
                Part("MLP", "encoder MLP", L * 2 * d * ff),
                Part("MLP", "decoder MLP", Ld * 2 * d * ff),
                Part("Norms", "RMSNorms", (2 * L + 1 + 3 * Ld + 1) * d)]
        if not spec.tied:
            out.append(Part("Output head", "output projection (untied)", V * d))
    elif f in ("llama", "qwen2", "olmo2"):
        bias = (h * hd + 2 * kv * hd) if f == "qwen2" else 0
        out += [Part("Attention", "Q projection", L * d * h * hd),
                Part("Attention", "K, V projections", L * 2 * d * kv * hd),
                Part("Attention", "output projection", L * h * hd * d)]
        if bias:
            out.append(Part("Attention", "Q, K, V biases", L * bias))
        out += [Part("MLP", "gate + up projections (SwiGLU)", L * 2 * d * ff),
                Part("MLP", "down projection", L * ff * d),
                Part("Norms", "RMSNorms", L * 2 * d + d)]
        if f == "olmo2":
            out.append(Part("Norms", "Q/K norms", L * (h * hd + kv * hd)))
        if not spec.tied:
            out.append(Part("Output head", "output projection (untied)", V * d))
    else:
        raise ValueError(f"unknown family {f!r}")
    return out


def breakdown(spec: Spec) -> dict[str, int]:
    """Parameters per category (only categories the model has)."""
    totals: dict[str, int] = {}
    for p in parts(spec):
        totals[p.category] = totals.get(p.category, 0) + p.count
    return totals


def count(spec: Spec) -> int:
    return sum(p.count for p in parts(spec))


def gpt_formula(layers: int, d_model: int, vocab: int, context: int) -> int:
    """GPT-2/GPT-3 decoder with tied embeddings: V·d + C·d + L·(12d² + 13d) + 2d."""
    d = d_model
    return vocab * d + context * d + layers * (12 * d * d + 13 * d) + 2 * d


# -- memory and compute ---------------------------------------------------------------------------
def weight_bytes(params: float, precision: str) -> float:
    return params * BYTES_PER_PARAM[precision]


def fits(params: float) -> dict[str, list[str]]:
    """For each precision, the reference hardware whose memory holds the weights alone."""
    return {p: [name for name, cap in HARDWARE if weight_bytes(params, p) <= cap] for p in BYTES_PER_PARAM}


def training_flops(params: float, tokens: float) -> float:
    """C ≈ 6·N·D (forward 2N + backward 4N per token; Kaplan et al. 2020 ⚠)."""
    return 6.0 * params * tokens


def flops_per_token(spec: Spec) -> dict[str, float]:
    """Forward ≈ 2·N + 2·L·n_ctx·d at full context; training ≈ 3× forward (Kaplan et al. 2020, Table 1 ⚠).

    N is Kaplan's non-embedding count: it leaves out the embedding and the unembedding (output head), so tying
    the output layer changes nothing here."""
    per_part = breakdown(spec)
    non_embedding = count(spec) - per_part.get("Embeddings", 0) - per_part.get("Output head", 0)
    forward = 2.0 * non_embedding + 2.0 * spec.layers * (spec.context or 0) * spec.d_model
    return {"forward": forward, "training": 3.0 * forward}


# -- how numbers are written ------------------------------------------------------------------------
def size_ratio(params: float, other: float) -> str:
    """How two sizes compare, the larger named first: "yours is 1.07× its size" or "it is 2.00× yours"."""
    if params >= other:
        return f"yours is {params / other:.3g}× its size"
    return f"it is {other / params:.3g}× yours"


def percent_off(counted: float, published: float) -> str:
    """Signed difference from a published number: "-1.1%", "+0.4%"."""
    return f"{100 * (counted / published - 1):+.1f}%"


def human(n: float, digits: int = 3) -> str:
    """1.23B, 405M, 4.27M, 3.1T (significant digits)."""
    if abs(n) >= 1e15:
        return f"{n / 1e12:,.0f}T"
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.{digits}g}{unit}"
    return f"{n:.{digits}g}"


def human_bytes(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"
