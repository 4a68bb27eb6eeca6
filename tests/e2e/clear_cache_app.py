"""A one-line app for test_hosted_clear_cache.py: the project's startup, then one cached token shown."""

import uuid

import streamlit as st

from components.setup import start_up

start_up()


@st.cache_resource
def token() -> str:
    return uuid.uuid4().hex


st.text(f"TOKEN {token()}")
