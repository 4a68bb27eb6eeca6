"""Compressed answers from an API server are capped by what they inflate to, over real HTTP to a loopback server.

The bomb: 1 MB of gzip that inflates to 1 GiB (one gzip member whose deflate blocks repeat: the oracle is zlib
itself, which the test uses to check the bomb). The 2 MB cap on a model list used to count compressed bytes."""

from __future__ import annotations

import gzip
import json
import struct
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler

import pytest

from lib.models.openai_backend import OpenAIBackend
from lib.hosting import ApiPolicy
from lib.models.openai_client import ApiError
from tests.loopback_server import LoopbackServer, served

PREFIX = b'{"object": "list", "data": ['
CHUNK = b" " * (8 << 20)


def gzip_bomb(copies: int) -> bytes:
    """A single gzip member holding PREFIX + CHUNK * copies: the deflate blocks after a full flush repeat."""
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = block.compress(PREFIX) + block.flush(zlib.Z_FULL_FLUSH)
    body = block.compress(CHUNK) + block.flush(zlib.Z_FULL_FLUSH)
    end = block.flush(zlib.Z_FINISH)
    crc = zlib.crc32(PREFIX)
    for _ in range(copies):
        crc = zlib.crc32(CHUNK, crc)
    size = len(PREFIX) + copies * len(CHUNK)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head + body * copies + end
            + struct.pack("<II", crc, size & 0xFFFFFFFF))


class Compressing(LoopbackServer):
    """/bomb/v1/models: the 1 GiB bomb; /small/v1/models: a real model list, gzip; /br/v1/models: 'br'."""

    def __init__(self):
        self.listen()
        self.httpd.handle_error = lambda *args: None  # a client that stops reading resets the connection: expected
        self.bomb = gzip_bomb(128)
        self.small = gzip.compress(json.dumps({"object": "list", "data": [
            {"id": "tiny", "object": "model", "created": 0, "owned_by": "x"}]}).encode())

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.port}/{prefix}/v1"

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        kind = h.path.split("/")[1]
        body, encoding = {"bomb": (self.bomb, "gzip"), "small": (self.small, "gzip"), "br": (b"xx", "br")}[kind]
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Encoding", encoding)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            h.wfile.write(body)
        except OSError:
            pass  # the client stopped reading


server = served(Compressing)


def list_models(url: str, timeout: float = 10.0) -> list[str]:
    backend = OpenAIBackend("m", base_url=url, policy=ApiPolicy(), timeout=timeout)
    try:
        return [m.id for m in backend.list_models()]
    finally:
        backend.close()


def test_the_bomb_is_what_it_claims():
    bomb = gzip_bomb(2)
    assert zlib.decompress(bomb, 31) == PREFIX + CHUNK * 2 and len(gzip_bomb(128)) < 1_100_000


def test_a_gzip_bomb_is_refused_by_its_inflated_size(server):
    list_models(server.url("small"))  # the SDK imported and warmed up before memory is traced
    tracemalloc.start()
    try:
        with pytest.raises(ApiError) as err:
            list_models(server.url("bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.kind == "too_large" and "decompressed" in err.value.message
    assert peak < 64e6  # the 1 GiB never existed in memory (inflating it all needs at least 1 GiB)


def test_a_small_gzip_answer_still_works(server):
    assert list_models(server.url("small")) == ["tiny"]


def test_an_encoding_that_is_not_bounded_is_refused(server):
    with pytest.raises(ApiError) as err:
        list_models(server.url("br"))
    assert err.value.kind == "bad_encoding" and "br" in err.value.message
