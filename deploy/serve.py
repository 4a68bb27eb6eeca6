"""`make serve`: K app processes, each with its own copy of the bundled model, behind nginx with sticky sessions.

    python deploy/serve.py [--processes K] [--port 8080] [--host 0.0.0.0]   (or PROCESSES=, PORT=, BIND= in the env)

Starts K Streamlit processes (deploy/app_process.py) on free loopback ports with the hosted settings, waits until
each one's /healthz says its model is loaded, then runs nginx in the foreground on BIND:PORT. If any process
exits, or on Ctrl-C / SIGTERM, everything is stopped. nginx's config and logs go to SERVE_DIR (default: a new
temporary folder); no system file is touched.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
UPLOAD_MB = 20
MESSAGE_MB = 50
READY_TIMEOUT_S = 300

# What the production entry turns on, on top of .streamlit/config.toml.
HOSTED_FLAGS = [
    "--server.headless=true",
    "--server.fileWatcherType=none",
    "--server.runOnSave=false",
    "--client.toolbarMode=minimal",  # no Deploy button or developer menu for students
    "--client.showErrorDetails=none",  # no tracebacks or server paths in the browser
    f"--server.maxUploadSize={UPLOAD_MB}",
    f"--server.maxMessageSize={MESSAGE_MB}",
    "--browser.gatherUsageStats=false",
]


def cores() -> int:
    """Cores this process may use: CPU affinity, and a container's CPU quota (cgroup v2) when there is one."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return n


def default_processes() -> int:
    return max(2, cores())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary() -> str:
    found = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        sys.exit("nginx is not installed (Debian/Ubuntu: apt-get install nginx)")
    return found


def render_nginx_conf(ports: list[int], host: str, port: int, run_dir: Path) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
    fields = {"SERVERS": servers, "HOST": host, "PORT": str(port), "RUN_DIR": str(run_dir),
              "UPLOAD_MB": str(UPLOAD_MB + 1)}  # a little above Streamlit's own limit, which gives the clear message
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(f"@{name}@", value)
    return text


def app_command(port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "deploy" / "app_process.py"),
            f"--server.port={port}", "--server.address=127.0.0.1", *HOSTED_FLAGS]


def healthz(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as r:
            return r.status, r.read().decode(errors="replace").strip()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace").strip()
    except OSError as exc:
        return 0, str(exc)


class Stop(Exception):
    """A signal asked us to stop."""


def _on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + 20
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_ready(procs: list[subprocess.Popen], ports: list[int]) -> None:
    pending = set(ports)
    deadline = time.time() + READY_TIMEOUT_S
    while pending:
        for proc, port in zip(procs, ports):
            if proc.poll() is not None:
                raise SystemExit(f"app process on port {port} exited with code {proc.returncode} before it was ready")
            if port in pending:
                status, text = healthz(f"http://127.0.0.1:{port}")
                if status == 200:
                    pending.discard(port)
                    print(f"serve: app process on 127.0.0.1:{port}: {text}", flush=True)
                elif status == 503 and text.startswith("model failed"):
                    raise SystemExit(f"app process on port {port}: {text}")
        if time.time() > deadline:
            raise SystemExit(f"app processes on ports {sorted(pending)} not ready after {READY_TIMEOUT_S} s")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # String defaults go through `type` too, so a bad PROCESSES= or PORT= gets argparse's one-line message.
    ap.add_argument("--processes", type=int, default=os.environ.get("PROCESSES") or str(default_processes()))
    ap.add_argument("--port", type=int, default=os.environ.get("PORT") or "8080")
    ap.add_argument("--host", default=os.environ.get("BIND") or "0.0.0.0")
    args = ap.parse_args(argv)
    if args.processes < 1:
        ap.error("--processes must be at least 1")

    run_dir = Path(os.environ.get("SERVE_DIR") or tempfile.mkdtemp(prefix="llmx-serve-")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    nginx = nginx_binary()
    env = {**os.environ, "LLMX_HOSTED": "1", "PYTHONUNBUFFERED": "1"}
    # One cookie secret for all processes (Streamlit's default is random per process), passed in the environment,
    # not on the command line, so that no process list shows it.
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    ports = [free_port() for _ in range(args.processes)]
    procs: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        for port in ports:
            procs.append(subprocess.Popen(app_command(port), cwd=ROOT, env=env))
        wait_ready(procs, ports)
        conf = run_dir / "nginx.conf"
        conf.write_text(render_nginx_conf(ports, args.host, args.port, run_dir))
        procs.append(subprocess.Popen([nginx, "-p", str(run_dir), "-c", str(conf), "-e", "stderr"], cwd=run_dir))
        shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host
        print(f"serve: LLM Explainer on http://{shown}:{args.port} ({args.processes} app processes behind nginx; "
              f"health: /healthz; logs: {run_dir})", flush=True)
        while True:
            for p in procs:
                if p.poll() is not None:
                    print(f"serve: {' '.join(map(str, p.args[:5]))}… exited with code {p.returncode}; stopping",
                          file=sys.stderr, flush=True)
                    return 1
            time.sleep(0.5)
    except Stop as why:
        print(f"serve: {why}, stopping", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
