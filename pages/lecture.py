"""Lecture: both seed lectures step by step. Each step is a deep link into an existing page, shown here."""

import streamlit as st

from components.sections import lecture_view as view
from components.setup import route_through_app
from components.state import to_query
from lib.teaching import lecture as L

route_through_app()
# ?step= wins when it changed outside this page's buttons (a shared link, the step list, the back button).
asked = st.query_params.get("step")
if "lecture_step" not in st.session_state or (asked and asked != st.session_state.get("lecture_url_step")):
    st.session_state.lecture_step = L.index_of(asked)


def move(delta: int) -> None:
    st.session_state.lecture_step = min(max(st.session_state.lecture_step + delta, 0), len(L.STEPS) - 1)


i = st.session_state.lecture_step
step = L.STEPS[i]
to_query(step=step.id)
st.session_state.lecture_url_step = step.id

nav = st.columns([1, 1, 3.2, 1.3], vertical_alignment="center")
nav[0].button("◀ Back", key="lecture_prev", on_click=move, args=(-1,), disabled=i == 0, shortcut="Left",
              width="stretch")
nav[1].button("Next ▶", key="lecture_next", on_click=move, args=(1,), disabled=i == len(L.STEPS) - 1,
              shortcut="Right", type="primary", width="stretch")
nav[2].markdown(f"**Step {i + 1} of {len(L.STEPS)}** · {step.lecture}")
embed = nav[3].toggle("Show page", value=True, key="lecture_embed",
                      help="Off: only the link, for a slow machine or to present the page full screen.")
st.markdown(f"### {step.title}")

params = L.step_params(step, view.available_models())
notes, page = st.columns([1, 2.2])
with notes:
    view.step_notes(step, params)
with page:
    view.step_page(step, params, embed)

with st.expander("All steps"):
    view.step_list(i)
with st.expander("Prepare this machine for a lecture (download models and tokenizers, then go offline)"):
    view.prepare_panel()
