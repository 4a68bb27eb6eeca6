"""Lecture: both seed lectures step by step. Each step draws its view (a figure the pages use) beside what to say."""

import streamlit as st

from components.presentation import presenting
from components.sections import lecture_view as view
from components.sections import step_views
from components.setup import route_through_app
from components.state import to_query
from lib.hosting import hosted
from lib.teaching import lecture as L

route_through_app()
# ?step= wins when it changed outside this page's buttons (a shared link, the step list, the back button).
asked = st.query_params.get("step")
if "lecture_step" not in st.session_state or (asked and asked != st.session_state.get("lecture_url_step")):
    st.session_state.lecture_step = L.index_of(asked)


def go(target: int | None = None, delta: int = 0) -> None:
    """To step `target`, or `delta` steps on from the current one (two quick clicks move two steps)."""
    where = st.session_state.lecture_step + delta if target is None else target
    st.session_state.lecture_step = min(max(where, 0), len(L.STEPS) - 1)
    step_views.knobs_off_the_link()


i = st.session_state.lecture_step
step = L.STEPS[i]
to_query(step=step.id)
st.session_state.lecture_url_step = step.id
params = L.step_params(step, view.available_models())

view.navigation(i, step, params, go)
view.step_notes(step, params)
with st.container(key="lecture_figure"), st.container(key="lecture_figure_inner"):  # inner: what a zoom-to-fit scales
    step_views.render(step, params)

extras = st.sidebar if presenting() else st.container()  # presenting: the screen is the step's alone
with extras.expander("All steps"):
    view.step_list(i)
if not hosted():  # a class server is prepared by its operator (make prepare), never from the page
    with extras.expander("Prepare this machine for a lecture (download models and tokenizers, then go offline)"):
        view.prepare_panel()
