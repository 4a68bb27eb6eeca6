"""Shared fixtures. ../shared is required in CI; elsewhere its absence skips the tests that need it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ASSETS = SHARED / "assets"
GPT2_TOKENIZER = ASSETS / "hf-tokenizers" / "gpt2"
BERT_TOKENIZER = ASSETS / "hf-tokenizers" / "bert-base-uncased"
TIKTOKEN_CACHE = ASSETS / "tiktoken-cache"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def need_program(name: str, fallback: str, install_hint: str) -> str:
    """The path of a system program the test needs: missing fails in CI (where .ci/run installs it), else skips."""
    path = shutil.which(name) or fallback
    if not Path(path).exists():
        if IN_CI:
            pytest.fail(f"{name} is not installed; {install_hint}")
        pytest.skip(f"{name} is not installed")
    return path


def need_shared() -> None:
    if not ASSETS.is_dir():
        if IN_CI:
            pytest.fail(f"{ASSETS} is missing; CI must run with ../shared beside the project")
        pytest.skip("../shared/assets is not here")


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    need_shared()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(GPT2_TOKENIZER))


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, gpt2_tokenizer):
    """A folder holding a 1-layer GPT-2 (random weights) and GPT-2's tokenizer: a model given by its path."""
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-model")
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=32)).save_pretrained(folder)
    gpt2_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_gpt2(gpt2_tokenizer):
    """The GPT-2 architecture with random weights, small dims, real 50,257-token vocabulary."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from lib.models.next_token import HFCausalLM

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=4, n_positions=64)).eval()
    return HFCausalLM(model, gpt2_tokenizer, "tiny-random-gpt2")


SLOW_TIMEOUT_S = 600  # a training test on a busy 2-core machine took 184 s; everything else gets pytest.ini's 300 s


def pytest_collection_modifyitems(items):
    """Tests marked slow (training) get a longer per-test timeout, unless they set their own."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
