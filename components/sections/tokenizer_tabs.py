"""The Tokenizer page's tabs: one function per tab, each given the text and the tokenizers chosen above the tabs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.charts import show_chart
from components.sections import token_view as tv
from components.state import from_query, to_query
from lib.tokens import loading
from lib.tokens.segmentation import parse_ids
from lib.tokens import tokenization as T

LINK_CAP = 2000  # longer texts are not written into the URL
TEXT_CAP = 100_000  # characters a text box takes (a novel chapter); a 10 MB paste would cost ~180 MB per entry
TURN_CAP = 10_000   # characters per chat turn


def cut_to_cap(key: str, cap: int) -> int:
    """Cut st.session_state[key] (e.g. seeded from a link) to `cap` characters; the length it had when cut, else 0."""
    value = st.session_state.get(key)
    if isinstance(value, str) and len(value) > cap:
        st.session_state[key] = value[:cap]
        return len(value)
    return 0


def single_view(names: list[str], text: str, group: bool, show_ids: bool) -> None:
    """One tokenizer: counts, notes and the token chips."""
    if not names:
        st.info("Pick a tokenizer above.")
    else:
        from_query("tok_single", "single", names[0], loading.canonical)
        if st.session_state.tok_single not in names:
            st.session_state.tok_single = names[0]
        name = st.selectbox("Tokenizer", names, format_func=loading.label, key="tok_single")
        to_query(single=name)
        spec = loading.REGISTRY.get(name)
        if spec:
            st.caption(spec.about)
        seg = tv.segmentation(name, text, group=group)
        if seg is not None:
            with st.container(key="tok_single_counts"):  # below the chips on a phone (pages/tokenizer.py)
                tv.render_counts(seg)
            tv.render_notes(seg.notes)
            tv.render_tokens(seg, show_ids)


def side_by_side(names: list[str], text: str, group: bool, show_ids: bool) -> None:
    """Every chosen tokenizer on the same text: a table of counts, then each one's chips."""
    if len(names) < 2:
        st.info("Pick two or more tokenizers above to compare them on the same text.")
    results = [(n, tv.segmentation(n, text, group=group, limit=tv.RENDER_CAP // 2)) for n in names]
    results = [(n, s) for n, s in results if s is not None]
    if results:
        first = results[0][1].n_tokens or 1
        table = pd.DataFrame([{"Tokenizer": loading.short_label(n), "Tokens": s.n_tokens,
                               f"× {loading.short_label(results[0][0])}": f"{s.n_tokens / first:.2f}×",
                               "Characters": s.counts.characters, "Words": s.counts.words,
                               "Chars per token": round(s.counts.chars_per_token, 2)} for n, s in results])
        st.dataframe(table, hide_index=True, width="stretch")
        for n, s in results:
            st.subheader(f"{tv.name(n)}: {s.n_tokens:,} tokens")
            tv.render_notes(s.notes)
            tv.render_tokens(s, show_ids, cap=tv.RENDER_CAP // 2, legend=False)
        st.html(f'<div class="tv-legend">{tv.esc(tv.LEGEND)}</div>')


def multilingual(names: list[str], group: bool, show_ids: bool) -> None:
    """The same sentence in many languages: tokens per language and tokenizer."""
    st.markdown("The same sentence in many languages. Fewer tokens means cheaper API calls, more text in the "
                "context window and faster answers, so tokenizers trained mostly on English tax other languages.")
    usable = [n for n in (names or list(loading.DEFAULT_TOKENIZERS)) if tv.segmentation(n, "a", limit=0) is not None]
    rows = []
    for n in usable:
        counts = {lang: tv.segmentation(n, s, limit=0).n_tokens for lang, s in T.MULTILINGUAL.items()}
        rows += [{"Language": lang, "Tokenizer": loading.short_label(n), "Tokens": k,
                  "× English": round(k / max(counts["English"], 1), 2)} for lang, k in counts.items()]
    if rows:
        frame = pd.DataFrame(rows)
        st.subheader("Tokens for the same sentence")
        show_chart(tv.tokens_per_language_chart(frame, list(T.MULTILINGUAL)))
        wide = frame.pivot(index="Language", columns="Tokenizer", values="Tokens").loc[list(T.MULTILINGUAL)]
        wide = wide[[loading.short_label(n) for n in usable]]
        wide["Sentence"] = [T.MULTILINGUAL[lang] for lang in wide.index]
        st.dataframe(wide, width="stretch")
        from_query("tok_lang", "lang", "Hindi")
        if st.session_state.tok_lang not in T.MULTILINGUAL:
            st.session_state.tok_lang = "Hindi"
        lang = st.selectbox("See the tokens of one language", list(T.MULTILINGUAL), key="tok_lang")
        to_query(lang=lang)
        for n in usable:
            seg = tv.segmentation(n, T.MULTILINGUAL[lang], group=group)
            st.markdown(f"**{tv.name(n)}**: {seg.n_tokens} tokens")
            tv.render_tokens(seg, show_ids, legend=False)


def decode(names: list[str], text: str, show_ids: bool) -> None:
    """Token ids back to text, bytes shown where an id ends inside a character."""
    choices = list(dict.fromkeys(names + [n for n in loading.REGISTRY]))
    from_query("tok_dec_name", "decode_with", choices[0], loading.canonical)
    if st.session_state.tok_dec_name not in choices:
        st.session_state.tok_dec_name = choices[0]
    dec_name = st.selectbox("Tokenizer", choices, format_func=loading.label, key="tok_dec_name")
    if "tok_dec_ids" not in st.session_state:
        start = tv.segmentation(dec_name, text[:400], limit=0)
        st.session_state.tok_dec_ids = st.query_params.get("ids") or (
            ", ".join(map(str, start.ids[:50])) if start else "")
    cut_to_cap("tok_dec_ids", TEXT_CAP)
    raw = st.text_area("Token ids (spaces or commas between them)", key="tok_dec_ids", height=90, max_chars=TEXT_CAP)
    to_query(decode_with=dec_name)
    try:
        ids = parse_ids(raw)
    except ValueError as exc:
        st.error(tv.error_line(exc))
        ids = None
    if ids is not None and len(raw) <= LINK_CAP:
        to_query(ids=raw)
    if ids == []:
        st.info("Paste some token ids to decode them.")
    elif ids:
        seg = tv.decoded(dec_name, tuple(ids))
        if seg is not None:
            partial = any(s.partial for s in seg.segments)
            size = f"{sum(len(s.bytes) for s in seg.segments):,} bytes" if partial else f"{len(seg.text):,} characters"
            st.markdown(f"**{len(ids):,} tokens → {size}.** The text:")
            st.code(seg.text, language=None, wrap_lines=True)
            if partial:
                st.warning("Some ids end in the middle of a character. Their bytes are shown as hex (F0 9F …, and "
                           "\\xf0\\x9f … in the text) instead of a replacement character.")
            tv.render_tokens(seg, show_ids)


def chat_format(show_ids: bool) -> None:
    """A conversation as the one token sequence a chat model sees."""
    st.markdown("A chat model sees **one token sequence**: a template wraps every turn in special tokens, and "
                "**the whole conversation is the prompt**. The model writes the assistant's next turn by "
                "predicting the tokens that follow.")
    sources = tv.chat_sources()
    by_name = {name: (label, about) for name, label, about in sources}
    from_query("tok_chat_src", "chat", sources[0][0])
    source_names = list(dict.fromkeys(list(by_name) + [st.session_state.tok_chat_src]))
    source = st.selectbox("Chat tokenizer and template (or type an instruct model's hub id)", source_names,
                          key="tok_chat_src", accept_new_options=True,
                          format_func=lambda n: by_name.get(n, (f"{n} (its own chat template)",))[0])
    st.caption(by_name.get(source, ("", "A tokenizer from the hub, with the chat template it ships."))[1])
    from_query("tok_sys", "system", "You are a helpful assistant.")
    from_query("tok_user", "user", "What are some birthday party ideas for a five-year-old who loves Marvel?")
    from_query("tok_asst", "assistant", "A superhero party: capes, a Marvel cake and a treasure hunt.")
    for turn in ("tok_sys", "tok_user", "tok_asst"):
        cut_to_cap(turn, TURN_CAP)
    c1, c2, c3 = st.columns(3)
    system = c1.text_area("System", key="tok_sys", height=110, max_chars=TURN_CAP)
    user = c2.text_area("User", key="tok_user", height=110, max_chars=TURN_CAP)
    assistant = c3.text_area("Assistant (leave empty to stop at the user turn)", key="tok_asst", height=110,
                             max_chars=TURN_CAP)
    open_turn = st.toggle("End with an open assistant turn (add_generation_prompt): where the model continues",
                          value=True, key="tok_gen")
    to_query(chat=source, system=system[:LINK_CAP], user=user[:LINK_CAP], assistant=assistant[:LINK_CAP])
    turns = [(r, c) for r, c in (("system", system), ("user", user), ("assistant", assistant)) if c.strip()]
    if not turns:
        st.info("Write at least one turn.")
    else:
        result = tv.chat(source, turns, open_turn)
        if result is not None:
            seg = result.segmentation
            specials = sum(s.special for s in seg.segments)
            st.markdown(f"**The whole conversation is the prompt: {seg.n_tokens:,} tokens**, {specials} of them "
                        "special tokens (dark chips) that mark where each turn starts and ends.")
            tv.render_notes(result.notes)
            tv.render_tokens(seg, show_ids)
            st.markdown("The same sequence as text, exactly as the template wrote it:")
            st.code(result.rendered, language=None, wrap_lines=True)
