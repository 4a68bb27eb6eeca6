"""Tokenizer page tab: how byte-level BPE builds a token, merge by merge; and a BPE trained live."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.html import chips
from components.state import from_query, to_query
from lib.tokens import bpe_replay as B
from lib.models import hub
from lib.tokens.loading import load

REPLAY_TOKENIZERS = {"hf:gpt2": "GPT-2 (50,257 tokens)", "pocket-lm": "pocket-lm (bundled, 4,096 tokens)"}
TRAIN_DEFAULT = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a "
    "wife. However little known the feelings or views of such a man may be on his first entering a neighbourhood, "
    "this truth is so well fixed in the minds of the surrounding families, that he is considered the rightful "
    "property of some one or other of their daughters. My dear Mr. Bennet, said his lady to him one day, have you "
    "heard that Netherfield Park is let at last? Mr. Bennet replied that he had not. But it is, returned she; for "
    "Mrs. Long has just been here, and she told me all about it. Mr. Bennet made no answer.")  # Austen, public domain
FIRST_MERGES = 20


@st.cache_resource(max_entries=4, show_spinner="Loading the tokenizer's merges…")
def _tables(name: str) -> B.BPETables:
    return B.BPETables(load(name).tok.backend_tokenizer)


@st.cache_resource(max_entries=16, show_spinner="Training a BPE on your text…")
def _trained(text: str, n_merges: int) -> B.BPETables:
    return B.BPETables(B.train_bpe(text, n_merges))


AS_ENTITY = set("&<>\"'\\`*_{}[]()#+-.!|~$=:")


def md_text(text: str) -> str:
    """User text inside st.markdown: HTML and markdown/LaTeX characters as numeric entities, so it stays text."""
    return "".join(f"&#{ord(c)};" if c in AS_ENTITY else c for c in text)


def symbol_chips(symbols) -> str:
    """A blank line first: the chips then form an HTML block that markdown leaves alone."""
    labels = B.labels(symbols)
    return "\n\n" + chips([(label, f"{label} ({len(s)} byte{'s' * (len(s) > 1)})") for label, s in zip(labels, symbols)])


def show_replay(result: B.Replay) -> None:
    """One block per pre-token piece: its bytes, then the symbols after each merge."""
    for piece in result.pieces:
        with st.container(border=True):
            st.markdown(f"**Piece “{md_text(B.symbol_label(piece.piece))}”**: {len(piece.start)} bytes, "
                        f"{len(piece.steps)} merge{'s' * (len(piece.steps) != 1)}, "
                        f"{len(piece.tokens)} token{'s' * (len(piece.tokens) != 1)}", unsafe_allow_html=True)
            st.markdown("start: one symbol per byte" + symbol_chips(piece.start), unsafe_allow_html=True)
            for i, step in enumerate(piece.steps, 1):
                what = (f"**step {i}**: merge “{md_text(B.symbol_label(step.left))}” + “{md_text(B.symbol_label(step.right))}” "
                        f"(merge rank {step.rank:,})" if step.rank >= 0 else f"**step {i}**: the whole piece is in the vocabulary")
                st.markdown(what + symbol_chips(step.symbols), unsafe_allow_html=True)


def replay_section(word: str) -> None:
    from_query("bpe_tok", "bpe_tokenizer", "hf:gpt2", lambda v: v if v in REPLAY_TOKENIZERS else "hf:gpt2")
    name = st.segmented_control("Tokenizer", list(REPLAY_TOKENIZERS), key="bpe_tok",
                                format_func=REPLAY_TOKENIZERS.get) or "hf:gpt2"
    to_query(bpe_tokenizer=name)
    try:
        tables = _tables(name)
        result = B.replay(tables, word)
    except (hub.ModelUnavailable, ValueError) as exc:
        st.info(str(exc))
        return
    st.markdown(f"**{len(result.tokens)} token{'s' * (len(result.tokens) != 1)}** after {result.n_steps} merges:"
                + symbol_chips(result.tokens), unsafe_allow_html=True)
    show_replay(result)


def train_section(word: str) -> None:
    from_query("bpe_merges", "merges", 100, int, 1, 1000)
    text = st.text_area("Training text (paste your own)", TRAIN_DEFAULT, key="bpe_train_text", height=140,
                        max_chars=B.MAX_TRAIN_CHARS)
    n = st.slider("Number of merges to learn", 1, 1000, key="bpe_merges")
    to_query(merges=n)
    try:
        tables = _trained(text, n)
    except ValueError as exc:
        st.info(str(exc))
        return
    learned = len(tables.merges)
    if learned < n:
        st.caption(f"Only {learned} merges were learned: no pair occurs twice after that. Paste a longer text.")
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**The first {min(FIRST_MERGES, learned)} merges** (most frequent pairs first)")
        st.dataframe(pd.DataFrame(B.merge_rows(tables, FIRST_MERGES)), hide_index=True, width="stretch")
    with right:
        result = B.replay(tables, word)
        st.markdown(f"**“{md_text(word)}” with your BPE: {len(result.tokens)} tokens**" + symbol_chips(result.tokens),
                    unsafe_allow_html=True)
        sample = text[:200]
        sample_tokens = B.replay(tables, sample).tokens if sample else []
        st.markdown(f"**The start of your text: {len(sample_tokens)} tokens for {len(sample)} characters**"
                    + symbol_chips(sample_tokens), unsafe_allow_html=True)


def bpe_view() -> None:
    st.markdown("Byte-level BPE starts from the **bytes** of each piece of text and repeatedly **merges the adjacent "
                "pair that was most frequent in its training data** (the lowest merge rank), until no listed pair is "
                "left. The replay below uses the tokenizer's own merge list; it ends in exactly its tokens.")
    from_query("bpe_word", "word", " tokenization")
    word = st.text_input("A word or short phrase (a leading space counts: GPT-2 merges it into the word)",
                         key="bpe_word", max_chars=B.MAX_TEXT)
    to_query(word=word)
    if not word:
        st.info("Type a word to see how it is built.")
        return
    replay_section(word)
    st.subheader("Train your own BPE")
    train_section(word)
