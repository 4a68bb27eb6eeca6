"""A loopback HTTP server shaped like the Hugging Face hub (for HF_ENDPOINT) and OpenAI's tiktoken blob store.

It serves real files from folders, speaks the few routes huggingface_hub uses for list_repo_files and
snapshot_download (tree listing, repo info, HEAD/GET resolve), and counts every request, so a test can
prove that nothing was asked for.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class LoopbackHub:
    def __init__(self, repos: dict[str, Path] | None = None, blobs: dict[str, Path] | None = None):
        self.repos = repos or {}   # repo id -> folder of files
        self.blobs = blobs or {}   # path under the blob store (e.g. "encodings/p50k_base.tiktoken") -> file
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                hub._answer(self, head=True)

            def do_GET(self):
                hub._answer(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- routes ---------------------------------------------------------------------------------------
    def _files(self, repo: str) -> list[Path]:
        root = self.repos[repo]
        return sorted(p for p in root.rglob("*") if p.is_file())

    def _answer(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        self.requests.append(f"{h.command} {h.path}")
        path = unquote(urlparse(h.path).path)
        for repo, root in self.repos.items():
            if path.startswith(f"/api/models/{repo}/tree/"):
                entries = [{"type": "file", "path": str(p.relative_to(root)), "size": p.stat().st_size,
                            "oid": hashlib.sha1(p.read_bytes()).hexdigest()} for p in self._files(repo)]
                return self._send(h, json.dumps(entries).encode(), "application/json", head)
            if path.startswith(f"/api/models/{repo}/revision/") or path == f"/api/models/{repo}":
                info = {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                        "siblings": [{"rfilename": str(p.relative_to(root))} for p in self._files(repo)]}
                return self._send(h, json.dumps(info).encode(), "application/json", head)
            prefix = f"/{repo}/resolve/"
            if path.startswith(prefix):
                name = path[len(prefix):].split("/", 1)[1]
                file = root / name
                if not file.is_file():
                    return self._send(h, b"not found", "text/plain", head, status=404,
                                      extra={"X-Error-Code": "EntryNotFound"})
                data = file.read_bytes()
                etag = f'"{hashlib.sha256(data).hexdigest()}"'
                return self._send(h, data, "application/octet-stream", head,
                                  extra={"X-Repo-Commit": COMMIT, "ETag": etag})
        blob = path.lstrip("/")
        if blob in self.blobs:
            return self._send(h, self.blobs[blob].read_bytes(), "application/octet-stream", head)
        self._send(h, b"not found", "text/plain", head, status=404,
                   extra={"X-Error-Code": "RepoNotFound"})

    @staticmethod
    def _send(h, body: bytes, kind: str, head: bool, status: int = 200, extra: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if not head:
            h.wfile.write(body)


def tiny_gpt2_repo(folder: Path, tokenizer_dir: Path) -> Path:
    """A hub-shaped repo: a random-weight GPT-2-architecture model (real vocabulary size) + the real tokenizer."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder.mkdir(parents=True, exist_ok=True)
    config = GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=256, vocab_size=50257)
    GPT2LMHeadModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(folder)
    return folder


def tiktoken_blobs(cache: Path) -> dict[str, Path]:
    """The encoding files a tiktoken cache folder holds, by their path under OpenAI's blob store."""
    from lib.prepare import ENCODINGS, OPENAI_BLOB

    out = {}
    for files in ENCODINGS.values():
        for path, _ in files:
            cached = cache / hashlib.sha1(f"{OPENAI_BLOB}/{path}".encode()).hexdigest()
            if cached.exists():
                out[path] = cached
    return out
