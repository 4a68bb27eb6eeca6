"""The Docker image's build step, run here as the Dockerfile runs it: deploy/build_image.sh puts the tokenizer files
where the app looks for them and checks that each one loads with the network off."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import ASSETS, ROOT, TIKTOKEN_CACHE, need_shared

SCRIPT = ROOT / "deploy" / "build_image.sh"
TOKENIZERS = {"gpt2": "openai-community/gpt2", "bert-base-uncased": "google-bert/bert-base-uncased"}


def build(env: dict, step: str = "assets") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "HF_ENDPOINT")}
    return subprocess.run([str(SCRIPT), step], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**clean, "PY": str(Path(os.sys.executable)), **env})


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def test_the_image_gets_the_shared_tokenizer_files_and_they_load_offline(tmp_path):
    need_shared()
    done = build({"LLMX_ASSETS_FROM": str(ASSETS), "LLMX_ASSETS_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert same_files(tmp_path / "tiktoken-cache", TIKTOKEN_CACHE)
    for name in TOKENIZERS:
        assert same_files(tmp_path / "hf-tokenizers" / name, ASSETS / "hf-tokenizers" / name)
    assert "encodings gpt2, r50k_base, p50k_base, cl100k_base; tokenizers bert-base-uncased, gpt2" in done.stdout


@pytest.fixture
def mirror(tmp_path):
    """A local stand-in for OpenAI's blob store and the Hugging Face hub, filled from ../shared/assets."""
    need_shared()
    from lib.prepare import ENCODINGS, OPENAI_BLOB

    root = tmp_path / "mirror"
    for name in ("r50k_base", "cl100k_base"):
        for path, _ in ENCODINGS[name]:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(TIKTOKEN_CACHE / hashlib.sha1(f"{OPENAI_BLOB}/{path}".encode()).hexdigest(), root / path)
    for name, repo in TOKENIZERS.items():
        folder = root / repo / "resolve" / "main"
        shutil.copytree(ASSETS / "hf-tokenizers" / name, folder)
        (folder / "config.json").write_text(f'{{"model_type": "{name.split("-")[0]}"}}')
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield {"root": root, "env": {"LLMX_TIKTOKEN_BASE_URL": url, "HF_ENDPOINT": url,
                                 "LLMX_ENCODINGS": "r50k_base cl100k_base", "LLMX_ASSETS_DIR": str(tmp_path / "out")}}
    server.shutdown()


def test_the_image_downloads_them_when_it_has_no_copy(mirror, tmp_path):
    done = build(mirror["env"])
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "tiktoken-cache").iterdir()) == sorted(
        hashlib.sha1(f"https://openaipublic.blob.core.windows.net/encodings/{n}.tiktoken".encode()).hexdigest()
        for n in ("r50k_base", "cl100k_base"))
    assert (out / "hf-tokenizers" / "gpt2" / "merges.txt").read_bytes() == (
        ASSETS / "hf-tokenizers" / "gpt2" / "merges.txt").read_bytes()


def test_a_missing_file_fails_the_build_with_its_name(mirror):
    (mirror["root"] / "google-bert/bert-base-uncased/resolve/main/vocab.txt").unlink()
    done = build(mirror["env"])
    assert done.returncode == 1
    assert "google-bert/bert-base-uncased/vocab.txt: HTTPError" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_corrupt_encoding_is_refused(mirror):
    (mirror["root"] / "encodings/cl100k_base.tiktoken").write_bytes(b"not the real file")
    done = build(mirror["env"])
    assert done.returncode == 1 and "cl100k_base.tiktoken failed its sha256 check" in done.stderr


def test_the_default_target_is_where_the_app_looks_and_the_dockerfile_runs_the_script():
    from deploy import image_assets
    from lib.tokens.loading import REGISTRY, SHARED_ASSETS

    assert SHARED_ASSETS == ROOT.parent / "shared" / "assets"  # in the image: /home/app/shared/assets
    assert {spec.local for spec in REGISTRY.values() if spec.local} == {
        SHARED_ASSETS / "hf-tokenizers" / name for name in image_assets.HUB_FILES}
    run_lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("RUN deploy/")]
    assert run_lines == ["RUN deploy/build_image.sh all"]
    assert ".streamlit/secrets.toml" in (ROOT / ".dockerignore").read_text().splitlines()
    assert "ENV TIKTOKEN_CACHE_DIR" not in (ROOT / "Dockerfile").read_text()  # the app's own lookup finds them


def test_a_bad_step_gets_usage_not_a_traceback():
    done = build({}, step="everything")
    assert done.returncode == 2 and done.stderr.strip() == "usage: deploy/build_image.sh [assets|models|all]"


def test_the_models_step_is_the_makefiles_smollm2_target_and_fails_without_it():
    target = next(line.split(":=", 1)[1].strip() for line in (ROOT / "Makefile").read_text().splitlines()
                  if line.startswith("SMOLLM2 :="))
    done = build({}, step="models")
    installed = (ROOT / target).is_file()
    assert done.returncode == (0 if installed else 1), done.stderr
    if not installed:
        assert f"SmolLM2 was not installed ({target} is missing)" in done.stderr
