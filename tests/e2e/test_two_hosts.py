"""One link across two machines: `deploy/serve.py --apps-only` on two "hosts" (loopback addresses 127.0.0.2 and
127.0.0.3, one app process each), a front (`--processes 0 --upstream …`) running nginx, and one redis-server that
both hosts use as the game store. Real browsers play a round through the front with the lecturer on one host and
the student on the other; then one host dies and new page loads still work.

Which host answered is read from nginx's X-LLMX-Backend header and from its access log (for websockets).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT, need_shared
from tests.e2e.conftest import CHROMIUM_FLAGS, chromium_path, no_exception, open_page, wait_idle
from tests.e2e.test_game import start_round
from tests.e2e.test_nginx_front import request
from tests.unit.test_deploy import nginx_or_skip

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

HOSTS = ("127.0.0.2", "127.0.0.3")
CLASS_HOST = "class.test"  # not 127.0.0.1, which Streamlit trusts whatever the headers say


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def redis_server(tmp: Path):
    exe = shutil.which("redis-server")
    if exe is None:
        if IN_CI:
            pytest.fail("redis-server is not installed; .ci/run must apt-get install redis-server")
        pytest.skip("redis-server is not installed")
    port = free_port("127.0.0.1")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return proc, f"redis://127.0.0.1:{port}/0"


def launch(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "deploy/serve.py", *args], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(port: int, address: str, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.time() + 240
    while True:
        try:
            if request(port, "GET", "/healthz", source="127.0.0.1", host=address)[0] == 200:
                return
        except OSError:
            pass
        for p, log in zip(procs, logs):
            assert p.poll() is None, f"{p.args} exited:\n{log.read_text()[-3000:]}"
        assert time.time() < deadline, "\n".join(log.read_text()[-2000:] for log in logs)
        time.sleep(0.5)


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    need_shared()
    nginx_or_skip()
    tmp = tmp_path_factory.mktemp("two-hosts")
    redis_proc, store = redis_server(tmp)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "LLMX_GAME_STORE": store,
           "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32), "SERVE_DIR": str(tmp / "front")}
    apps = {h: free_port(h) for h in HOSTS}
    procs, logs = [], []
    try:
        for h, p in apps.items():
            logs.append(tmp / f"host-{h}.log")
            procs.append(launch(["--apps-only", "--app-address", h, "--app-port", str(p), "--processes", "1"],
                                env, logs[-1]))
        for (h, p) in apps.items():
            wait_healthy(p, h, procs, logs)
        front_port = free_port("127.0.0.1")
        logs.append(tmp / "front.log")
        upstreams = ",".join(f"{h}:{p}" for h, p in apps.items())
        procs.append(launch(["--processes", "0", "--upstream", upstreams, "--port", str(front_port),
                             "--host", "127.0.0.1"], env, logs[-1]))
        wait_healthy(front_port, "127.0.0.1", procs, logs)
        yield {"port": front_port, "url": f"http://{CLASS_HOST}:{front_port}", "hosts": procs,
               "backends": [f"{h}:{p}" for h, p in apps.items()], "dir": tmp / "front", "env": env,
               "front_log": logs[2], "tmp": tmp, "apps": apps}
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        redis_proc.terminate()
        redis_proc.wait(timeout=10)


def route_to(port: int, backend: str) -> str:
    """The route cookie the front gives a new browser it sends to `backend`."""
    for _ in range(64):
        status, headers, _ = request(port, "GET", "/")
        if status == 200 and headers.get("X-LLMX-Backend") == backend:
            return headers["Set-Cookie"].split(";")[0].removeprefix("llmx_route=")
    raise AssertionError(f"no new browser was sent to {backend}")


@pytest.fixture(scope="module")
def chromium(playwright):
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                         args=[*CHROMIUM_FLAGS, f"--host-resolver-rules=MAP {CLASS_HOST} 127.0.0.1"])
    yield browser
    browser.close()


def browser_on(chromium, front: dict, backend: str, width=1280, height=900):
    """A fresh browser whose route cookie sends it to `backend`; it records which backend answered each response."""
    context = chromium.new_context(viewport={"width": width, "height": height})
    context.add_cookies([{"name": "llmx_route", "value": route_to(front["port"], backend), "url": front["url"]}])
    context.answered = []
    context.on("response", lambda r: context.answered.append(r.headers.get("x-llmx-backend")))
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def stream_upstreams(run_dir: Path, route: str) -> set[str]:
    lines = (run_dir / "access.log").read_text().splitlines()
    return {m[1] for line in lines if (m := re.search(rf"route={route} upstream=(\S+) status=\d+ \"GET /_stcore/stream",
                                                      line))}


def test_a_round_with_the_lecturer_on_one_host_and_a_student_on_the_other(two_hosts, chromium):
    a, b = two_hosts["backends"]
    lecturer = browser_on(chromium, two_hosts, a, 1600, 1000)
    student = browser_on(chromium, two_hosts, b, 390, 844)
    open_page(lecturer, f"{two_hosts['url']}/game")
    round_id = start_round(lecturer).rsplit("=", 1)[1]
    open_page(student, f"{two_hosts['url']}/play?round={round_id}")
    student.get_by_label("Your guess (one word)").fill("wife")
    student.get_by_role("button", name="Send my guess").click()
    student.locator(".play-received").filter(has_text="wife").wait_for()
    # The guess went into host B's process; the lecturer's histogram on host A shows it (one Redis store).
    lecturer.locator('table.gh tr[data-word="wife"][data-count="1"]').wait_for(timeout=30_000)
    no_exception(lecturer)
    no_exception(student)
    assert {x for x in lecturer.context.answered if x} == {a}
    assert {x for x in student.context.answered if x} == {b}
    routes = {c["value"]: who for who, page in ((a, lecturer), (b, student))
              for c in page.context.cookies() if c["name"] == "llmx_route"}
    lecturer.context.close()
    student.context.close()
    deadline = time.time() + 15  # nginx logs a websocket when it closes
    while time.time() < deadline and not all(stream_upstreams(two_hosts["dir"], r) for r in routes):
        time.sleep(0.3)
    for route, who in routes.items():  # each browser's websocket went to its own host
        assert stream_upstreams(two_hosts["dir"], route) == {who}


def wait_for_log(log: Path, text: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while text not in log.read_text():
        assert time.time() < deadline, f"{text!r} not in the front's log:\n{log.read_text()[-2000:]}"
        time.sleep(0.5)


def test_a_host_that_dies_is_taken_out_of_rotation(two_hosts, chromium):
    a, b = two_hosts["backends"]
    stranded = browser_on(chromium, two_hosts, a)  # its route hashes to host A
    os.killpg(two_hosts["hosts"][0].pid, signal.SIGKILL)  # host A goes away without a word
    two_hosts["hosts"][0].wait(timeout=30)
    for _ in range(10):  # fresh visitors: every page load is answered by host B
        status, headers, _ = request(two_hosts["port"], "GET", "/")
        assert status == 200 and headers["X-LLMX-Backend"].split(", ")[-1] == b
    status, headers, body = request(two_hosts["port"], "GET", "/healthz")
    assert status == 200 and "pocket-lm loaded" in body
    # The student whose host died opens a page: its page and websocket run on host B.
    open_page(stranded, f"{two_hosts['url']}/sampling")
    wait_idle(stranded)
    no_exception(stranded)
    assert stranded.locator("[data-testid=stSlider]").count() > 0
    assert {x.split(", ")[-1] for x in stranded.context.answered if x} == {b}
    stranded.context.close()
    # The front's active check notices too, and marks host A down in nginx's config.
    wait_for_log(two_hosts["front_log"], f"serve: {a} out of rotation (/healthz: no answer)")
    assert f"server {a} max_fails=3 fail_timeout=10s down;" in (two_hosts["dir"] / "nginx.conf").read_text()


def test_a_host_that_comes_back_is_back_in_rotation(two_hosts):
    a, _ = two_hosts["backends"]
    host, port = a.split(":")
    log = two_hosts["tmp"] / "host-again.log"
    two_hosts["hosts"].append(launch(["--apps-only", "--app-address", host, "--app-port", port, "--processes", "1"],
                                     two_hosts["env"], log))
    wait_healthy(int(port), host, two_hosts["hosts"][-1:], [log])
    wait_for_log(two_hosts["front_log"], f"serve: {a} back in rotation")
    assert route_to(two_hosts["port"], a)  # some browsers are sent to host A again
