"""What every loopback test server shares: a threaded HTTP server on a free port, and a fixture that runs one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class LoopbackServer:
    """Subclasses call `listen(host)` once and answer each request in `_handle(handler, method)`."""

    def listen(self, host: str = "127.0.0.1") -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                outer._handle(self, "GET")

            def do_POST(self):
                outer._handle(self, "POST")

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        raise NotImplementedError

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def served(make, scope: str = "module"):
    """A pytest fixture that starts `make()` (a LoopbackServer) for its scope and stops it afterwards."""

    @pytest.fixture(scope=scope)
    def fixture():
        server = make().start()
        yield server
        server.stop()

    return fixture
