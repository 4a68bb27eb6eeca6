"""One app process of `make serve`: the Streamlit app plus `/healthz`, which says ok only once the model is loaded.

Streamlit 1.67's `st.App` takes extra Starlette routes and a lifespan hook; `streamlit run deploy/app_process.py`
finds the `app` below and serves it. At start-up the lifespan loads the bundled model into this process's shared
model cache (the same `st.cache_resource` the pages use) and runs one forward pass, so the first student does
not pay for it and `/healthz` answers 200 only when a page can really use the model. `/_stcore/health`, by
contrast, says only that the server is up.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from components.setup import WARM_UP_THREAD  # noqa: E402
from deploy.limits import Limits, SessionGate, client_address, trusted_networks  # noqa: E402

STREAM_PATH = "/_stcore/stream"

READY = {"model": None, "error": None}  # what /healthz reports; written once by the warm-up thread


def warm_up() -> None:
    """Load the bundled model the way the pages do and run one forward pass."""
    try:
        from components.setup import start_up, warm_up

        start_up()
        READY["model"] = warm_up()
    except Exception as exc:
        logging.getLogger(__name__).exception("warm-up failed")  # the details (paths included) go to the log only
        READY["error"] = type(exc).__name__  # a class name only: /healthz is public


async def healthz(_request) -> PlainTextResponse:
    if READY["model"]:
        return PlainTextResponse(f"ok: {READY['model']} loaded\n", headers={"Cache-Control": "no-store"})
    text = f"model failed to load: {READY['error']}\n" if READY["error"] else "loading the model\n"
    return PlainTextResponse(text, status_code=503, headers={"Cache-Control": "no-store"})


class SessionLimit:
    """ASGI middleware: paces and caps new websocket sessions per client address (deploy/limits.py).

    A refused open gets HTTP 403 on the upgrade, which Streamlit's page answers by retrying later."""

    def __init__(self, app, limits: Limits | None = None, trusted: list | None = None):
        self.app = app
        self.gate = SessionGate(limits or Limits.from_env())
        self.trusted = trusted_networks() if trusted is None else trusted

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket" or scope["path"] != STREAM_PATH:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        real_ip = headers.get(b"x-real-ip", b"").decode("latin-1") or None
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
        address = client_address((scope.get("client") or ("unknown",))[0], real_ip, self.trusted, forwarded)
        wait = self.gate.admit(address)
        if wait is None:
            return await send({"type": "websocket.close", "code": 1013})
        if wait:
            await asyncio.sleep(wait)
        self.gate.opened(address)
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.closed(address)


@asynccontextmanager
async def lifespan(_app):
    thread = threading.Thread(target=warm_up, name=WARM_UP_THREAD, daemon=True)
    thread.start()
    await asyncio.sleep(0)
    yield


app = st.App(str(ROOT / "streamlit_app.py"), routes=[Route("/healthz", healthz)], lifespan=lifespan,
             middleware=[Middleware(SessionLimit)])
