import streamlit as st

from components.setup import route_through_app

route_through_app()
st.title("LLM Explainer")
st.markdown(
    "How large language models work, one idea per page. Everything runs on this server, offline, "
    "with the bundled **pocket-lm** (a tiny GPT-2 trained by this project on 11 public-domain novels); "
    "bigger models load when they are downloaded."
)
st.page_link("pages/lecture.py", label="Lecture: both seed lectures step by step (← → keys, ?present=1 for a projector)",
             icon="🎤")
st.page_link("pages/tokenizer.py", label="Tokenizer: text becomes tokens", icon="🔤")
st.page_link("pages/next-token.py", label="Next-token distribution: every token gets a probability", icon="📊")
st.page_link("pages/sampling.py", label="Sampling knobs: temperature, top-k, top-p, min-p", icon="🎛️")
st.page_link("pages/training-stages.py", label="Training stages: pretrained vs instruction- and preference-tuned", icon="🎓")
st.page_link("pages/model-scale.py", label="Model scale: BERT, GPT-2, GPT-3 and beyond", icon="📏")
