"""Process-wide settings applied before any page runs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_TIKTOKEN = ROOT.parent / "shared" / "assets" / "tiktoken-cache"


def configure_environment() -> None:
    """Use the shared tiktoken cache when present; quiet transformers' console noise."""
    if "TIKTOKEN_CACHE_DIR" not in os.environ and SHARED_TIKTOKEN.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(SHARED_TIKTOKEN)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    guard_cache_clearing()


def guard_cache_clearing() -> None:
    """Hosted mode: ignore the protocol's clear-cache message, which any session can send and which clears the
    caches of every session (Streamlit's AppSession._handle_clear_cache_request). Local mode keeps it."""
    from streamlit.runtime.app_session import AppSession

    from lib.hosting import hosted

    current = AppSession._handle_clear_cache_request
    original = getattr(current, "original", current)
    if not hosted():
        AppSession._handle_clear_cache_request = original
        return
    if current is not original:
        return

    def ignore_clear_cache(self) -> None:
        logging.getLogger(__name__).warning("Ignored a clear-cache request from session %s (hosted mode).", self.id)

    ignore_clear_cache.original = original
    AppSession._handle_clear_cache_request = ignore_clear_cache


def route_through_app(from_router: bool = False) -> None:
    """Make every run go through streamlit_app.py's st.navigation.

    With a pages/ folder beside the entry file, Streamlit starts a process (and every AppTest run) in
    legacy auto-discovery mode, which may run a page file directly, without the router. Switch that
    mode off; when a page file was run directly, run the router in its place (it resolves the same
    page from the URL), then stop. No rerun, so a click that started this run is not lost.
    """
    import runpy

    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    if not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    if not from_router:
        runpy.run_path(str(ROOT / "streamlit_app.py"), run_name="__main__")
        st.stop()
