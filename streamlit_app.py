"""LLM Explainer: router only. Page config, shared setup, and one stable URL per page (lib/page_table.py)."""

import streamlit as st

from components.guard import guard
from components.navigation import app_pages, run_page
from components.presentation import setup as presentation_setup
from components.setup import start_up

start_up()  # process-wide settings, on the first run only
st.set_page_config(page_title="LLM Explainer", page_icon="🔮", layout="wide")

presentation_setup()  # ?present=1, phone layout, no Deploy button

page = st.navigation(app_pages())
with guard("This page"):  # no traceback ever reaches a student: one line here, detail in the log
    run_page(page)
