"""A simulated student: one Streamlit browser session spoken over Streamlit's own websocket protocol.

It sends what the browser sends (BackMsg.rerun_script with the URL's query string, the page, every widget
value this session has set, and the fragment id of the widget that changed) and reads Streamlit's
ForwardMsgs with Streamlit's own protobuf classes. Nothing of Streamlit is reimplemented: the server is the
real one, and the client only keeps the little state a browser tab keeps (widget ids, values, query string,
page hash). Latency is from sending a rerun until the script_finished message of that run.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
        ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
WIDGET_TYPES = {"slider", "button", "number_input", "text_area", "text_input", "checkbox", "radio", "selectbox",
                "bidi_component"}  # a custom component (st.components.v2): its state is JSON


@dataclass
class Widget:
    id: str
    kind: str          # the Element oneof name: "slider", "button", ...
    fragment_id: str   # "" outside any st.fragment
    proto: object      # the element's own proto (Slider, NumberInput, ...)


@dataclass
class RunResult:
    seconds: float
    bytes_in: int            # ForwardMsg bytes received for this run
    errors: list[str]        # exception elements, or a compile error / timeout
    alerts: list[str]        # st.warning / st.error / st.info bodies shown in this run
    first_text: float | None = None  # seconds until the run's first st.text element (a generated continuation)
    texts: int = 0                   # st.text elements this run showed (/sampling: one per continuation)


def widget_state(widget: Widget, value) -> WidgetState:
    """The WidgetState the browser sends for `value` in this widget (slider values are double arrays)."""
    state = WidgetState(id=widget.id)
    if widget.kind == "button":
        state.trigger_value = True
    elif widget.kind == "slider":
        state.double_array_value.data[:] = [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    elif widget.kind == "number_input":
        if widget.proto.data_type == widget.proto.INT:
            state.int_value = int(value)
        else:
            state.double_value = float(value)
    elif widget.kind in ("text_area", "text_input"):
        state.string_value = str(value)
    elif widget.kind == "checkbox":
        state.bool_value = bool(value)
    elif widget.kind == "bidi_component":
        state.json_value = json.dumps(value)
    else:
        raise ValueError(f"no encoding for a {widget.kind} widget")
    return state


def knob_release(**knobs) -> dict:
    """What /sampling's knob panel (components/knob_panel.js) sends when a knob is released: every knob's value,
    None for a switched-off one. knob_release(temperature=0.7, top_k=5)."""
    from lib.sampling.knobs import KNOBS

    return {"knobs": {row.name: knobs.get(row.name, row.off if row.slider.on is None else None) for row in KNOBS}}


def user_key(widget_id: str) -> str | None:
    """The key= a widget was created with, read from its element id ("$$ID-<hash>-<key>")."""
    parts = widget_id.split("-", 2)
    return parts[2] if len(parts) == 3 and parts[2] != "None" else None


@dataclass
class Student:
    base_ws: str                      # ws://127.0.0.1:8501
    page: str                         # url path, "" for the default page
    query: str = ""                   # the URL's query string, kept up to date like the address bar
    timeout: float = 60.0
    widgets: dict[str, Widget] = field(default_factory=dict)   # by user key
    values: dict[str, WidgetState] = field(default_factory=dict)  # by widget id: what the browser re-sends
    page_hash: str = ""
    bytes_in: int = 0
    connect_kwargs: dict = field(default_factory=dict)  # e.g. local_addr=("127.0.0.9", 0): another client address

    async def open(self) -> RunResult:
        """Connect and run the page once, as a browser opening the link."""
        t0 = time.perf_counter()
        self.ws = await websockets.connect(f"{self.base_ws}/_stcore/stream", subprotocols=["streamlit"],
                                           max_size=None, open_timeout=self.timeout, ping_interval=None,
                                           **self.connect_kwargs)
        result = await self._run(page_name=self.page)
        result.seconds = time.perf_counter() - t0
        return result

    async def set(self, key: str, value) -> RunResult:
        """Change one widget (by its key=) as the browser does: a fragment rerun when it lives in a fragment."""
        widget = self.widgets.get(key)
        if widget is None:  # the page never finished loading (an error, or a timeout): count it, don't crash
            return RunResult(0.0, 0, [f"no widget {key!r} on the page"], [])
        if widget.kind != "button":
            self.values[widget.id] = widget_state(widget, value)
            states = list(self.values.values())
        else:
            states = [*self.values.values(), widget_state(widget, True)]  # a trigger is sent once
        return await self._run(states=states, fragment_id=widget.fragment_id)

    async def close(self) -> None:
        await self.ws.close()

    async def _run(self, states=None, fragment_id: str = "", page_name: str = "") -> RunResult:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query
        rerun.page_script_hash = self.page_hash
        rerun.page_name = page_name
        rerun.fragment_id = fragment_id
        rerun.widget_states.widgets.extend(states if states is not None else self.values.values())
        rerun.context_info.timezone = "UTC"
        rerun.context_info.locale = "en-US"
        t0, before = time.perf_counter(), self.bytes_in
        await self.ws.send(msg.SerializeToString())
        result = RunResult(0.0, 0, [], [])
        try:
            await asyncio.wait_for(self._read_until_finished(result, t0), self.timeout)
        except TimeoutError:
            result.errors.append(f"no script_finished within {self.timeout:g} s")
        result.seconds, result.bytes_in = time.perf_counter() - t0, self.bytes_in - before
        return result

    async def _read_until_finished(self, result: RunResult, t0: float) -> None:
        while True:
            data = await self.ws.recv()
            self.bytes_in += len(data)
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            if fwd.WhichOneof("type") == "delta" and fwd.delta.new_element.WhichOneof("type") == "text":
                result.texts += 1
                if result.first_text is None:
                    result.first_text = time.perf_counter() - t0
            if self.handle(fwd, result.errors, result.alerts):
                return

    def handle(self, fwd: ForwardMsg, errors: list[str], alerts: list[str]) -> bool:
        """Update the tab's state from one ForwardMsg; True when it ends the run we wait for."""
        kind = fwd.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = fwd.new_session.page_script_hash or self.page_hash
        elif kind == "navigation" and fwd.navigation.page_script_hash:
            self.page_hash = fwd.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = fwd.page_info_changed.query_string
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            etype = element.WhichOneof("type")
            if etype == "exception":
                errors.append(f"{element.exception.type}: {element.exception.message}")
            elif etype == "alert":
                alerts.append(element.alert.body)
            elif etype in WIDGET_TYPES:
                proto = getattr(element, etype)
                key = user_key(proto.id)
                if key:
                    self.widgets[key] = Widget(proto.id, etype, fwd.delta.fragment_id, proto)
        elif kind == "script_finished":
            if fwd.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                errors.append("compile error")
            return fwd.script_finished in DONE
        return False
