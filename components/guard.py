"""Make tracebacks structurally impossible: every page body, fragment and widget callback runs inside a guard.

An unexpected exception becomes one line on the page (what failed, what to do); the detail, with its
traceback and server paths, goes to the server log only. Streamlit's own control flow (st.rerun, st.stop,
st.switch_page) raises BaseException subclasses, which pass straight through `except Exception`.
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from typing import Callable

import streamlit as st

LOG = logging.getLogger("llmx")
MESSAGE = ("{what} stopped on an unexpected problem. Try a different input, or reload the page; "
           "the details were written to the server log.")
_PENDING = "_llmx_callback_failed"  # a failed widget callback, reported by the next guarded run


def _report(what: str) -> None:
    LOG.exception("%s failed", what)
    st.error(MESSAGE.format(what=what), icon="⚠️")


@contextmanager
def guard(what: str = "This page"):
    """Run a block; any Exception is logged on the server and shown as one line."""
    failed = st.session_state.pop(_PENDING, None)
    if failed:
        st.error(MESSAGE.format(what=failed), icon="⚠️")
    try:
        yield
    except Exception:  # noqa: BLE001 - the whole point; control-flow exceptions are BaseException
        _report(what)


def guarded_fragment(fn: Callable | None = None, *, run_every: float | None = None) -> Callable:
    """st.fragment whose body is guarded too (a fragment rerun does not pass through the router's guard).

    `@guarded_fragment` or `@guarded_fragment(run_every=8)`, like st.fragment."""
    if fn is None:
        return functools.partial(guarded_fragment, run_every=run_every)

    @functools.wraps(fn)
    def body(*args, **kwargs):
        with guard("This panel"):
            return fn(*args, **kwargs)
    return st.fragment(body, run_every=run_every)


def guarded_callback(fn: Callable) -> Callable:
    """A widget callback (on_change / on_click) that cannot crash the page: callbacks run before the script,
    outside any guard, so a failure is logged and reported on the run that follows."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:
            LOG.exception("callback %s failed", getattr(fn, "__name__", fn))
            st.session_state[_PENDING] = "That control"
    return call
