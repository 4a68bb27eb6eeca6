"""Class guessing game, lecturer view: start a round, show the join link, watch the class against the model.

Every control the lecturer needs in front of the class is in the main area (presentation mode closes the sidebar)."""

from __future__ import annotations

import streamlit as st

from components.game import get_store, prompt_html
from components.model_picker import pick_model
from components.sections.game_lecturer import (join_panel, join_warning, lecturer_code, live_round, pick_round, revealed_averages,
                                               round_buttons, start_round_form)
from components.setup import route_through_app

route_through_app()
st.title("You are the language model")
st.caption("The class guesses the next word; the model gives every word a probability. Who is less surprised?")
store = get_store()
model_id = pick_model()
code = lecturer_code()
rounds = store.rounds_for(code)
start_round_form(store, code, model_id, expanded=not rounds)

if "game_error" in st.session_state:
    st.error(st.session_state.pop("game_error"))

if not rounds:
    st.info("Start a round above: the class will see the prompt on their phones and guess the next word.")
    st.stop()
round_id = pick_round(rounds)
join_warning(round_id)

left, right = st.columns([3, 1])
with right:
    join_panel(round_id)
with left:
    r = store.round(round_id)
    st.html(prompt_html(r.prompt))
    round_buttons(store, r, code)
    live_round(store, round_id, code)

revealed_averages(store, rounds, code)
