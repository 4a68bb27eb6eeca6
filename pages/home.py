import streamlit as st

from components.navigation import home_links
from components.setup import route_through_app

route_through_app()
st.title("LLM Explainer")
st.markdown(
    "How large language models work, one idea per page. Everything runs on this server, offline, "
    "with the bundled **pocket-lm** (a tiny GPT-2 trained by this project on 11 public-domain novels); "
    "bigger models load when they are downloaded."
)
home_links()
