"""`make run`'s server watches no files (issue 23): the app's own .streamlit/config.toml switches Streamlit's file
watcher off, so every way of starting it opens pages without walking every loaded module per session.

The server is started with the command `make run` runs (read from `make -n run`), plus a port; after one session has
run a page, the process holds no inotify watch. The same command with `--server.fileWatcherType auto` (what a
developer asks for) does hold them, so the check can fail.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.st_client import Student
from tests.conftest import ROOT


def make_run_command() -> list[str]:
    """The `streamlit run` line of `make -n run`, with the venv's python replaced by this interpreter."""
    out = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if "streamlit run" in line)
    words = shlex.split(line)
    assert words[1:] == ["-m", "streamlit", "run", "streamlit_app.py"], line  # nothing but the app's own config
    return [sys.executable, *words[1:]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inotify_watches(pid: int) -> int:
    """inotify instances the process holds (watchdog's observer makes them; Streamlit's poller is not used here)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd) == "anon_inode:inotify"
        except OSError:
            pass
    return count


def watches_after_one_session(extra: list[str]) -> int:
    port = free_port()
    command = [*make_run_command(), "--server.headless=true", f"--server.port={port}",
               "--server.address=127.0.0.1", *extra]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)

        async def open_page():
            student = Student(f"ws://127.0.0.1:{port}", "tokenizer", timeout=120)
            result = await student.open()
            await student.close()
            return result

        assert not asyncio.run(open_page()).errors
        return inotify_watches(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_make_run_server_watches_no_files_unless_a_developer_asks():
    assert watches_after_one_session([]) == 0
    assert watches_after_one_session(["--server.fileWatcherType=auto"]) > 0
