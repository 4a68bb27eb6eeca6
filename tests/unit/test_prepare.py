"""`make prepare` against a loopback server shaped like the hub and OpenAI's blob store; nothing is mocked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lib import prepare as P
from tests.conftest import GPT2_TOKENIZER, ROOT, TIKTOKEN_CACHE, need_shared
from tests.loopback_hub import LoopbackHub, tiktoken_blobs, tiny_gpt2_repo


def test_encoding_table_matches_tiktoken():
    """Our (path, sha256) table against tiktoken's own source, the oracle for names and hashes."""
    import tiktoken_ext.openai_public as pub

    source = Path(pub.__file__).read_text()
    for name, files in P.ENCODINGS.items():
        body = source.split(f"def {name}():", 1)[1].split("\ndef ", 1)[0]
        urls = re.findall(r'"(https://openaipublic[^"]+)"', body)
        hashes = re.findall(r'_hash="([0-9a-f]{64})"', body)
        assert [f"{P.OPENAI_BLOB}/{p}" for p, _ in files] == urls
        assert [h for _, h in files] == hashes


def test_unknown_model_is_one_clear_line():
    with pytest.raises(ValueError, match="not in the model catalog"):
        P.resolve_model("no-such-model")
    assert P.resolve_model("SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
    assert P.resolve_model("gpt2") == "openai-community/gpt2"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_ENDPOINT")}
    return {**env, **extra}


def test_prepare_then_offline(tmp_path):
    """Download through the loopback server with the real code, stop it, then load everything offline."""
    need_shared()
    repo = tiny_gpt2_repo(tmp_path / "repo", GPT2_TOKENIZER)
    hf_home, tk = tmp_path / "hf", tmp_path / "tiktoken"
    blobs = tiktoken_blobs(TIKTOKEN_CACHE)
    blobs.pop("encodings/o200k_base.tiktoken", None)  # a file the store lacks
    with LoopbackHub({"openai-community/gpt2": repo}, blobs) as hub:
        run = subprocess.run([sys.executable, "-m", "lib.prepare", "gpt2"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=_env(HF_ENDPOINT=hub.url, HF_HOME=str(hf_home), TIKTOKEN_CACHE_DIR=str(tk),
                                                   LLMX_TIKTOKEN_BASE_URL=hub.url))
    out = run.stdout + run.stderr
    assert any("/resolve/" in r for r in hub.requests), hub.requests
    assert re.search(r"ok +model openai-community/gpt2", out), out
    for name in ("gpt2", "r50k_base", "p50k_base", "cl100k_base"):
        assert re.search(rf"ok +encoding {name}:", out), out
    # The store has no o200k_base: a clear one-line failure and exit status 1.
    assert "FAILED encoding o200k_base: could not download" in out and run.returncode == 1, out
    assert "Traceback" not in out

    offline = ("import tiktoken; from transformers import AutoModelForCausalLM, AutoTokenizer; "
               "from lib.models import hub, catalog; "
               "e = tiktoken.get_encoding('p50k_base'); print([e.decode([i]) for i in e.encode('They are splashing')]); "
               "print(hub.locally_available('openai-community/gpt2'), hub.resolve('openai-community/gpt2')); "
               "m = AutoModelForCausalLM.from_pretrained('openai-community/gpt2'); "
               "t = AutoTokenizer.from_pretrained('openai-community/gpt2'); "
               "print(m.config.n_embd, len(t), t.tokenize(' Hitchcock'))")
    check = subprocess.run([sys.executable, "-c", offline], cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env=_env(HF_HUB_OFFLINE="1", HF_HOME=str(hf_home), TIKTOKEN_CACHE_DIR=str(tk)))
    assert check.returncode == 0, check.stderr[-2000:]
    lines = check.stdout.splitlines()
    assert lines[0] == "['They', ' are', ' spl', 'ashing']"
    assert lines[1] == "True ('openai-community/gpt2', True)"
    assert lines[2].startswith("16 50257 ")


def test_corrupt_encoding_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "bad.tiktoken"
    bad.write_bytes(b"not the real file")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    with LoopbackHub(blobs={"encodings/p50k_base.tiktoken": bad}) as hub:
        monkeypatch.setenv("LLMX_TIKTOKEN_BASE_URL", hub.url)
        result = P.prepare_encoding("p50k_base")
    assert not result.ok and "sha256" in result.message
    assert not P.encoding_ready("p50k_base")
