"""Item 16 of issue 13: the protocol's clear-cache BackMsg, sent through a real Streamlit server's websocket,
must not clear the shared caches in hosted mode; in local mode it still does."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import start_server

APP = Path(__file__).with_name("clear_cache_app.py")


def start(hosted: bool) -> tuple[subprocess.Popen, int, Path]:
    proc, url, log = start_server({"PYTHONPATH": str(ROOT), "LLMX_HOSTED": "1" if hosted else "0"}, app=APP)
    return proc, int(url.rsplit(":", 1)[1]), log


def run_and_read_token(ws) -> str:
    """Send a rerun BackMsg and read the app's token from the deltas until the script finishes."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = BackMsg()
    msg.rerun_script.query_string = ""
    ws.send(msg.SerializeToString())
    token = None
    while True:
        fwd = ForwardMsg.FromString(ws.recv(timeout=60))
        kind = fwd.WhichOneof("type")
        if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            found = re.search(r"TOKEN ([0-9a-f]{32})", fwd.delta.new_element.text.body)
            token = found.group(1) if found else token
        if kind == "script_finished":
            assert token, "the app showed no token"
            return token


def clear_cache(ws) -> None:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.clear_cache = True
    ws.send(msg.SerializeToString())


@pytest.mark.parametrize("hosted", [True, False], ids=["hosted", "local"])
def test_clear_cache_message_is_ignored_only_in_hosted_mode(hosted):
    from websockets.sync.client import connect

    proc, port, log = start(hosted)
    try:
        with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"]) as student:
            first = run_and_read_token(student)
            assert run_and_read_token(student) == first  # cached across runs
            clear_cache(student)
            after = run_and_read_token(student)
        with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"]) as classmate:
            other = run_and_read_token(classmate)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    if hosted:
        assert after == first and other == first, log.read_text()
        assert "Ignored a clear-cache request" in log.read_text()
    else:
        assert after != first and other == after  # local mode: the message still clears the shared cache
