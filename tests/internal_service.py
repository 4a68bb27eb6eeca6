"""A loopback "internal service" and hostile API servers for hosted-mode tests (issue 13, items 14 and 17).

Each base URL prefix behaves differently; every prefix serves `<prefix>/v1/models` and
`<prefix>/v1/chat/completions`:

    /internal   a service that must stay private: a secret as a model name, a database URL in its errors
    /html       a captive portal: 200 with an HTML page
    /badjson    200 application/json that is not JSON
    /drip       a valid model list sent one byte every `drip_seconds`
    /huge       a model list of `huge_count` entries
    /redirect   302 to the same path under /internal on `localhost` (another host name)
    /errorpage  502 with an HTML error page holding a script, a markdown link and a database URL

`sent` counts the body bytes each prefix wrote, so a test can tell that a client stopped reading.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.loopback_server import LoopbackServer

SECRET = "SECRET-db-password-hunter2"
DB_URL = "postgres://admin:hunter2@db.internal:5432/prod"
PORTAL = ("<!DOCTYPE html><html><head><title>Welcome to CampusNet</title></head><body><h1>Log in</h1>"
          "<form action='/login'></form></body></html>")
ERROR_PAGE = ("<html><head><title>502 Bad Gateway</title><script>alert(1)</script></head><body>"
              f"**upstream failed** [click](http://evil.example/) while using {DB_URL}</body></html>")


def model_list(ids: list[str]) -> bytes:
    return json.dumps({"object": "list", "data": [{"id": i, "object": "model", "created": 0, "owned_by": "x"}
                                                  for i in ids]}).encode()


@dataclass
class InternalService(LoopbackServer):
    drip_seconds: float = 0.05
    huge_count: int = 200_000
    sent: Counter = field(default_factory=Counter)

    def __post_init__(self):
        self.listen()

    def url(self, prefix: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{prefix}/v1"

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        if method == "POST":
            h.rfile.read(int(h.headers.get("Content-Length") or 0))
        prefix, _, rest = h.path.lstrip("/").partition("/")
        models = rest.startswith("v1/models")
        if prefix == "internal":
            if models:
                return self._send(h, prefix, 200, "application/json", model_list([SECRET]))
            return self._send(h, prefix, 500, "application/json",
                              json.dumps({"error": {"message": f"database {DB_URL} refused: **boom**"}}).encode())
        if prefix == "html":
            return self._send(h, prefix, 200, "text/html; charset=utf-8", PORTAL.encode())
        if prefix == "badjson":
            return self._send(h, prefix, 200, "application/json", b"{not json at all")
        if prefix == "drip":
            return self._send(h, prefix, 200, "application/json", model_list([f"m{i}" for i in range(40)]), drip=True)
        if prefix == "huge":
            return self._send(h, prefix, 200, "application/json",
                              model_list([f"m{i}" for i in range(self.huge_count)]))
        if prefix == "redirect":
            h.send_response(302)
            h.send_header("Location", f"http://localhost:{self.port}/internal/{rest}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        if prefix == "errorpage":
            return self._send(h, prefix, 502, "text/html", ERROR_PAGE.encode())
        return self._send(h, prefix, 404, "application/json", b'{"error": {"message": "no such path"}}')

    def _send(self, h, prefix: str, status: int, kind: str, data: bytes, drip: bool = False) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            if not drip:
                h.wfile.write(data)
                self.sent[prefix] += len(data)
                return
            for k in range(len(data)):
                h.wfile.write(data[k:k + 1])
                h.wfile.flush()
                self.sent[prefix] += 1
                time.sleep(self.drip_seconds)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            pass
