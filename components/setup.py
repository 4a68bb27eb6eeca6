"""Process-wide settings, applied once per process before any page runs (`start_up`), and the router check.

This is the one place that writes os.environ, sets torch's thread count and freezes the collector's heap; the
router calls `start_up` on every run (a no-op after the first) and deploy/app_process.py calls it before it
loads the model. Request paths never change process-wide state.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_TIKTOKEN = ROOT.parent / "shared" / "assets" / "tiktoken-cache"
_ROUTED: ContextVar[bool] = ContextVar("routed", default=False)  # True while the router runs a page
_STARTED = threading.Event()
_START_LOCK = threading.Lock()


def start_up() -> None:
    """Once per process: environment defaults, torch's thread count, the hosted-mode cache guard."""
    if _STARTED.is_set():
        return
    with _START_LOCK:
        if _STARTED.is_set():
            return
        configure_environment()
        logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
            lambda record: record.threadName != WARM_UP_THREAD)  # the warm-up runs outside any script run
        set_torch_threads()
        guard_cache_clearing()
        _STARTED.set()


def configure_environment() -> None:
    """Use the shared tiktoken cache when present; quiet transformers' console noise."""
    if "TIKTOKEN_CACHE_DIR" not in os.environ and SHARED_TIKTOKEN.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(SHARED_TIKTOKEN)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def set_torch_threads() -> None:
    """torch's intra-op threads for a server process (lib.models.next_token.serving_threads). torch is imported
    lazily, so before its import OMP_NUM_THREADS carries the number (torch reads it then); after, it is set."""
    from lib.models.next_token import serving_threads

    threads = serving_threads()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)


WARM_UP_THREAD = "llmx-warm-up"  # deploy/app_process.py warms up in this thread before it serves


def warm_up() -> str:
    """Load the default model the way the pages do, run one forward pass, then freeze the heap (once it is loaded,
    so that its objects leave the collector's reach). Returns the model's name."""
    from components.loaders import get_model
    from lib.models.catalog import DEFAULT_MODEL

    model = get_model(DEFAULT_MODEL)
    model.logits(model.encode("The").ids)
    freeze_heap()
    return DEFAULT_MODEL


def freeze_heap() -> None:
    """Start-up, after the model is loaded: its millions of Python objects (torch, transformers) move out of the
    collector's reach, so the full collections that script runs trigger no longer walk them. Measured through the
    real server: CPU per game guess, with a model loaded, fell from ~210 ms to ~5 ms."""
    gc.freeze()


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


@contextmanager
def routed() -> Iterator[None]:
    """Mark this script run as one that went through streamlit_app.py's st.navigation (see route_through_app)."""
    token = _ROUTED.set(True)
    try:
        yield
    finally:
        _ROUTED.reset(token)


def route_through_app() -> None:
    """A page file's first line: make sure this run went through the router, streamlit_app.py.

    With a pages/ folder beside the entry file, a new Streamlit process (and each AppTest process) starts in
    legacy auto-discovery mode: until the router first calls st.navigation, a deep link such as /sampling runs
    pages/sampling.py directly, without the router (streamlit/runtime/scriptrunner/script_runner.py, _mpa_v1).
    Nothing of ours runs earlier in that run, so the page asks here: when the router did not run it, run the
    router in its place (it resolves the same page from the URL), then stop. No rerun, so a click is not lost.
    Only public behaviour is used; tests/e2e/test_navigation.py opens every page as a new process's first run.
    """
    if _ROUTED.get():
        return
    import runpy

    import streamlit as st

    runpy.run_path(str(ROOT / "streamlit_app.py"), run_name="__main__")
    st.stop()
