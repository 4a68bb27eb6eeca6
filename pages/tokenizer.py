"""Tokenizer: text becomes tokens. Single view, side by side, multilingual, decode and chat formats.

No torch here: tiktoken tokenizers never touch transformers, and transformers loads only when a
transformers tokenizer or the chat tab is used.
"""

import streamlit as st

from components.sections import tokenizer_tabs as tabs
from components.guard import guarded_callback
from components.setup import route_through_app
from components.presentation import presenting
from components.state import as_bool, from_query, to_query
from components.sections.tokenizer_tabs import LINK_CAP, TEXT_CAP, cut_to_cap
from lib.teaching.presets import TOKENIZER_DEFAULT, TOKENIZER_PRESETS
from lib.tokens.loading import DEFAULT_TOKENIZERS, REGISTRY, canonical, label

PHONE_ORDER = """<style>
@media (max-width: 640px) {
  div:has(> .st-key-tok_examples), div:has(> .st-key-tok_settings), div:has(> .st-key-tok_single_counts) { order: 1; }
}
</style>"""
# Presentation mode hides the examples and settings (components/presentation.py); their boxes go too, or their
# empty places still take a gap each above the chips.
PRESENTED = "<style>div:has(> .st-key-tok_examples), div:has(> .st-key-tok_settings) { display: none; }</style>"
TABS = ["Single view", "Side by side", "Multilingual", "Decode", "Chat format", "How BPE builds a token"]


def _names(raw: str) -> list[str]:
    return [canonical(n) for n in dict.fromkeys(p.strip() for p in raw.split(",")) if n.strip()][:6]


def _use_preset() -> None:
    choice = st.session_state.get("tok_preset")
    if choice:
        st.session_state.tok_text = TOKENIZER_PRESETS[choice]
    st.session_state.tok_preset = None


route_through_app()
from_query("tok_text", "text", TOKENIZER_PRESETS[TOKENIZER_DEFAULT])
was_long = cut_to_cap("tok_text", TEXT_CAP)
from_query("tok_names", "tokenizers", list(DEFAULT_TOKENIZERS), _names)
from_query("tok_show_ids", "ids_view", False, as_bool)
from_query("tok_group", "group", True, as_bool)

st.title("Tokenizer")
st.markdown("Models predict **tokens, not words**. A tokenizer cuts text into pieces from a fixed vocabulary and "
            "gives each piece a number; the model only ever sees those numbers.")

# On a phone the chips come right after the text: the examples and settings move below the tabs (CSS order).
st.html(PHONE_ORDER + (PRESENTED if presenting() else ""))
with st.container(key="tok_examples"):
    st.pills("Examples from the lectures", list(TOKENIZER_PRESETS), key="tok_preset",
             on_change=guarded_callback(_use_preset))
text = st.text_area("Text", key="tok_text", height=140, max_chars=TEXT_CAP)
if was_long:
    st.warning(f"That text was {was_long:,} characters; the tokenizer here takes the first {TEXT_CAP:,}.")
with st.container(key="tok_settings"):
    options = list(REGISTRY) + [n for n in st.session_state.tok_names if n not in REGISTRY]
    names = st.multiselect("Tokenizers (type a Hugging Face id to add one, e.g. Qwen/Qwen2.5-0.5B)", options,
                           key="tok_names", format_func=label, accept_new_options=True, max_selections=6)
    names = [canonical(n) for n in names]
    left, right = st.columns(2)
    show_ids = left.toggle("Show token ids instead of text", key="tok_show_ids")
    group = right.toggle("Group tokens that split a character (emoji, CJK)", key="tok_group",
                         help="Off: every token is its own chip, and a token that is only part of a character "
                              "shows its raw bytes.")

to_query(tokenizers=",".join(names), ids_view=int(show_ids), group=int(group))
if len(text) <= LINK_CAP:
    to_query(text=text)
else:
    st.query_params.pop("text", None)
    st.caption(f"This text is {len(text):,} characters, too long to put in a link; the link keeps the other settings.")

single, side, multi, dec, chat, bpe = st.tabs(TABS, key="view", bind="query-params")

with single:
    if single.open:
        tabs.single_view(names, text, group, show_ids)
with side:
    if side.open:
        tabs.side_by_side(names, text, group, show_ids)
with multi:
    if multi.open:
        tabs.multilingual(names, group, show_ids)
with dec:
    if dec.open:
        tabs.decode(names, text, show_ids)
with chat:
    if chat.open:
        tabs.chat_format(show_ids)
with bpe:
    if bpe.open:
        from components.sections.bpe_view import bpe_view

        bpe_view()
