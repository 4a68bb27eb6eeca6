"""The load harness's protocol client reads Streamlit's own ForwardMsgs the way the browser does."""

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.elements.lib.utils import _compute_element_id

from bench.st_client import Student, user_key, widget_state


def _slider_delta(widget_id: str, fragment_id: str) -> ForwardMsg:
    msg = ForwardMsg()
    msg.delta.fragment_id = fragment_id
    msg.delta.new_element.slider.id = widget_id
    msg.delta.new_element.slider.label = "Temperature"
    return msg


def test_user_key_matches_streamlits_own_ids():
    # Streamlit builds widget ids from the key= (the server-side function the browser never sees).
    assert user_key(_compute_element_id("slider", "sk_temperature", label="Temperature")) == "sk_temperature"
    assert user_key(_compute_element_id("slider", "a-key-with-dashes", label="x")) == "a-key-with-dashes"
    assert user_key(_compute_element_id("slider", None, label="x")) is None


def test_handle_tracks_widgets_fragments_query_and_run_end():
    s = Student("ws://unused", "sampling")
    errors, alerts = [], []
    assert not s.handle(_slider_delta("$$ID-abc-sk_temperature", "frag1"), errors, alerts)
    info = ForwardMsg()
    info.page_info_changed.query_string = "temperature=0.5"
    s.handle(info, errors, alerts)
    exc = ForwardMsg()
    exc.delta.new_element.exception.type = "ValueError"
    exc.delta.new_element.exception.message = "boom"
    s.handle(exc, errors, alerts)
    done = ForwardMsg()
    done.script_finished = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
    early = ForwardMsg()
    early.script_finished = ForwardMsg.FINISHED_EARLY_FOR_RERUN
    assert not s.handle(early, errors, alerts)  # an interrupted run is not the one we wait for
    assert s.handle(done, errors, alerts)
    assert s.widgets["sk_temperature"].fragment_id == "frag1"
    assert s.widgets["sk_temperature"].kind == "slider"
    assert s.query == "temperature=0.5"
    assert errors == ["ValueError: boom"]


def test_widget_state_encodings():
    s = Student("ws://unused", "sampling")
    s.handle(_slider_delta("$$ID-abc-sk_n", ""), [], [])
    assert list(widget_state(s.widgets["sk_n"], 7).double_array_value.data) == [7.0]
    seed = ForwardMsg()
    seed.delta.new_element.number_input.CopyFrom(NumberInput(id="$$ID-d-sk_seed", data_type=NumberInput.INT))
    s.handle(seed, [], [])
    state = widget_state(s.widgets["sk_seed"], 12)
    assert state.WhichOneof("value") == "int_value" and state.int_value == 12
