"""The guard around every page body, fragment and callback (components/guard.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def harness():
    import streamlit as st

    from components.guard import guard, guarded_callback, guarded_fragment

    def boom():
        raise OSError("[Errno 36] File name too long: '/srv/app/secret/path'")

    st.button("bad callback", key="cb", on_click=guarded_callback(boom))
    with guard("This page"):
        if not st.session_state.get("reran"):
            st.session_state.reran = True
            st.rerun()  # control flow passes through the guard
        st.title("still here")

        @guarded_fragment
        def panel():
            st.write("panel")
            if st.query_params.get("fail") == "fragment":
                boom()

        panel()
        if st.query_params.get("fail") == "stop":
            st.stop()
        if st.query_params.get("fail") == "page":
            boom()
        st.write("end of page")


def run(fail: str = "") -> AppTest:
    at = AppTest.from_function(harness, default_timeout=30)
    at.query_params["fail"] = fail
    return at.run()


def shown(at) -> str:
    return "\n".join(str(e.value) for e in list(at.error) + list(at.markdown) + list(at.exception))


def test_an_error_in_the_page_is_one_line_without_paths():
    at = run("page")
    assert not at.exception
    assert len(at.error) == 1 and "unexpected problem" in at.error[0].value
    assert "/srv/app" not in shown(at) and "Errno" not in shown(at)
    assert at.title[0].value == "still here"  # st.rerun passed through; what rendered before the error stays


def test_stop_passes_through_and_a_fragment_error_stays_in_its_panel():
    at = run("stop")
    assert not at.exception and not at.error and not any(m.value == "end of page" for m in at.markdown)
    at = run("fragment")
    assert not at.exception and len(at.error) == 1
    assert any(m.value == "end of page" for m in at.markdown)  # the rest of the page still ran


def test_a_failing_callback_is_reported_on_the_next_run():
    at = run()
    at.button(key="cb").click().run()
    assert not at.exception
    assert any("That control" in e.value for e in at.error)
    assert "/srv/app" not in shown(at)


def timed_harness():
    import streamlit as st

    from components.guard import guarded_fragment

    @guarded_fragment(run_every=600)
    def ticking():
        raise OSError("[Errno 2] No such file: '/srv/app/secret'")

    ticking()
    st.write("after the timed panel")


def test_a_timed_fragment_is_guarded_too():
    at = AppTest.from_function(timed_harness, default_timeout=30).run()
    assert not at.exception and len(at.error) == 1 and "unexpected problem" in at.error[0].value
    assert any(m.value == "after the timed panel" for m in at.markdown) and "/srv/app" not in shown(at)
