"""Inside the model: what each layer would predict (logit lens) and where each token looks (attention)."""

import streamlit as st

from components import inside_views as views
from components.model_picker import chosen_model
from components.setup import route_through_app
from components.state import from_query, to_query

PRESETS = {
    "A fixed phrase (Austen)": "It is a truth universally acknowledged, that a single man in possession of a good "
                               "fortune, must be in want of a",
    "A repeated phrase (copying heads)": "Mr. Darcy walked to the window. Miss Bennet smiled. Mr. Darcy walked to the",
    "A fact (pocket-lm can't know it)": "The capital of France is",
}
DEFAULT = "A fixed phrase (Austen)"

route_through_app()
st.title("Inside the model")
st.caption("A model is a stack of layers. Look at what each layer would predict, and where each token looks.")

model = chosen_model()
if not model.can_look_inside:
    st.info("Looking inside needs a local model: switch the API off in the sidebar to use the bundled one.")
    st.stop()

from_query("ins_prompt", "prompt", PRESETS[DEFAULT], lambda v: v[:20_000])


def use_preset() -> None:
    if st.session_state.ins_preset:
        st.session_state.ins_prompt = PRESETS[st.session_state.ins_preset]


st.selectbox("Example prompt", list(PRESETS), index=None, key="ins_preset", placeholder="Choose an example…",
             on_change=use_preset)
text = st.text_area("Prompt", key="ins_prompt", height=90, max_chars=20_000)
to_query(prompt=text)
if not text.strip():
    st.info("Type a prompt above to look inside the model.")
    st.stop()

prompt = model.encode(text)
ids = prompt.ids
if prompt.dropped:
    st.warning(prompt.note)
elif len(ids) > views.MAX_TOKENS:
    st.warning(f"The prompt has {len(ids):,} tokens; only its last {views.MAX_TOKENS} are shown here.")
ids = ids[-views.MAX_TOKENS:]
try:
    data = views.inside(model, tuple(ids))
except ValueError as exc:
    st.error(f"Can't look inside {model.name}: {exc}")
    st.stop()
views.inside_panel(model, data)
