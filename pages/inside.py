"""Inside the model: what each layer would predict (logit lens) and where each token looks (attention)."""

import streamlit as st

from components.sections import inside_views as views
from components.model_picker import chosen_model
from components.preset_prompt import preset_prompt
from components.setup import route_through_app
from lib.teaching.presets import INSIDE_DEFAULT, INSIDE_PRESETS

route_through_app()
st.title("Inside the model")
st.caption("A model is a stack of layers. Look at what each layer would predict, and where each token looks.")

model = chosen_model()
if not model.can_look_inside:
    st.info("Looking inside needs a local model: switch the API off in the sidebar to use the bundled one.")
    st.stop()

text = preset_prompt(INSIDE_PRESETS, INSIDE_DEFAULT, prefix="ins", label="Example prompt",
                     placeholder="Choose an example…", height=90, max_chars=20_000)
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
