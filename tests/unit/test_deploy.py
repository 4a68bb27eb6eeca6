"""`make serve`'s pieces without a browser: the generated nginx config, the readiness answers, the image's command."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, need_program

sys.path.insert(0, str(ROOT / "deploy"))
import serve  # deploy/serve.py, the launcher
from deploy.limits import Limits, SessionGate, client_address, trusted_networks


def nginx_or_skip() -> str:
    return need_program("nginx", "/usr/sbin/nginx", ".ci/run must apt-get install nginx")


@pytest.mark.parametrize("limits", [Limits(), Limits(rate=0.5, burst=3, nodelay=0, connections=0), Limits(rate=0)])
def test_generated_nginx_config_is_valid(tmp_path, limits):
    nginx = nginx_or_skip()
    conf = tmp_path / "nginx.conf"
    upstreams = ["127.0.0.1:50001", "127.0.0.2:50002", "app-2.example:8501"]
    conf.write_text(serve.render_nginx_conf(upstreams, "127.0.0.1", 50000, tmp_path, limits))
    text = conf.read_text()
    assert not re.search(r"@[A-Z_]+@", text)  # every template field was filled
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                          capture_output=True, text=True)
    if "host not found" in done.stderr:  # no DNS here: check the rest with the name replaced
        conf.write_text(text.replace("app-2.example", "127.0.0.3"))
        done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                              capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for u in upstreams:  # in the pool for new browsers, the health pool and its own browsers' group, first; a
        # backup in the others' groups; each with a passive health check
        assert text.count(f"server {u} max_fails=3 fail_timeout=10s;") == 3
        assert text.count(f"server {u} max_fails=3 fail_timeout=10s backup;") == len(upstreams) - 1
    assert ("limit_req zone=llmx_sessions" in text) == bool(limits.rate)
    assert ("limit_conn llmx_connections" in text) == bool(limits.connections)


@pytest.mark.parametrize("per_second, expected", [(10, "10r/s"), (1, "1r/s"), (0.5, "30r/m"), (2.5, "150r/m")])
def test_nginx_rate_spelling(per_second, expected):
    assert serve.nginx_rate(per_second) == expected


def test_healthz_is_503_until_the_model_is_loaded():
    """Run in a child: importing the module builds an st.App, which sets process-wide Streamlit config."""
    code = """
import asyncio, json, sys
sys.path.insert(0, "deploy")
import app_process as a
out = []
def ask():
    r = asyncio.run(a.healthz(None))
    out.append([r.status_code, r.body.decode()])
ask()
a.READY["error"] = "OSError"; ask()
a.READY.update(model="pocket-lm", error=None); ask()
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loading, failed, ready = json.loads(done.stdout.strip().splitlines()[-1])
    assert loading == [503, "loading the model\n"]
    assert failed == [503, "model failed to load: OSError\n"]
    assert ready == [200, "ok: pocket-lm loaded\n"]


def test_the_image_runs_make_serve_which_runs_the_launcher():
    cmd = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD")]
    assert cmd == ['CMD ["make", "serve"]']
    dry = subprocess.run(["make", "--no-print-directory", "-n", "-o", ".venv/.ready", "serve", "PROCESSES=3"], cwd=ROOT,
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1].split()[2:] == ["deploy/serve.py", "--processes", "3"]


REDIS = {"LLMX_GAME_STORE": "redis://127.0.0.1:6379/0", "STREAMLIT_SERVER_COOKIE_SECRET": "s"}


@pytest.mark.parametrize("env, says", [
    ({"PROCESSES": "abc"}, "invalid int"), ({"PROCESSES": "0"}, "at least 1"), ({"PORT": "http"}, "invalid int"),
    ({"UPSTREAMS": "10.0.0.5"}, "not host:port"), ({"UPSTREAMS": "10.0.0.5:8501;evil"}, "not host:port"),
    ({"PROCESSES": "0", "APPS_ONLY": "1", **REDIS}, "at least 1"),
    ({"PROCESSES": "0", "UPSTREAMS": "10.0.0.5:8501"}, "LLMX_GAME_STORE=redis://"),
    ({"APPS_ONLY": "1", "LLMX_GAME_STORE": "/tmp/game.sqlite3"}, "LLMX_GAME_STORE=redis://"),
    ({"APPS_ONLY": "1", "LLMX_GAME_STORE": "redis://h:6379/0"}, "STREAMLIT_SERVER_COOKIE_SECRET"),
    ({"LLMX_SESSIONS_PER_SECOND": "lots"}, "LLMX_SESSIONS_PER_SECOND must be a number"),
    ({"LLMX_SESSION_BURST": "-1"}, "LLMX_SESSION_BURST must be 0 or more"),
])
def test_bad_settings_get_one_line_not_a_traceback(env, says):
    done = subprocess.run([sys.executable, "deploy/serve.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **env})
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr and last.startswith("serve.py: error:") and says in last, last


def test_a_class_behind_one_address_gets_in():
    """100 students opening the link within 10 s, evenly or all in the same instant, from one NAT address."""
    even, at_once = SessionGate(Limits()), SessionGate(Limits())
    waits = [even.admit("203.0.113.7", now=i * 0.1) for i in range(100)]
    assert all(w == 0 for w in waits)
    waits = [at_once.admit("203.0.113.7", now=0.0) for _ in range(100)]
    assert None not in waits and max(waits) <= 10  # all in, the last within 10 s
    assert waits[0] == 0 and waits[1] > 0  # the first goes straight in, the others at the rate


def test_a_script_opening_300_sessions_at_once_is_paced_then_refused():
    gate = SessionGate(Limits())
    waits = [gate.admit("198.51.100.9", now=0.0) for _ in range(300)]
    admitted = [w for w in waits if w is not None]
    assert len(admitted) == 1 + 100  # one at the rate, the burst waiting; 199 refused
    assert gate.admit("192.0.2.1", now=0.0) == 0  # another student is not held up by that address
    assert gate.admit("198.51.100.9", now=10.2) is not None  # once the queue has drained, the address is back


def test_open_connections_are_capped_per_address():
    gate = SessionGate(Limits(rate=0, connections=2))
    for _ in range(2):
        assert gate.admit("a", now=0) == 0
        gate.opened("a")
    assert gate.admit("a", now=0) is None and gate.admit("b", now=0) == 0
    gate.closed("a")
    assert gate.admit("a", now=0) == 0


def test_the_forwarded_address_is_believed_only_from_a_trusted_proxy():
    trusted = trusted_networks({"LLMX_TRUSTED_PROXIES": "10.0.0.0/24"})
    assert client_address("127.0.0.1", "203.0.113.7", trusted) == "203.0.113.7"  # nginx on this machine
    assert client_address("10.0.0.4", "203.0.113.7", trusted) == "203.0.113.7"  # nginx on the front machine
    assert client_address("198.51.100.9", "203.0.113.7", trusted) == "198.51.100.9"  # a student forging it
    assert client_address("127.0.0.1", "not-an-ip", trusted) == "127.0.0.1"
    # A cloud load balancer (trusted) sets X-Forwarded-For only: the rightmost address it did not add itself.
    assert client_address("10.0.0.9", None, trusted, "198.51.100.1, 203.0.113.7, 10.0.0.3") == "203.0.113.7"
    assert client_address("10.0.0.9", None, trusted, "garbage") == "10.0.0.9"
    assert client_address("198.51.100.9", None, trusted, "203.0.113.7") == "198.51.100.9"
    with pytest.raises(ValueError, match="LLMX_TRUSTED_PROXIES"):
        trusted_networks({"LLMX_TRUSTED_PROXIES": "office"})


class FakeNginx:
    def __init__(self):
        self.signals = []

    def send_signal(self, sig):
        self.signals.append(sig)


def test_the_front_takes_a_failing_machine_out_of_rotation_and_back(tmp_path, monkeypatch):
    import signal as signals

    monkeypatch.setenv("SERVE_DIR", str(tmp_path))
    monkeypatch.setenv("LLMX_GAME_STORE", "redis://127.0.0.1:6379/0")
    args = serve.parse_args(["--processes", "0", "--upstream", "10.0.0.5:8501,10.0.0.6:8501", "--port", "50000"])
    answers = {"10.0.0.5:8501": (200, "ok: pocket-lm loaded"), "10.0.0.6:8501": (200, "ok: pocket-lm loaded")}
    monkeypatch.setattr(serve, "healthz", lambda url, timeout=5: answers[url.removeprefix("http://")])
    front = serve.Front(args, [])
    front.write()
    front.proc = FakeNginx()

    def servers():
        return sorted(set(re.findall(r"server (\S+) max_fails=3 fail_timeout=10s( down)?;", front.conf.read_text())))

    front.check()
    assert servers() == [("10.0.0.5:8501", ""), ("10.0.0.6:8501", "")] and front.proc.signals == []
    answers["10.0.0.6:8501"] = (0, "connection refused")
    front.check()  # one failed answer is not enough
    assert front.proc.signals == []
    front.check()
    assert servers() == [("10.0.0.5:8501", ""), ("10.0.0.6:8501", " down")]
    assert front.proc.signals == [signals.SIGHUP]  # nginx reloads the new config
    answers["10.0.0.5:8501"] = (503, "model failed to load: OSError")
    front.check()
    front.check()  # both failing: never all out of rotation (nginx then answers "restarting" by itself)
    assert servers() == [("10.0.0.5:8501", ""), ("10.0.0.6:8501", " down")] and len(front.proc.signals) == 1
    answers.update({u: (200, "ok: pocket-lm loaded") for u in answers})
    front.check()
    assert servers() == [("10.0.0.5:8501", ""), ("10.0.0.6:8501", "")] and len(front.proc.signals) == 2


def test_each_app_process_paces_and_refuses_websocket_opens_per_address():
    """The ASGI middleware deploy/app_process.py puts in front of Streamlit, driven directly (in a child, as above)."""
    code = """
import asyncio, json, sys
sys.path.insert(0, "deploy")
import app_process as a
from deploy.limits import Limits
reached, refused = [], []
async def streamlit(scope, receive, send):
    reached.append((scope["path"], dict(scope["headers"])[b"x-real-ip"].decode()))
async def send(message):
    refused.append(message)
gate = a.SessionLimit(streamlit, Limits(rate=1, burst=2, nodelay=0, connections=0))
def scope(ip, kind="websocket", path="/_stcore/stream"):
    return {"type": kind, "path": path, "client": ("127.0.0.1", 40000), "headers": [(b"x-real-ip", ip.encode())]}
async def main():
    await asyncio.gather(*(gate(scope("203.0.113.7"), None, send) for _ in range(5)),
                         gate(scope("198.51.100.1"), None, send), gate(scope("203.0.113.7", "http", "/"), None, send))
asyncio.run(main())
print(json.dumps({"reached": reached, "refused": refused}))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # One at once and two waiting (rate 1, burst 2) from the flooding address; two refused; others untouched.
    assert sorted(map(tuple, out["reached"])) == sorted([("/_stcore/stream", "203.0.113.7")] * 3 + [
        ("/_stcore/stream", "198.51.100.1"), ("/", "203.0.113.7")])
    assert out["refused"] == [{"type": "websocket.close", "code": 1013}] * 2
