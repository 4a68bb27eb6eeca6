"""Where models come from: the bundled folder, a local folder, the local hub cache, or the hub.

In hosted mode (lib/hosting.py) folders on the server's disk are never models: only bundled names
and hub ids, and a name that is also a folder (relative to the server's working directory, such as
assets/pocket-lm) is refused. Hosted mode downloads nothing unless the operator sets LLMX_ALLOW_DOWNLOADS=1,
and then only catalog models; hub models already in the server's cache load from it. In every mode each
model has one cache identity (`canonical`), however its folder is spelled.

Offline is normal. The network is probed once per process (about 1.5 s at worst), and when it is
down every load uses local files only, so a missing model fails in milliseconds, not after the
hub client's retries.
"""

from __future__ import annotations

import functools
import os
import re
import socket
from pathlib import Path
from typing import Callable

from lib.hosting import hosted
from lib.text import is_true
from lib.models import registry_models
from lib.models.catalog import CATALOG, DEFAULT_MODEL

ASSETS = Path(__file__).resolve().parents[2] / "assets"
# Names that need no hub: the pocket-lm family in the repository, and the models the set-up takes from the
# package registry (lib/models/registry_models.py; converted from GGUF on first load).
BUNDLED = {"pocket-lm": ASSETS / "pocket-lm", "pocket-lm-sft": ASSETS / "pocket-lm-sft",
           "pocket-lm-dpo": ASSETS / "pocket-lm-dpo", **{m.name: m.folder for m in registry_models.MODELS.values()}}
HUB_HOST = "huggingface.co"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")
MAX_REF = 240  # longer references are refused before they reach the file system (names over 255 bytes raise OSError)


def is_hub_id(ref: str) -> bool:
    """'name' or 'org/name' as the Hugging Face Hub spells repository ids."""
    return _HUB_ID.fullmatch(ref) is not None


class ModelUnavailable(RuntimeError):
    """A model can't be loaded here; the message says why and what works instead."""


@functools.lru_cache(maxsize=1)
def network_available(host: str = HUB_HOST, port: int = 443, timeout: float = 1.5) -> bool:
    """One quick TCP connect, cached for the process. HF_HUB_OFFLINE=1 skips the probe."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def cached_snapshot(repo_id: str) -> Path | None:
    """Folder of a hub model already in the local cache, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # not a valid repo id (HFValidationError): so not in the cache either
        return None
    return Path(found).parent if isinstance(found, str) else None


def check_ref(ref: str) -> str:
    """The stripped reference; ModelUnavailable for an empty, over-long or unprintable one."""
    ref = (ref or "").strip()
    if not ref:
        raise ModelUnavailable("No model was named.")
    if len(ref) > MAX_REF or not ref.isprintable():
        raise ModelUnavailable(f"That model name is not valid ({len(ref):,} characters). A hub id looks like "
                               "'org/name', e.g. 'openai-community/gpt2'.")
    return ref


def local_folder(ref: str) -> Path | None:
    """The folder a reference names on this machine; None when it names none, and always in hosted mode."""
    if hosted() or ref in BUNDLED:
        return None
    try:
        path = Path(ref).expanduser()
        return path.resolve() if path.is_dir() else None
    except (OSError, RuntimeError, ValueError):  # too long, a symlink loop, a NUL byte: not a folder
        return None


ALLOW_DOWNLOADS_ENV = "LLMX_ALLOW_DOWNLOADS"


def downloads_allowed(repo_id: str) -> bool:
    """Locally always; in hosted mode only with LLMX_ALLOW_DOWNLOADS=1, and then only the catalog's models."""
    if not hosted():
        return True
    return is_true(os.environ.get(ALLOW_DOWNLOADS_ENV, "")) and any(e.id == repo_id for e in CATALOG)


def _refuse_server_folder(ref: str) -> None:
    """Hosted mode: a name that is a path on the server (transformers would load it as a folder) is refused."""
    try:
        exists = Path(ref).exists()
    except (OSError, ValueError):
        exists = False
    if exists:
        raise ModelUnavailable(f"'{ref}' names a folder on this class server, which it does not load. Pick one of "
                               "the models it offers.")


def canonical(ref: str) -> str:
    """One name per model for caches: a bundled name for its own folder however spelled, an absolute path for
    other folders, else the stripped hub id. Raises ModelUnavailable for names that can't be valid."""
    ref = check_ref(ref)
    folder = local_folder(ref)
    if folder is None:
        return ref
    for name, path in BUNDLED.items():
        if folder == path.resolve():
            return name
    return str(folder)


def resolve(ref: str) -> tuple[str, bool]:
    """Map a model reference to (path-or-hub-id, local_files_only).

    Raises ModelUnavailable quickly when the model is neither local nor reachable.
    """
    ref = check_ref(ref)
    if ref in registry_models.MODELS:
        return str(_converted(registry_models.MODELS[ref])), True
    if ref in BUNDLED:
        path = BUNDLED[ref]
        if not (path / "config.json").exists():
            raise ModelUnavailable(f"The bundled model '{ref}' is missing from assets/{ref}. "
                                   "Re-clone the project or retrain it with `python -m lib.training.pretrain`.")
        return str(path), True
    folder = local_folder(ref)
    if folder is not None:
        if not (folder / "config.json").exists():
            raise ModelUnavailable(f"The folder '{ref}' has no config.json, so it is not a transformers model.")
        return str(folder), True
    if not is_hub_id(ref):
        what = "a model this class server offers" if hosted() else "a folder on this machine"
        raise ModelUnavailable(f"'{ref}' is neither {what} nor a valid hub id like 'org/name'.")
    if hosted():
        _refuse_server_folder(ref)
    if cached_snapshot(ref) is not None:
        return ref, hosted() or not network_available()
    if not downloads_allowed(ref):
        raise ModelUnavailable(f"'{ref}' is not on this class server, and it downloads only the models its "
                               "operator allows. Pick one of the models it offers.")
    if not network_available():
        raise ModelUnavailable(f"'{ref}' is not downloaded on this machine and there is no network, "
                               "so it can't be fetched. The bundled pocket-lm works offline; "
                               "GPT-2-sized models work once downloaded while online.")
    return ref, False


def _converted(model: registry_models.RegistryModel) -> Path:
    """A registry model's folder, converted from its GGUF on first use (about 30 s, once per install)."""
    if not registry_models.converted(model):
        try:
            registry_models.convert(model)
        except FileNotFoundError as exc:
            raise ModelUnavailable(f"{exc} The bundled pocket-lm works meanwhile.") from exc
    return model.folder


CONFIG_PATTERNS = ["*.json", "*.txt", "*.model", "*.jinja"]


def download_patterns(repo_files: list[str]) -> list[str]:
    """Config and tokenizer files plus one copy of the weights: safetensors where the repo has them,
    else PyTorch .bin files (some checkpoints ship only those). Never both, never other formats."""
    top_level = [f for f in repo_files if "/" not in f]
    if any(f.endswith(".safetensors") for f in top_level):
        return CONFIG_PATTERNS + ["*.safetensors"]
    if any(f.endswith(".bin") for f in top_level):
        return CONFIG_PATTERNS + ["*.bin"]
    return CONFIG_PATTERNS


def download(repo_id: str, progress: Callable[[float, str], None] | None = None) -> Path:
    """Download a hub snapshot, reporting progress as (fraction, message). Hosted mode: see `downloads_allowed`."""
    if hosted():
        _refuse_server_folder(repo_id)
    if not downloads_allowed(repo_id):
        raise ModelUnavailable(f"This class server does not download '{repo_id}': set {ALLOW_DOWNLOADS_ENV}=1 "
                               "to let it fetch catalog models.")
    from huggingface_hub import snapshot_download
    from tqdm.auto import tqdm

    class _Report(tqdm):  # huggingface_hub drives this bar; we forward its updates
        def update(self, n=1):
            out = super().update(n)
            if progress and self.total:
                progress(min(1.0, self.n / self.total), f"Downloading {repo_id}: {self.n / 1e6:.0f} / {self.total / 1e6:.0f} MB")
            return out

    try:
        from huggingface_hub import HfApi

        files = HfApi().list_repo_files(repo_id)
        path = snapshot_download(repo_id, allow_patterns=download_patterns(files), tqdm_class=_Report)
    except Exception as exc:  # the hub client raises many types; one clear message for all
        raise ModelUnavailable(f"Could not download '{repo_id}': {type(exc).__name__}: {exc}") from exc
    if progress:
        progress(1.0, f"{repo_id} is ready")
    return Path(path)


def locally_available(model_id: str) -> bool:
    if model_id in registry_models.MODELS:  # converted, or its GGUF is here to convert on first load
        return registry_models.available(registry_models.MODELS[model_id])
    if model_id in BUNDLED:
        return (BUNDLED[model_id] / "config.json").exists()
    return cached_snapshot(model_id) is not None


def default_model() -> str:
    """The first catalogued hub base model already on disk (GPT-2 first), else the bundled pocket-lm."""
    for entry in CATALOG:
        if entry.stage == "base" and entry.id not in BUNDLED and locally_available(entry.id):
            return entry.id
    return DEFAULT_MODEL
