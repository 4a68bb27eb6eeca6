"""The model-scale page's views, one function per tab: charts, tables and the builder."""

import pandas as pd
import streamlit as st

from components.charts import show_chart
from components.sections import scale_cache
from components.sections import scale_charts as charts
from components.guard import guarded_callback
from components.html import esc, escape_markdown, error_line
from components.state import as_bool, from_query, to_query
from lib.models import hub
from lib.tokens import masked_lm
from lib.scale import maths as scale
from lib.scale import published as scale_catalog

VIEWS = ["Scale", "Where parameters live", "Memory", "Compute and data", "Build your own", "BERT vs GPT",
         "Catalog and sources"]
MARKS = "Marks: ✅ read in an official or primary file · ◐ only in secondary copies of it · ⚠ not verified."
BUILDER = {  # session key: (query param, label, min, max, step)
    "b_layers": ("L", "Layers", 1, 128, 1), "b_d": ("d", "d_model (width)", 64, 16384, 64),
    "b_heads": ("h", "Attention heads", 1, 128, 1), "b_vocab": ("V", "Vocabulary", 256, 262144, 1),
    "b_ctx": ("ctx", "Context (positions)", 64, 131072, 64),
}
PRESETS = ("gpt2-small", "gpt2-xl", "gpt3-175b", "pocket-lm")
DEFAULT_SENTENCE = "She opened the [MASK] and walked into the garden."
BERT_REF = "google-bert/bert-base-uncased"


def link(param: str, value, default) -> None:
    """Put a value in the URL only when it differs from the default (or the link already carries it)."""
    if value != default or param in st.query_params:
        to_query(**{param: value})


def show(fig) -> None:
    show_chart(fig, theme=None, config={"displaylogo": False})


def need_models(models: list) -> bool:
    if not models:
        st.info("Pick at least one model above to draw the charts.")
    return bool(models)


def scale_view(models: list, index: dict) -> None:
    """BERT to GPT-3 on one axis, and each count next to its published number."""
    if not need_models(models):
        return
    show(charts.params_bar(models))
    show(charts.params_by_year(models))
    st.subheader("Counted next to published")
    from_query("scale_meta", "meta", False, as_bool)
    check = st.toggle("Also count with transformers on the meta device: builds each real model class with no "
                      "memory and no download (a few seconds the first time)", key="scale_meta")
    link("meta", int(check), 0)
    rows = []
    for m in models:
        row = {"model": m.name, "type": m.kind, "counted": m.counted, "published": m.published_label,
               "counted ÷ published": round(m.counted / m.published, 3),
               "how counted": "GPT-2 formula (GPT-3 has no transformers class)" if m.counter == "formula"
               else "formula, checked against transformers",
               "published source": m.published_src}
        if check:
            if m.counter == "transformers":
                with st.spinner(f"Building {m.name} on the meta device…"):
                    meta = sum(scale_cache.meta_breakdown(m.spec).values())
                row["transformers (meta device)"] = f"{meta:,} {'✓ same' if meta == m.counted else '✗ differs'}"
            else:
                row["transformers (meta device)"] = "no transformers class"
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"counted": st.column_config.NumberColumn(format="localized")})
    st.caption(MARKS)
    with st.expander("Why do counted and published numbers differ?", expanded=False):
        gpt2 = [index[k] for k in ("gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl")]
        st.markdown(
            "**GPT-2: 117M or 124M?** The GPT-2 paper printed 117M, 345M, 762M and 1542M. OpenAI's README later "
            "said the original counts were wrong \"due to an error\" ✅ and renamed the models 124M, 355M, 774M "
            "and 1558M, which is what the architecture gives. Our own arithmetic (⚠, not confirmed by OpenAI): "
            f"all four paper numbers are what you get with a {scale_catalog.GPT1_VOCAB:,}-token vocabulary, the size of "
            "GPT-1's, instead of GPT-2's 50,257.")
        st.dataframe(pd.DataFrame([{"model": m.name, "counted (vocab 50,257)": f"{m.counted:,}",
                                    f"with vocab {scale_catalog.GPT1_VOCAB:,}": f"{scale_catalog.gpt2_paper_count_explained(m):,}",
                                    "published": m.published_label} for m in gpt2]), hide_index=True)
        g13, printed = index["gpt3-13b"], scale_catalog.gpt3_13b_with_printed_d_model()
        llama7, olmo7 = index["llama-2-7b"], index["olmo-2-7b"]
        st.markdown(
            f"**GPT-3 13B: d_model 5140?** Table 2.1 prints 5140, but 40 heads × 128 = 5120: a known typo. "
            f"With 5120 the formula gives {g13.counted:,} ({scale.percent_off(g13.counted, g13.published)} from "
            f"the published {g13.published_label}); with the printed 5140, {printed:,} "
            f"({scale.percent_off(printed, g13.published)}).\n\n"
            "**Tied embeddings.** GPT-2 uses the token-embedding matrix again as its output layer, so it is "
            f"counted once. A separate output matrix would add 50,257 × 768 = {50257 * 768:,} parameters "
            f"(GPT-2 small would be {index['gpt2-small'].counted + 50257 * 768:,}). Llama 2, Llama 3 8B/70B/405B, "
            "OLMo 2 and Pythia keep a separate output matrix; Llama 3.2, SmolLM2 and Qwen2.5-0.5B tie it.\n\n"
            f"**Rounded names.** \"{llama7.name}\" has {scale.human(llama7.counted)} parameters and "
            f"\"{olmo7.name}\" {scale.human(olmo7.counted)}; a name is a size class, not a count. BERT is counted as transformers' `BertModel` (encoder + pooler), without the "
            "masked-LM head used in pre-training.")


def parameters_view(models: list, index: dict) -> None:
    """Where one model's parameters live, and the shares across the selection."""
    from_query("scale_treemap", "treemap", "gpt2-small", lambda raw: raw if raw in index else "gpt2-small")
    choice = st.selectbox("Model", list(index), key="scale_treemap", format_func=lambda k: index[k].name)
    link("treemap", choice, "gpt2-small")
    chosen = index[choice]
    show(charts.treemap(chosen))
    parts = scale.breakdown(chosen.spec)
    st.markdown(" · ".join(f"**{c}** {parts[c]:,} ({100 * parts[c] / chosen.counted:.2f}%)"
                           for c in scale.CATEGORIES if c in parts))
    spec = chosen.spec
    st.caption(f"{chosen.name}: {chosen.kind}, {spec.layers} layers"
               f"{f' + {spec.decoder_layers} decoder layers' if spec.decoder_layers else ''}, d_model {spec.d_model:,}, "
               f"{spec.heads} heads{f' ({spec.n_kv} key/value heads)' if spec.n_kv != spec.heads else ''}, "
               f"MLP width {spec.d_ff:,}, vocabulary {spec.vocab:,}, "
               f"{'tied' if spec.tied else 'separate'} output layer. Architecture: {chosen.arch_src}")
    for note in chosen.notes:
        st.caption(note)
    if need_models(models):
        show(charts.category_shares(models))
        small, big = min(models, key=lambda m: m.counted), max(models, key=lambda m: m.counted)
        st.caption(f"Embeddings (the vocabulary, and positions where the model learns them) take "
                   f"{scale_catalog.embedding_share(small):.1%} of {small.name}'s parameters and "
                   f"{scale_catalog.embedding_share(big):.1%} of {big.name}'s; the rest sits in the attention and MLP "
                   "blocks repeated in every layer.")


def memory_view(models: list, index: dict) -> None:
    """Weight memory per precision, and which reference hardware holds it."""
    if not need_models(models):
        return
    show(charts.memory_chart(models))
    st.caption("Weights only. Running a model also needs activations and a KV cache that grows with the context; "
               "training with Adam needs about 16 bytes per parameter (weights, gradients, two optimizer moments).")
    short = {name: name.split(" ")[0] if "laptop" not in name else "laptop" for name, _ in scale.HARDWARE}
    rows = []
    for m in sorted(models, key=lambda m: m.counted):
        fits = scale.fits(m.counted)
        rows.append({"model": m.name, **{p: f"{scale.human_bytes(scale.weight_bytes(m.counted, p))} · "
                                            f"{', '.join(short[h] for h in fits[p]) or 'fits none'}"
                                         for p in scale.BYTES_PER_PARAM}})
    st.markdown("**Which reference hardware holds the weights?** "
                + " · ".join(f"{name.split(' (')[0]}: {cap / scale.GIB:.0f} GiB = {scale.human_bytes(cap)}"
                             for name, cap in scale.HARDWARE)
                + ". Memory sold as \"16 GB\" is 16 GiB; the weights above are in decimal GB (10⁹ bytes).")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def compute_view(models: list, index: dict) -> None:
    """Training compute (6·N·D) and the size of the training data."""
    if need_models(models):
        with_tokens = [m for m in models if m.tokens]
        if with_tokens:
            show(charts.compute_chart(with_tokens))
        missing = [m.name for m in models if not m.tokens]
        if missing:
            st.caption(f"Left out (training tokens not published): {', '.join(missing)}.")
        g175 = index["gpt3-175b"]
        st.caption("N = counted parameters, D = training tokens. 6·N·D counts a forward (2N) and backward (4N) "
                   f"pass per token (Kaplan et al. 2020 ⚠). For GPT-3 175B it gives "
                   f"{charts.sci(scale.training_flops(g175.counted, g175.tokens))}, next to the "
                   f"{charts.sci(scale_catalog.GPT3_175B_PAPER_FLOPS)} FLOPs in the GPT-3 paper's Table D.1 ⚠.")
        st.dataframe(pd.DataFrame([{"model": m.name, "training tokens": scale.human(m.tokens) if m.tokens else "?",
                                    "data": m.data, "source": m.data_src} for m in models]),
                     hide_index=True, width="stretch")
    datasets = list(scale_catalog.DATASETS)
    pocket = index["pocket-lm"]
    if pocket.tokens:
        datasets.append(scale_catalog.Dataset("11 novels (tokens seen)", "pocket-lm", f"{pocket.tokens:,.0f} tokens",
                                      pocket.tokens, False, pocket.data_src))
    show(charts.data_chart(datasets))
    st.dataframe(pd.DataFrame([{"data": d.name, "used by": d.used_by, "as stated": d.stated,
                                "tokens": scale.human(d.tokens) + (" (estimate)" if d.estimated else ""),
                                "source": d.source} for d in datasets]), hide_index=True, width="stretch")
    st.caption(MARKS)


def builder_view(models: list, index: dict) -> None:
    """Sliders for a GPT-2-style decoder; the count, memory and FLOPs follow."""
    st.markdown("A GPT-2-style decoder: learned positions, a 4× MLP, LayerNorms. Move the sliders; "
                "the defaults are GPT-2 small.")
    defaults = dict(zip(BUILDER, (12, 768, 12, 50257, 1024)))

    def snap(key: str):
        _, _, lo, hi, step = BUILDER[key]

        def cast(raw: str) -> int:
            try:
                value = round(float(raw) / step) * step
            except (ValueError, OverflowError):
                raise ValueError(raw) from None
            return int(min(hi, max(lo, value)))
        return cast

    for key, (param, *_rest) in BUILDER.items():
        from_query(key, param, defaults[key], snap(key))
    from_query("b_tied", "tied", True, as_bool)

    @guarded_callback
    def preset(key: str) -> None:
        s = index[key].spec
        for k, v in zip(BUILDER, (s.layers, s.d_model, s.heads, s.vocab, s.context)):
            st.session_state[k] = v
        st.session_state["b_tied"] = s.tied

    buttons = st.columns(len(PRESETS))
    for col, key in zip(buttons, PRESETS):
        col.button(f"Preset: {index[key].name}", on_click=preset, args=(key,), width="stretch")
    left, right = st.columns([1, 1])
    with left:
        values = {k: st.slider(label, lo, hi, step=step, key=k) for k, (_, label, lo, hi, step) in BUILDER.items()}
        tied = st.checkbox("Output layer reuses the token embeddings (tied, as in GPT-2)", key="b_tied")
    to_query(**{BUILDER[k][0]: v for k, v in values.items()}, tied=int(tied))
    spec = scale.gpt2_spec(values["b_layers"], values["b_d"], values["b_heads"], values["b_vocab"], values["b_ctx"], tied)
    total = scale.count(spec)
    with right:
        st.metric("Parameters", f"{total:,}", help="V·d + C·d + L·(12d² + 13d) + 2d, plus V·d when untied")
        if values["b_d"] % values["b_heads"]:
            st.warning(f"{values['b_heads']} heads don't divide d_model {values['b_d']} evenly, so a real model "
                       "couldn't be built. The count doesn't depend on the number of heads: they split d_model.")
        twin = scale_catalog.same_architecture(spec)
        near = scale_catalog.closest(total)
        if twin:
            st.success(f"Identical architecture: **{twin.name}** ({twin.counted:,} parameters).")
        else:
            st.info(f"Closest real model by size: **{near.name}** ({scale.human(near.counted)}); "
                    f"{scale.size_ratio(total, near.counted)}.")
        fits = scale.fits(total)
        st.markdown("| precision | weights | holds them |\n|---|---|---|\n" + "\n".join(
            f"| {p} | {scale.human_bytes(scale.weight_bytes(total, p))} | {', '.join(fits[p]) or 'none of these'} |"
            for p in scale.BYTES_PER_PARAM))
        flops = scale.flops_per_token(spec)
        f1, f2 = st.columns(2)
        f1.metric("FLOPs per token, forward", charts.sci(flops["forward"]),
                  help="2 × non-embedding parameters + 2·L·context·d for attention at full context (Kaplan et al. 2020 ⚠)")
        f2.metric("FLOPs per token, training", charts.sci(flops["training"]), help="about 3× the forward pass")
    show(charts.builder_breakdown(spec))


def bert_vs_gpt_view(models: list, index: dict) -> None:
    """The same sentence through a masked LM and a next-token LM."""
    st.markdown("The same sentence, two kinds of model. **BERT** (an encoder) reads the whole sentence in both "
                "directions and fills in the `[MASK]`. **GPT** (a decoder) reads only the words to the left and "
                "predicts the next token.")
    from_query("scale_sentence", "sentence", DEFAULT_SENTENCE, masked_lm.clean_sentence)
    from_query("scale_bert", "bert", BERT_REF, lambda raw: raw.strip()[:300] or BERT_REF)
    raw_sentence = st.text_input("Sentence with one [MASK]", key="scale_sentence", max_chars=masked_lm.MAX_SENTENCE)
    sentence = masked_lm.clean_sentence(raw_sentence)
    link("sentence", sentence, DEFAULT_SENTENCE)
    if "[MASK]" not in sentence:
        st.info("Put `[MASK]` where the missing word goes, e.g. *She opened the [MASK] and walked in.*")
    else:
        left_text, right_text = sentence.split("[MASK]", 1)
        bert_col, gpt_col = st.columns(2)
        with bert_col:
            _bert_fills(sentence, left_text, right_text, index)
        with gpt_col:
            _gpt_predicts(left_text, right_text)
    _bigger_is_not_better(index)


def _bert_fills(sentence: str, left_text: str, right_text: str, index: dict) -> None:
    """BERT's column: the sentence with its blank, and the masked LM's top guesses."""
    st.subheader("BERT fills the blank")
    st.markdown(f'<div style="font-size:1.3rem">{esc(left_text)}<b>[MASK]</b>{esc(right_text)}</div>'
                "<small>sees both sides</small>", unsafe_allow_html=True)
    bert_ref = st.text_input("Masked-LM model (hub id or local folder)", key="scale_bert", max_chars=300)
    link("bert", bert_ref, BERT_REF)
    try:
        with st.spinner(f"Loading {escape_markdown(bert_ref)}…"):
            guesses = scale_cache.fill_mask(bert_ref, sentence)
        st.table(pd.DataFrame([{"rank": g.rank, "token": g.token, "probability": f"{g.prob:.1%}"}
                               for g in guesses]).set_index("rank"))
    except hub.ModelUnavailable as exc:
        size = scale.human_bytes(scale.weight_bytes(index["bert-base"].counted, "fp32"))
        st.warning(f"**BERT is not available here.** {error_line(exc)} BERT-base's weights (about {size}) are not bundled "
                   "with this app; when the machine is online they download on first use.")
    except ValueError as exc:
        st.info(error_line(exc))


def _gpt_predicts(left_text: str, right_text: str) -> None:
    """GPT's column: only the left side, and the next-token model's top guesses."""
    st.subheader("GPT predicts the next token")
    st.markdown(f'<div style="font-size:1.3rem">{esc(left_text)}<b>▢</b>'
                f'<span style="color:#6b7280;text-decoration:line-through">{esc(right_text)}</span></div>'
                "<small>sees only the left side; the struck-out words don't exist for it yet</small>",
                unsafe_allow_html=True)
    from components.loaders import distribution, get_model_or_fallback
    from lib.models.hub import default_model

    try:
        with st.spinner("Loading the GPT-style model…"):
            gpt, note = get_model_or_fallback(default_model())
        if note:
            st.caption(error_line(note, limit=600))
        prompt = gpt.encode(left_text.rstrip(" "))
        rows = distribution(gpt, prompt).top_rows(5)
        st.caption(f"Model: {gpt.name}")
        st.table(pd.DataFrame([{"rank": r.rank, "token": r.label, "probability": f"{r.prob:.1%}"}
                               for r in rows]).set_index("rank"))
        if not left_text.strip():
            st.caption("Nothing comes before the blank, so GPT predicts the very first token.")
    except hub.ModelUnavailable as exc:
        st.warning(f"**No GPT-style model is available offline yet.** {error_line(exc)}")


BIGGER_TABLE = (
    "| Task | BERT-Large, fine-tuned (340M) | GPT-3 175B, few-shot | |\n|---|---|---|---|\n"
    "| WiC: is a word used with the same meaning in two sentences? (chance = 50%) | **69.6%** | 49.4% | ◐ |\n"
    "| SuperGLUE average (8 tasks) | 69.0 | **71.8** | ◐ |")
BIGGER_SOURCE = ("Source: Brown et al. 2020 (arXiv 2005.14165), Table 3.8 and §3.7. ◐: read in secondary copies of the "
                 "paper, not re-checked against the PDF.")


def bigger_is_not_better_table(index: dict) -> None:
    """The published results alone, with their source (the lecture's step shows this part)."""
    st.markdown(BIGGER_TABLE)
    st.caption(BIGGER_SOURCE)


def _bigger_is_not_better(index: dict) -> None:
    """BERT-Large against GPT-3 175B on WiC and SuperGLUE: size is not the whole story."""
    st.subheader("Bigger is not better for every task")
    g175, large = index["gpt3-175b"], index["bert-large"]
    st.markdown(
        BIGGER_TABLE + "\n\n"
        f"GPT-3 has {g175.published / large.published:.0f} times as many parameters ({g175.published_label} vs "
        f"{large.published_label}, as published), yet on WiC, a sentence-pair classification task, it scores "
        "at chance while a fine-tuned BERT-Large does far better. The GPT-3 authors write: \"WiC is a notable "
        "weak spot with few-shot performance at 49.4% (at random chance)\". On the SuperGLUE average GPT-3 is "
        "a little ahead, so the answer depends on the task.\n\n" + BIGGER_SOURCE)


def catalog_view(models: list, index: dict) -> None:
    """Every catalog model with the source of each number."""
    st.markdown("Every model in the catalog, with the source of each group of numbers. Use the keys in "
                "the link: `?models=bert-base,gpt3-175b`.")
    st.dataframe(pd.DataFrame([{
        "key": m.key, "model": m.name, "type": m.kind, "layers": m.spec.layers + (m.spec.decoder_layers or 0),
        "d_model": m.spec.d_model, "heads": m.spec.heads, "vocabulary": m.spec.vocab, "context": m.spec.context,
        "counted": m.counted, "published": m.published_label, "year": m.year, "training data": m.data,
        "training tokens": scale.human(m.tokens) if m.tokens else "not published",
        "published: source": m.published_src, "architecture: source": m.arch_src, "data: source": m.data_src,
    } for m in scale_catalog.catalog()]), hide_index=True, width="stretch", height=600,
        column_config={"counted": st.column_config.NumberColumn(format="localized"),
                       "year": st.column_config.NumberColumn(format="%d")})
    st.caption(MARKS + " T5 layers are encoder + decoder. Context for T5 is the pre-training input length "
               "(it uses relative positions).")
