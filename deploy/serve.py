"""`make serve`: K app processes, each with its own copy of the bundled model, behind nginx with sticky sessions.

    python deploy/serve.py [--processes K] [--port 8080] [--host 0.0.0.0]   (or PROCESSES=, PORT=, BIND= in the env)

Starts K Streamlit processes (deploy/app_process.py) on free loopback ports with the hosted settings, waits until
each one's /healthz says its model is loaded, then runs nginx in the foreground on BIND:PORT. If any process
exits, or on Ctrl-C / SIGTERM, everything is stopped. nginx's config and logs go to SERVE_DIR (default: a new
temporary folder); no system file is touched.

Several machines behind one link (README, "One link across several machines"):
    app machine:  python deploy/serve.py --apps-only --app-address 10.0.0.5 --app-port 8501 --processes 2
    front:        python deploy/serve.py --processes 0 --upstream 10.0.0.5:8501,10.0.0.5:8502,10.0.0.6:8501,...
(or APPS_ONLY=1, APP_ADDRESS=, APP_PORT=, UPSTREAMS= in the env). Every machine needs the same
LLMX_GAME_STORE=redis://… and STREAMLIT_SERVER_COOKIE_SECRET.
"""

from __future__ import annotations

import argparse
import os
import re
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from deploy.limits import Limits  # noqa: E402
from lib.hosting import usable_cores  # noqa: E402

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
UPLOAD_MB = 20  # nginx's client_max_body_size is the same: Streamlit compares the whole body with it too
MESSAGE_MB = 50
WIDGET_STATE_MB = 25  # Streamlit's default, made explicit: it closes the websocket on a bigger client message
READY_TIMEOUT_S = 300
HEALTH_EVERY_S = 5  # the front asks each app process on another machine for /healthz this often
HEALTH_FAILS = 2  # failed answers in a row before it is out of rotation

# What the production entry turns on, on top of .streamlit/config.toml.
HOSTED_FLAGS = [
    "--server.headless=true",
    "--server.fileWatcherType=none",
    "--server.runOnSave=false",
    "--client.toolbarMode=minimal",  # no Deploy button or developer menu for students
    "--client.showErrorDetails=none",  # no tracebacks or server paths in the browser
    f"--server.maxUploadSize={UPLOAD_MB}",
    f"--server.maxMessageSize={MESSAGE_MB}",  # what the server sends; a browser's messages stop at 25 MB:
    f"--server.maxWidgetStateSize={WIDGET_STATE_MB}",
    "--browser.gatherUsageStats=false",
]


def default_processes() -> int:
    return max(2, usable_cores())


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def nginx_binary() -> str:
    found = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        sys.exit("nginx is not installed (Debian/Ubuntu: apt-get install nginx)")
    return found


def nginx_rate(per_second: float) -> str:
    """limit_req's rate: whole requests per second, or per minute below one a second."""
    return f"{per_second:g}r/s" if per_second >= 1 and per_second == int(per_second) else f"{max(1, round(per_second * 60))}r/m"


def render_nginx_conf(upstreams: list[str], host: str, port: int, run_dir: Path, limits: Limits | None = None,
                      down: frozenset[str] = frozenset()) -> str:
    """upstreams: "address:port" of every app process, here or on other machines; `down`: left out of rotation
    (its browsers go to the others until it is back; every other browser stays where it is)."""
    # max_fails=3: an upload the app refuses before reading it resets the connection, which nginx counts as a
    # failure; one such request must not move every browser on that process.
    def server(u: str, backup: bool = False) -> str:
        flags = (" down" if u in down else "") + (" backup" if backup else "")
        return f"        server {u} max_fails=3 fail_timeout=10s{flags};"

    servers = "\n".join(server(u) for u in upstreams)
    numbers = [f"{i:02x}" for i in range(len(upstreams))]
    pinned = "\n".join(f'        "~^{n}[0-9a-f]{{30}}$" llmx_pin_{n};' for n in numbers)
    route_numbers = "\n".join(f'        "~(^|, ){re.escape(a)}$" {n};' for n, u in zip(numbers, upstreams)
                              for a in answering_addresses(u))
    groups = "\n".join(f"    upstream llmx_pin_{n} {{\n"
                       + "\n".join([server(u), *(server(o, backup=True) for o in upstreams if o != u)]) + "\n    }"
                       for n, u in zip(numbers, upstreams))
    limits = limits or Limits()
    delay = f" delay={limits.nodelay}" if limits.nodelay else ""  # nginx refuses delay=0: no delay= means that
    session_limit = (f"limit_req zone=llmx_sessions burst={limits.burst}{delay};"
                     if limits.rate else "# no session limit (LLMX_SESSIONS_PER_SECOND=0)")
    connection_limit = (f"limit_conn llmx_connections {limits.connections};" if limits.connections
                        else "# no connection cap (LLMX_CONNECTIONS_PER_ADDRESS=0)")
    fields = {"SERVERS": servers, "PINNED": pinned, "ROUTE_NUMBERS": route_numbers, "PINNED_GROUPS": groups,
              "HOST": host, "PORT": str(port), "RUN_DIR": str(run_dir),
              "UPLOAD_MB": str(UPLOAD_MB), "NGINX_RATE": nginx_rate(limits.rate or 1),
              "SESSION_BURST": str(limits.burst),
              "SESSION_LIMIT": session_limit, "CONNECTION_LIMIT": connection_limit}
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(f"@{name}@", value)
    return text


def answering_addresses(upstream: str) -> list[str]:
    """How nginx names `upstream` in $upstream_addr: as written, and for a host name each address it resolves to
    (nginx resolves names when it loads its config)."""
    host, _, port = upstream.rpartition(":")
    try:
        found = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        return [upstream]
    named = (f"[{a[4][0]}]:{port}" if a[0] == socket.AF_INET6 else f"{a[4][0]}:{port}" for a in found)
    return list(dict.fromkeys([upstream, *named]))


def app_command(address: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "deploy" / "app_process.py"),
            f"--server.port={port}", f"--server.address={address}", *HOSTED_FLAGS]


def healthz(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as r:
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


def wait_ready(procs: list[subprocess.Popen], addresses: list[str]) -> None:
    """Until every local app process ("address:port") says its model is loaded; exit if one fails or dies."""
    pending = set(addresses)
    deadline = time.time() + READY_TIMEOUT_S
    while pending:
        for proc, where in zip(procs, addresses):
            if proc.poll() is not None:
                raise SystemExit(f"app process on {where} exited with code {proc.returncode} before it was ready")
            if where in pending:
                status, text = healthz(f"http://{where}")
                if status == 200:
                    pending.discard(where)
                    print(f"serve: app process on {where}: {text}", flush=True)
                elif status == 503 and text.startswith("model failed"):
                    raise SystemExit(f"app process on {where}: {text}")
        if time.time() > deadline:
            raise SystemExit(f"app processes on {sorted(pending)} not ready after {READY_TIMEOUT_S} s")
        time.sleep(0.5)


def wait_any_remote(upstreams: list[str]) -> None:
    """A front with no process of its own starts once one app process elsewhere is ready; it lists the others."""
    deadline = time.time() + READY_TIMEOUT_S
    while True:
        answers = {u: healthz(f"http://{u}") for u in upstreams}
        if any(status == 200 for status, _ in answers.values()) or time.time() > deadline:
            break
        time.sleep(1)
    for where, (status, text) in answers.items():
        print(f"serve: app process on {where}: {text if status else 'not answering'}", flush=True)
    if not any(status == 200 for status, _ in answers.values()):
        raise SystemExit(f"no app process in --upstream was ready after {READY_TIMEOUT_S} s")


def upstream_list(text: str) -> list[str]:
    """"host:port,host:port" (commas or spaces) -> a checked list."""
    out = []
    for item in text.replace(",", " ").split():
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c in host for c in "/;{} "):
            raise argparse.ArgumentTypeError(f"{item!r} is not host:port")
        out.append(item)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # String defaults go through `type` too, so a bad PROCESSES= or PORT= gets argparse's one-line message.
    ap.add_argument("--processes", type=int, default=env.get("PROCESSES") or str(default_processes()))
    ap.add_argument("--port", type=int, default=env.get("PORT") or "8080")
    ap.add_argument("--host", default=env.get("BIND") or "0.0.0.0", help="nginx's listen address")
    ap.add_argument("--upstream", type=upstream_list, action="extend", default=[],
                    help="app processes on other machines, host:port[,host:port…] (env UPSTREAMS)")
    ap.add_argument("--apps-only", action="store_true", default=env.get("APPS_ONLY", "") not in ("", "0"),
                    help="an app machine: start the app processes, no nginx (env APPS_ONLY=1)")
    ap.add_argument("--app-address", default=env.get("APP_ADDRESS") or "127.0.0.1",
                    help="address the app processes listen on (env APP_ADDRESS)")
    ap.add_argument("--app-port", type=int, default=env.get("APP_PORT") or "0",
                    help="first port of the app processes, then the next ones (env APP_PORT; default: free ports)")
    args = ap.parse_args(argv)
    if env.get("UPSTREAMS") and not args.upstream:
        try:
            args.upstream = upstream_list(env["UPSTREAMS"])
        except argparse.ArgumentTypeError as exc:
            ap.error(f"UPSTREAMS: {exc}")
    check_args(ap, args)
    return args


def check_args(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.processes < (0 if args.upstream and not args.apps_only else 1):
        ap.error("--processes must be at least 1 (0 only for a front with --upstream)")
    if args.apps_only and args.upstream:
        ap.error("--apps-only starts no nginx, so --upstream means nothing there")
    try:
        args.limits = Limits.from_env()
    except ValueError as exc:
        ap.error(str(exc))
    if args.apps_only and not args.app_address.startswith("127.") and not os.environ.get("LLMX_TRUSTED_PROXIES"):
        print("serve: warning: LLMX_TRUSTED_PROXIES is unset, so the session limits count every student behind the "
              "front as the front's one address; set it to the front's address", file=sys.stderr, flush=True)
    if args.upstream or args.apps_only:  # several machines: they must share the game and the cookie secret
        if not os.environ.get("LLMX_GAME_STORE", "").startswith("redis://"):
            ap.error("several machines share one game store: set LLMX_GAME_STORE=redis://host:6379/0 on every one")
        if args.processes and not os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET"):
            ap.error("several machines: set the same STREAMLIT_SERVER_COOKIE_SECRET on every one")


def start_apps(args: argparse.Namespace) -> tuple[list[subprocess.Popen], list[str]]:
    env = {**os.environ, "LLMX_HOSTED": "1", "PYTHONUNBUFFERED": "1"}
    # One cookie secret for all processes (Streamlit's default is random per process), passed in the environment,
    # not on the command line, so that no process list shows it.
    env.setdefault("STREAMLIT_SERVER_COOKIE_SECRET", secrets.token_hex(32))
    # Each process's generation loop runs its steps on this many threads (lib.models.batching): its share of the cores.
    env.setdefault("LLMX_GENERATION_WORKERS", str(max(1, usable_cores() // max(1, args.processes))))
    ports = ([args.app_port + i for i in range(args.processes)] if args.app_port
             else [free_port(args.app_address) for _ in range(args.processes)])
    addresses = [f"{args.app_address}:{p}" for p in ports]
    procs = [subprocess.Popen(app_command(args.app_address, p), cwd=ROOT, env=env) for p in ports]
    return procs, addresses


def supervise(procs: list[subprocess.Popen], every_few_seconds=None) -> int:
    """Until a process exits (then 1: a container or systemd restarts the set) or a signal stops us."""
    next_check = time.time()
    while True:
        for p in procs:
            if p.poll() is not None:
                print(f"serve: {' '.join(map(str, p.args[:5]))}… exited with code {p.returncode}; stopping",
                      file=sys.stderr, flush=True)
                return 1
        if every_few_seconds and time.time() >= next_check:
            every_few_seconds()
            next_check = time.time() + HEALTH_EVERY_S
        time.sleep(0.5)


class Front:
    """nginx in front of every app process, with an active health check of the ones on other machines.

    nginx (open source) checks only passively, when a request fails. Here each --upstream's /healthz is asked every
    HEALTH_EVERY_S seconds; after HEALTH_FAILS failures in a row (no answer, or not 200: e.g. its model failed to
    load) it is marked `down` and nginx reloads its config; once it answers 200 again it is back. Local processes
    need no such check: if one exits, `make serve` stops everything."""

    def __init__(self, args: argparse.Namespace, local: list[str]):
        self.args, self.upstreams, self.remote = args, local + args.upstream, list(args.upstream)
        self.run_dir = Path(os.environ.get("SERVE_DIR") or tempfile.mkdtemp(prefix="llmx-serve-")).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.run_dir / "nginx.conf"
        self.fails = {u: 0 for u in self.remote}
        self.down: frozenset[str] = frozenset()
        self.proc: subprocess.Popen | None = None

    def write(self) -> None:
        self.conf.write_text(render_nginx_conf(self.upstreams, self.args.host, self.args.port, self.run_dir,
                                               self.args.limits, self.down))

    def start(self) -> subprocess.Popen:
        self.write()
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.run_dir), "-c", str(self.conf), "-e", "stderr"],
                                     cwd=self.run_dir)
        shown = "localhost" if self.args.host in ("0.0.0.0", "::") else self.args.host
        print(f"serve: LLM Explainer on http://{shown}:{self.args.port} ({len(self.upstreams)} app processes behind "
              f"nginx; health: /healthz; logs: {self.run_dir})", flush=True)
        return self.proc

    def check(self) -> None:
        with ThreadPoolExecutor(max(1, len(self.remote))) as pool:
            answers = dict(zip(self.remote, pool.map(lambda u: healthz(f"http://{u}", timeout=3), self.remote)))
        for u, (status, _) in answers.items():
            self.fails[u] = 0 if status == 200 else self.fails[u] + 1
        down = frozenset(u for u in self.remote if self.fails[u] >= HEALTH_FAILS)
        if down == self.down or set(down) >= set(self.upstreams):  # never all: nginx then says it is restarting
            return
        for u in sorted(down - self.down):
            status, text = answers[u]
            print(f"serve: {u} out of rotation (/healthz: {text[:80] if status else 'no answer'})", flush=True)
        for u in sorted(self.down - down):
            print(f"serve: {u} back in rotation", flush=True)
        self.down = down
        self.write()
        self.proc.send_signal(signal.SIGHUP)  # nginx reloads; open websockets stay with the old workers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.apps_only:
        nginx_binary()  # fail before starting anything
    procs: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        procs, addresses = start_apps(args)
        wait_ready(procs, addresses)
        if args.apps_only:
            print(f"serve: app processes ready on {', '.join(addresses)} (no nginx here: --apps-only)", flush=True)
        else:
            if args.upstream and not procs:
                wait_any_remote(args.upstream)
            front = Front(args, addresses)
            procs.append(front.start())
            return supervise(procs, front.check if args.upstream else None)
        return supervise(procs)
    except Stop as why:
        print(f"serve: {why}, stopping", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_all(procs)


if __name__ == "__main__":
    sys.exit(main())
