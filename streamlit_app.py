"""LLM Explainer: router only. Page config, shared setup, and one stable URL per page."""

import streamlit as st

from components.guard import guard
from components.presentation import setup as presentation_setup
from components.setup import configure_environment, route_through_app

configure_environment()
route_through_app(from_router=True)
st.set_page_config(page_title="LLM Explainer", page_icon="🔮", layout="wide")

presentation_setup()  # ?present=1, phone layout, no Deploy button

PAGES = [
    st.Page("pages/lecture.py", title="Lecture", icon="🎤", url_path="lecture"),
    st.Page("pages/home.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/tokenizer.py", title="Tokenizer", icon="🔤", url_path="tokenizer"),
    st.Page("pages/next-token.py", title="Next-token distribution", icon="📊", url_path="next-token"),
    st.Page("pages/sampling.py", title="Sampling knobs", icon="🎛️", url_path="sampling"),
    st.Page("pages/training-stages.py", title="Training stages", icon="🎓", url_path="training-stages"),
    st.Page("pages/model-scale.py", title="Model scale", icon="📏", url_path="model-scale"),
    st.Page("pages/inside.py", title="Inside the model", icon="🔬", url_path="inside"),
    st.Page("pages/game.py", title="Guessing game (lecturer)", icon="🎯", url_path="game"),
    st.Page("pages/play.py", title="Guessing game (play)", icon="✋", url_path="play"),
]

page = st.navigation(PAGES)
with guard("This page"):  # no traceback ever reaches a student: one line here, detail in the log
    page.run()
