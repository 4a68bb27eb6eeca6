"""Where models come from: bundled, local folders, the hub cache layout, and a fast, clear offline failure."""

import json
import os
import socket
import subprocess
import sys

import pytest

from lib.models import hub
from tests.conftest import ROOT


def test_bundled_name_resolves_to_the_assets_folder():
    path, local_only = hub.resolve("pocket-lm")
    assert local_only and path.endswith("assets/pocket-lm")


def test_local_folder_loads_through_the_model_layer(tiny_folder):
    from lib.models.next_token import HFCausalLM

    lm = HFCausalLM.load(str(tiny_folder))
    assert lm.distribution(lm.encode("hi")).probs.sum() == pytest.approx(1.0)


def test_folder_without_config_is_refused_clearly(tmp_path):
    with pytest.raises(hub.ModelUnavailable, match="no config.json"):
        hub.resolve(str(tmp_path))


def test_missing_model_offline_names_what_works_instead(monkeypatch):
    monkeypatch.setattr(hub, "network_available", lambda *a, **k: False)
    with pytest.raises(hub.ModelUnavailable) as err:
        hub.resolve("no-such-org/no-such-model")
    assert "no network" in str(err.value) and "pocket-lm" in str(err.value)


def test_nonsense_id_is_refused():
    with pytest.raises(hub.ModelUnavailable):
        hub.resolve("not a model!")
    with pytest.raises(hub.ModelUnavailable):
        hub.resolve("   ")


def test_network_probe_reports_a_closed_port_as_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        hub.network_available.cache_clear()
        try:
            assert hub.network_available("127.0.0.1", port, 1.0) is False
        finally:
            hub.network_available.cache_clear()


def test_hub_id_loads_from_the_local_hub_cache_when_offline(tmp_path, tiny_folder):
    """The same code path users take after a download: a hub id found in the HF cache layout."""
    snapshot = tmp_path / "models--fake-org--tiny" / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    for f in tiny_folder.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (tmp_path / "models--fake-org--tiny" / "refs").mkdir()
    (tmp_path / "models--fake-org--tiny" / "refs" / "main").write_text("0123456789abcdef")
    script = ("import json; from lib.models import hub; from lib.models.next_token import HFCausalLM;"
              "path, local = hub.resolve('fake-org/tiny'); lm = HFCausalLM.load('fake-org/tiny');"
              "print(json.dumps([path, local, lm.vocab_size]))")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    path, local, vocab = json.loads(out.stdout.strip().splitlines()[-1])
    assert path == "fake-org/tiny" and local is True and vocab == 50257


def test_download_failure_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.ModelUnavailable, match="Could not download"):
        hub.download("fake-org/definitely-not-cached")


def _fetched(files: list[str]) -> set[str]:
    from fnmatch import fnmatch

    patterns = hub.download_patterns(files)
    return {f for f in files if any(fnmatch(f, p) for p in patterns)}


def test_download_takes_safetensors_and_skips_duplicate_weight_formats():
    files = ["config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5",
             "flax_model.msgpack", "onnx/model.onnx", "README.md", ".gitattributes"]
    assert _fetched(files) == {"config.json", "tokenizer.json", "model.safetensors"}


def test_download_falls_back_to_pytorch_bin_when_a_repo_has_no_safetensors():
    files = ["config.json", "tokenizer_config.json", "pytorch_model-00001-of-00002.bin",
             "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json", "tf_model.h5"]
    assert _fetched(files) == {"config.json", "tokenizer_config.json", "pytorch_model-00001-of-00002.bin",
                               "pytorch_model-00002-of-00002.bin", "pytorch_model.bin.index.json"}


def test_a_checkpoint_saved_as_pytorch_bin_loads(tmp_path, gpt2_tokenizer):
    """What the .bin fallback downloads must also load through the model layer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from lib.models.next_token import HFCausalLM

    import torch

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, n_positions=32))
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # the older checkpoint format
    gpt2_tokenizer.save_pretrained(tmp_path)
    assert (tmp_path / "pytorch_model.bin").exists() and not (tmp_path / "model.safetensors").exists()
    lm = HFCausalLM.load(str(tmp_path))
    assert lm.distribution(lm.encode("hi")).probs.sum() == pytest.approx(1.0)
