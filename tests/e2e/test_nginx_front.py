"""The nginx that `make serve` renders, run for real in front of a stub app: limits per client address, the upload
limit's message, the backend header on /healthz, and a dead upstream taken out of rotation.

The stub stands in for the app processes (each answers 200 and names itself), so these tests take seconds; the
real app behind the same config is tests/e2e/test_serve.py and tests/e2e/test_two_hosts.py.
"""

from __future__ import annotations

import http.client
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.conftest import _free_port
from tests.unit.test_deploy import nginx_or_skip, serve
from deploy.limits import Limits

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


class Stub(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            length -= len(self.rfile.read(min(length, 1 << 20)))
        body = f"stub {self.path} from {self.headers.get('X-Real-IP')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args):
        pass


class StubServer(ThreadingHTTPServer):
    request_queue_size = 1024  # nginx opens one upstream connection per request
    daemon_threads = True


def started_stub() -> StubServer:
    server = StubServer(("127.0.0.1", _free_port()), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def address(server: StubServer) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


def started_nginx(upstreams: list[str], run_dir) -> tuple[subprocess.Popen, int]:
    """nginx with `make serve`'s config in front of `upstreams`, once it answers; (its process, its port)."""
    port, conf = _free_port(), run_dir / "nginx.conf"
    conf.write_text(serve.render_nginx_conf(upstreams, "127.0.0.1", port, run_dir, Limits()))
    proc = subprocess.Popen([nginx_or_skip(), "-p", str(run_dir), "-c", str(conf), "-e", "stderr"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            request(port, "GET", "/healthz")
            break
        except OSError:
            threading.Event().wait(0.05)
    return proc, port


@pytest.fixture(scope="module")
def stub():
    server = started_stub()
    yield address(server)
    server.shutdown()


@pytest.fixture(scope="module")
def front(stub, tmp_path_factory):
    """nginx with the stub and one address where nothing listens (a host that died)."""
    dead = f"127.0.0.1:{_free_port()}"
    proc, port = started_nginx([stub, dead], tmp_path_factory.mktemp("nginx-front"))
    yield {"port": port, "stub": stub, "dead": dead}
    proc.terminate()
    proc.wait(timeout=10)


def request(port: int, method: str, path: str, body: bytes | None = None, source: str = "127.0.0.1",
            headers: dict | None = None, host: str = "127.0.0.1") -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection(host, port, timeout=60, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode(errors="replace")
    finally:
        conn.close()


def many_at_once(port: int, n: int, source: str) -> list[int]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: request(port, "GET", "/_stcore/stream", source=source)[0], range(n)))


def test_a_class_of_100_behind_one_address_all_get_in_at_once(front):
    statuses = many_at_once(front["port"], 100, "127.0.0.21")
    assert statuses.count(200) == 100, statuses


def test_300_sessions_at_once_from_one_address_are_mostly_refused_and_others_still_get_in(front):
    statuses = many_at_once(front["port"], 300, "127.0.0.22")
    assert set(statuses) <= {200, 429}
    assert 100 <= statuses.count(200) <= 140, statuses.count(200)  # 1 + burst, plus what drained meanwhile
    status, _, body = request(front["port"], "GET", "/_stcore/stream", source="127.0.0.23")
    assert status == 200 and body.endswith("from 127.0.0.23")  # the app is told the student's own address


def test_an_upload_over_the_limit_gets_one_clear_line(front):
    status, headers, body = request(front["port"], "PUT", "/_stcore/upload_file/s/f", body=b"x" * int(20.5e6 * 1.05))
    assert status == 413 and body == "Too large: uploads are limited to 20 MB.\n", (status, body[:200])
    # 20.5 MB in decimal megabytes is under the 20 MiB both nginx and Streamlit count in: it passes through.
    status, headers, body = request(front["port"], "PUT", "/_stcore/upload_file/s/f", body=b"x" * int(20.5e6))
    assert status == 200 and headers["X-LLMX-Backend"] == front["stub"]


def test_healthz_names_the_backend_that_answered(front):
    status, headers, _ = request(front["port"], "GET", "/healthz")
    assert status == 200 and headers["X-LLMX-Backend"] in (front["stub"], f"{front['dead']}, {front['stub']}")


def test_a_dead_upstream_is_skipped_for_every_route(front):
    """New browsers are sent to either process and the dead one's own browsers to it first: each such request is
    retried on the live one, then the dead one is out of rotation for fail_timeout and nobody tries it."""
    answered = []
    dead_ones = "01" + "0" * 30  # a browser the dead process (the second upstream) took
    for i in range(20):
        cookie = {"Cookie": f"llmx_route={dead_ones}"} if i % 2 else {}
        status, headers, _ = request(front["port"], "GET", "/", headers=cookie)
        assert status == 200
        answered.append(headers["X-LLMX-Backend"])
    assert set(answered[-10:]) == {front["stub"]}


def route_of(headers: dict) -> str | None:
    cookie = headers.get("Set-Cookie", "")
    return cookie.split(";")[0].removeprefix("llmx_route=") if cookie.startswith("llmx_route=") else None


@pytest.fixture(scope="module")
def two_stubs(tmp_path_factory):
    """nginx in front of two live stubs, as `make serve` with two app processes."""
    servers = [started_stub() for _ in range(2)]
    stubs = [address(server) for server in servers]
    proc, port = started_nginx(stubs, tmp_path_factory.mktemp("nginx-two"))
    yield {"port": port, "stubs": stubs}
    proc.terminate()
    proc.wait(timeout=10)
    for server in servers:
        server.shutdown()


def test_a_class_arriving_splits_evenly_and_each_browser_stays_where_it_landed(two_stubs):
    """100 browsers with no cookie: 50 to each process (hashing random cookies split a class unevenly: up to
    118/94 in one bench run), each given its own route, and every later request of each goes where its first did."""
    first: dict[str, str] = {}
    for _ in range(100):
        status, headers, _ = request(two_stubs["port"], "GET", "/sampling")
        route = route_of(headers)
        assert status == 200 and route is not None and route not in first, headers
        first[route] = headers["X-LLMX-Backend"]
    counts = [list(first.values()).count(stub) for stub in two_stubs["stubs"]]
    assert counts == [50, 50], counts
    for route, backend in list(first.items())[::7]:
        for path in ("/_stcore/stream", "/static/js/index.js", "/sampling?temperature=1.2"):
            status, headers, _ = request(two_stubs["port"], "GET", path, headers={"Cookie": f"llmx_route={route}"})
            assert status == 200 and headers["X-LLMX-Backend"] == backend
            assert "Set-Cookie" not in headers  # its route is kept, not replaced


@pytest.mark.parametrize("cookie", ["ff" + "0" * 30, "not-a-route", "01" + "g" * 30, "02" + "a" * 30,
                                    "00" + "0" * 31, "00" + "a" * 4000])
def test_a_route_naming_no_process_gets_a_fresh_one(two_stubs, cookie):
    status, headers, _ = request(two_stubs["port"], "GET", "/", headers={"Cookie": f"llmx_route={cookie}"})
    route = route_of(headers)
    assert status == 200 and headers["X-LLMX-Backend"] in two_stubs["stubs"]
    assert route is not None and len(route) == 32 and route[:2] in ("00", "01") and route != cookie


def test_no_app_process_answering_gets_one_clear_line_not_nginx_502(tmp_path):
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(serve.render_nginx_conf([f"127.0.0.1:{_free_port()}"], "127.0.0.1", port, tmp_path, Limits()))
    proc = subprocess.Popen([nginx_or_skip(), "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                status, headers, body = request(port, "GET", "/sampling")
                break
            except OSError:
                threading.Event().wait(0.05)
        assert status == 503 and headers["Retry-After"] == "10"
        assert body == "The class server is starting or restarting: reload this page in a few seconds.\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
