"""`make serve` as the Docker image runs it: two app processes behind nginx, driven by several real browsers.

Which process answered is read from two independent places: the X-LLMX-Backend header nginx adds to every
HTTP response ($upstream_addr), and nginx's access log, which also records each websocket (the channel every
rerun travels on) with the app process it was proxied to.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.conftest import IN_CI, ROOT, need_shared
from tests.e2e.conftest import CHROMIUM_FLAGS, _free_port, chromium_path, no_exception, open_page, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CLASS_HOST = "class.test"
PROMPT = quote("She opened the door and")
MAX_STUDENTS = 12  # with two processes picked at random, 12 students all on one process has odds 1 in 2048


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    need_shared()
    if not Path("/usr/sbin/nginx").exists() and subprocess.run(["sh", "-c", "command -v nginx"]).returncode:
        if IN_CI:
            pytest.fail("nginx is not installed; .ci/run must apt-get install nginx")
        pytest.skip("nginx is not installed")
    run_dir = tmp_path_factory.mktemp("serve")
    port = _free_port()
    venv = Path(sys.executable).parent.parent
    log = run_dir / "serve.log"
    # Exactly the image's command, with the venv already built (-o: do not reinstall).
    proc = subprocess.Popen(
        ["make", "-o", f"{venv}/.ready", "serve", f"VENV={venv}", "PROCESSES=2", f"PORT={port}", "BIND=127.0.0.1"],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "SERVE_DIR": str(run_dir)},
        stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 200
        while _get(f"{url}/healthz")[0] != 200:
            assert proc.poll() is None, f"make serve exited:\n{log.read_text()[-3000:]}"
            assert time.time() < deadline, f"make serve not healthy:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        backends = set(re.findall(r"server (127\.0\.0\.1:\d+)", (run_dir / "nginx.conf").read_text()))
        assert len(backends) == 2
        yield {"url": url, "dir": run_dir, "backends": backends, "proc": proc, "log": log}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_health_says_the_model_is_loaded(served):
    with urllib.request.urlopen(f"{served['url']}/healthz", timeout=5) as r:
        status, text, backend = r.status, r.read().decode(), r.headers.get("X-LLMX-Backend")
    assert status == 200 and "pocket-lm loaded" in text
    assert backend in served["backends"]  # the header the README promises on every response
    for backend in served["backends"]:
        assert _get(f"http://{backend}/healthz") == (200, text)


def test_a_large_upload_reaches_the_app(served):
    """nginx must pass a multi-MB body on to the app, also when its workers run as another user than the launcher
    (nginx started by root gives its workers to nobody). The app then refuses it: no session, no XSRF token."""
    body = b"x" * (3 << 20)
    req = urllib.request.Request(f"{served['url']}/_stcore/upload_file/no-session/no-file", data=body, method="PUT")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, headers = r.status, r.headers
    except urllib.error.HTTPError as exc:
        status, headers = exc.code, exc.headers
    assert headers.get("X-LLMX-Backend") in served["backends"], (status, dict(headers))
    assert status != 500


def _temperature(url: str) -> str | None:
    return parse_qs(urlsplit(url).query).get("temperature", [None])[0]


def _student(browser, url: str) -> dict:
    """One student in their own browser: open /sampling, move a slider twice, reload."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    answered = []
    context.on("response", lambda r: answered.append(r.headers.get("x-llmx-backend")))
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_page(page, f"{url}/sampling?prompt={PROMPT}")
    assert page.locator("[data-testid=stAppDeployButton]").count() == 0  # hosted: no Deploy button
    thumb = page.get_by_role("slider", name=re.compile("^Temperature"))  # Streamlit's or the knob panel's
    for _ in range(2):  # reruns over this tab's websocket; each one writes the new temperature into the URL
        before = _temperature(page.url)
        wait_idle(page)
        thumb.focus()
        thumb.press("ArrowLeft")
        page.wait_for_url(lambda u, before=before: _temperature(u) != before)
    wait_idle(page)
    no_exception(page)
    page.reload()  # a new websocket from the same browser
    wait_idle(page)
    no_exception(page)
    route = next(c["value"] for c in context.cookies() if c["name"] == "llmx_route")
    return {"context": context, "route": route, "answered": {b for b in answered if b}}


def _stream_log(run_dir: Path) -> dict[str, set[str]]:
    """route -> app processes, from nginx's log lines for websockets (written when each one closes)."""
    seen: dict[str, set[str]] = {}
    for line in (run_dir / "access.log").read_text().splitlines():
        m = re.search(r"route=(\w+) upstream=(\S+) status=\d+ \"GET /_stcore/stream", line)
        if m:
            seen.setdefault(m[1], set()).add(m[2])
    return seen


def test_each_student_stays_on_one_process_and_both_serve(served, playwright):
    # Students reach the class by a host name, not 127.0.0.1 (which Streamlit trusts whatever the headers say), so
    # the websocket's same-origin check sees the Host header exactly as nginx forwards it.
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                         args=[*CHROMIUM_FLAGS, f"--host-resolver-rules=MAP {CLASS_HOST} 127.0.0.1"])
    url = served["url"].replace("127.0.0.1", CLASS_HOST)
    students = []
    try:
        while len(students) < 2 or len(set().union(*(s["answered"] for s in students))) < 2:
            assert len(students) < MAX_STUDENTS, "every student went to the same app process"
            students.append(_student(browser, url))
        for s in students:
            assert len(s["answered"]) == 1 and s["answered"] <= served["backends"], s["answered"]
        assert set().union(*(s["answered"] for s in students)) == served["backends"]
        assert len({s["route"] for s in students}) == len(students)  # a fresh route per browser
    finally:
        for s in students:
            s["context"].close()
        browser.close()

    deadline = time.time() + 15
    while not all(s["route"] in _stream_log(served["dir"]) for s in students) and time.time() < deadline:
        time.sleep(0.3)
    streams = _stream_log(served["dir"])
    for s in students:  # both websockets of each tab (before and after reload) went where its HTTP went
        assert streams.get(s["route"]) == s["answered"], (s["route"], streams.get(s["route"]), s["answered"])
    # The pages used the model each process loaded before /healthz said ok: no process loaded it twice.
    assert len(re.findall(r"Loading weights: 100%", served["log"].read_text())) <= 2


def test_sigterm_stops_everything(served):
    proc = served["proc"]
    os.kill(proc.pid, signal.SIGTERM)  # what `docker stop` sends to the image's `make serve`
    proc.wait(timeout=60)
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no process of the group is left: not nginx, not an app process
    assert _get(f"{served['url']}/healthz")[0] == 0
    for backend in served["backends"]:
        assert _get(f"http://{backend}/healthz")[0] == 0
