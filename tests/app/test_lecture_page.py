"""The Lecture page under AppTest: steps from the URL, next/previous, and presentation mode kept per session."""

from lib.teaching import lecture as L
from tests.app.apptest import open_page


def _heading(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_next_and_previous_move_through_the_steps():
    at = open_page("pages/lecture.py")
    assert L.STEPS[0].title in _heading(at)
    at.button(key="lecture_next").click().run()
    assert not at.exception
    assert L.STEPS[1].title in _heading(at) and at.query_params["step"] in ([L.STEPS[1].id], L.STEPS[1].id)
    at.button(key="lecture_prev").click().run()
    assert L.STEPS[0].title in _heading(at)


def test_a_link_opens_its_step_and_names_the_model_it_uses():
    """Which model depends on what this machine has: the page names it, and says so when it is only the bundled one."""
    from components.sections.lecture_view import available_models

    at = open_page("pages/lecture.py", step="hitchcock")
    step = L.BY_ID["hitchcock"]
    params = L.step_params(step, available_models())
    assert step.title in _heading(at)
    assert params["model"] in " ".join(str(p.proto) for p in at.get("popover")) + _heading(at) + " ".join(
        c.value for c in at.caption)
    bundled = any("Only the bundled model is on this machine" in i.value for i in at.info)
    assert bundled == L.uses_bundled(step, params)


def test_every_step_draws_its_view_in_presentation_mode():
    """Each step's view runs with its state: no exception, no error, and something drawn in the figure box."""
    at = open_page("pages/lecture.py", present="1")
    for i, step in enumerate(L.STEPS):
        assert not at.exception, (step.id, at.exception)
        assert not at.error, (step.id, [e.value for e in at.error])
        assert f"Step {i + 1} of {len(L.STEPS)}" in _heading(at), step.id
        if i < len(L.STEPS) - 1:
            at.button(key="lecture_next").click().run()
    at.button(key="lecture_first").click().run()
    assert "Step 1 of" in _heading(at)
    at.button(key="lecture_last").click().run()
    assert f"Step {len(L.STEPS)} of" in _heading(at)


def test_the_sidebar_switch_turns_presentation_mode_off_and_a_new_link_on_again():
    at = open_page("pages/lecture.py", present="1")
    assert at.session_state["present"] is True
    at.sidebar.toggle(key="_present_toggle").set_value(False).run()
    assert at.session_state["present"] is False and "present" not in at.query_params
    at.run()  # and it stays off
    assert at.session_state["present"] is False and "present" not in at.query_params
    at.query_params["present"] = "1"  # a lecturer opens a presentation link in the same session
    at.run()
    assert at.session_state["present"] is True and at.sidebar.toggle(key="_present_toggle").value is True
    at.query_params["present"] = "0"
    at.run()
    assert at.session_state["present"] is False and not at.exception


def test_presentation_mode_is_kept_for_the_session():
    at = open_page("pages/lecture.py", present="1")
    assert at.session_state["present"] is True
    at.query_params.pop("present", None)
    at.run()
    assert at.session_state["present"] is True and not at.exception


def test_a_connected_server_is_offered_for_knowledge_steps():
    """The key stays in this session: the link switches page in the same session and names only the model."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.session_state["api_on"] = True
    at.session_state["api_model"] = "davinci-002"
    at.session_state["api_key"] = "sk-secret-test"
    at.run()
    at.switch_page("pages/lecture.py")
    at.query_params["step"] = "hitchcock"
    at.run()
    assert not at.exception
    links = [str(p.proto) for p in at.get("page_link")]
    served = [p for p in links if "connected server (davinci-002)" in p]
    assert served and "api_model" in served[0] and "sk-secret-test" not in " ".join(links)


def test_prepare_button_fetches_encodings_and_lists_what_works_offline(tmp_path, monkeypatch):
    """The button's real download path, against a loopback blob store that lacks o200k_base: the page says so
    in one line and lists what works offline."""
    from tests.conftest import TIKTOKEN_CACHE, need_shared
    from tests.loopback_hub import LoopbackHub, tiktoken_blobs

    need_shared()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    blobs = tiktoken_blobs(TIKTOKEN_CACHE)
    blobs.pop("encodings/o200k_base.tiktoken", None)  # served by nobody, whatever the shared assets hold
    with LoopbackHub(blobs=blobs) as store:
        monkeypatch.setenv("LLMX_TIKTOKEN_BASE_URL", store.url)
        at = open_page("pages/lecture.py")
        at.multiselect(key="prepare_models").set_value([]).run()
        at.button(key="prepare_go").click().run()
    assert not at.exception
    assert {s.value for s in at.success} >= {f"encoding {n}: ready" for n in ("gpt2", "r50k_base", "p50k_base",
                                                                             "cl100k_base")}
    assert [e.value for e in at.error] == ["encoding o200k_base: could not download encodings/o200k_base.tiktoken: "
                                           "HTTPError"]
    assert any("`p50k_base`" in m.value and "Works offline now" in m.value for m in at.markdown)


def test_a_moved_knob_is_kept_in_the_link_until_the_step_changes():
    """Every state lives in the URL: the playground step's moved temperature is in the link, a link with one opens
    with it, and the next step's link no longer carries it."""
    at = open_page("pages/lecture.py", step="playground", present="1")
    key = "lecture_playground_temperature"
    assert at.slider(key=key).value == float(dict(L.BY_ID["playground"].params)["temperature"])
    assert "temperature" not in at.query_params  # the step's own value: the step id says it
    at.slider(key=key).set_value(1.5).run()
    assert at.query_params["temperature"] in (["1.5"], "1.5") and not at.exception
    at.button(key="lecture_next").click().run()
    assert "temperature" not in at.query_params
    fresh = open_page("pages/lecture.py", step="playground", temperature="1.2")
    assert fresh.slider(key=key).value == 1.2


def test_tuned_answers_end_with_a_marker_not_the_raw_end_token():
    """The three-stages step: a tuned checkpoint stops on its end-of-text token (its tokenizer's own eos), which
    the answer box shows as an end marker, never as the token's raw name."""
    import html

    from transformers import AutoTokenizer

    from tests.app.inspect_page import html_texts
    from tests.conftest import ROOT

    eos = AutoTokenizer.from_pretrained(str(ROOT / "assets" / "pocket-lm-dpo")).eos_token
    at = open_page("pages/lecture.py", step="three-stages", present="1")
    boxes = [html.unescape(h) for h in html_texts(at) if 'class="ts-data"' in h]
    assert len(boxes) == 3, boxes
    assert not any(eos in box for box in boxes), boxes
    assert sum("■ end" in box for box in boxes) >= 2, boxes  # the SFT and DPO checkpoints stop by themselves
