"""The tokenizer files the app needs offline, put where it looks for them: run by deploy/build_image.sh (the Dockerfile).

    python deploy/image_assets.py [--from DIR] [--to DIR]

--to (default: ../shared/assets beside the project, lib/tokens/loading.py's SHARED_ASSETS) receives
`tiktoken-cache/` (every tiktoken encoding, under tiktoken's own cache names, sha256-checked by lib.prepare) and
`hf-tokenizers/<name>/` for each transformers tokenizer of the registry that has a local folder (GPT-2 BPE, BERT
WordPiece). --from copies them from a folder laid out the same way (the team's ../shared/assets); without it they
are downloaded: encodings from LLMX_TIKTOKEN_BASE_URL or OpenAI's public blob store, tokenizer files from
HF_ENDPOINT or huggingface.co. Afterwards every tokenizer is loaded from the target with the network off; the
command exits non-zero, naming what is missing, if one does not load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Files each hub tokenizer needs (config.json tells AutoTokenizer the tokenizer's class).
HUB_FILES = {"gpt2": ("vocab.json", "merges.txt", "tokenizer_config.json", "config.json"),
             "bert-base-uncased": ("vocab.txt", "tokenizer_config.json", "config.json")}


def hub_tokenizers() -> dict[str, str]:
    """folder name -> hub id, for every registry tokenizer the app first looks for in SHARED_ASSETS."""
    from lib.tokens.loading import REGISTRY

    return {spec.local.name: spec.source for spec in REGISTRY.values() if spec.local is not None}


def copy_from(source: Path, target: Path) -> None:
    for sub in ["tiktoken-cache", *(f"hf-tokenizers/{name}" for name in hub_tokenizers())]:
        if (source / sub).is_dir():
            shutil.copytree(source / sub, target / sub, dirs_exist_ok=True)
            (target / sub).chmod(0o755)  # the team's folder is read-only; the copy need not be
            for f in (target / sub).iterdir():
                f.chmod(0o644)


def download_tokenizers(target: Path) -> list[str]:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    failed = []
    for name, repo in hub_tokenizers().items():
        folder = target / "hf-tokenizers" / name
        folder.mkdir(parents=True, exist_ok=True)
        for file in HUB_FILES[name]:
            try:
                with urllib.request.urlopen(f"{endpoint}/{repo}/resolve/main/{file}", timeout=60) as r:
                    (folder / file).write_bytes(r.read())
            except OSError as exc:
                failed.append(f"{repo}/{file}: {type(exc).__name__}")
    return failed


def download_encodings(target: Path, wanted: list[str]) -> list[str]:
    """Into target/tiktoken-cache (main has pointed TIKTOKEN_CACHE_DIR there), each checked by its sha256."""
    from lib.prepare import prepare_encoding

    return [f"tiktoken {o.name}: {o.message}" for o in map(prepare_encoding, wanted) if not o.ok]


VERIFY = """
import os, sys, tiktoken
from transformers import AutoTokenizer
from lib.prepare import ENCODINGS, encoding_ready
target, wanted = sys.argv[1], sys.argv[2:]
bad = []
for name in wanted:
    if not encoding_ready(name):
        bad.append(f"tiktoken {name}: not in {os.environ['TIKTOKEN_CACHE_DIR']}")
    elif name != "gpt2" and tiktoken.get_encoding(name).encode("offline") == []:
        bad.append(f"tiktoken {name}: encodes nothing")
for folder in os.listdir(os.path.join(target, "hf-tokenizers")):
    try:
        AutoTokenizer.from_pretrained(os.path.join(target, "hf-tokenizers", folder))("offline")
    except Exception as exc:
        bad.append(f"{folder}: {type(exc).__name__}: {str(exc)[:200]}")
print("\\n".join(bad))
"""


def verify(target: Path, encodings: list[str]) -> list[str]:
    """Load every encoding and tokenizer from `target` in a child with no network (and no other cache)."""
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(target / "tiktoken-cache"), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(target / ".no-hf-home")}
    done = subprocess.run([sys.executable, "-c", VERIFY, str(target), *encodings], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode:
        return [f"verification failed: {done.stderr.strip().splitlines()[-1:]}"]
    return [line for line in done.stdout.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    from lib.tokens.loading import SHARED_ASSETS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="source", type=Path, help="copy from this folder instead of downloading")
    ap.add_argument("--to", dest="target", type=Path, default=SHARED_ASSETS)
    args = ap.parse_args(argv)
    if args.source and not args.source.is_dir():
        ap.error(f"--from {args.source}: no such folder")
    target = args.target.resolve()
    (target / "hf-tokenizers").mkdir(parents=True, exist_ok=True)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(target / "tiktoken-cache")
    from lib.prepare import ENCODINGS, encoding_ready

    wanted = os.environ.get("LLMX_ENCODINGS", "").split() or list(ENCODINGS)
    if args.source:
        copy_from(args.source, target)
        problems = []
        wanted = [n for n in wanted if encoding_ready(n)]  # a copy holds what the source held
    else:
        problems = download_encodings(target, wanted) + download_tokenizers(target)
    problems += verify(target, wanted)
    for p in problems:
        print(f"image_assets: {p}", file=sys.stderr)
    print(f"image_assets: {target}: encodings {', '.join(wanted)}; tokenizers "
          f"{', '.join(sorted(os.listdir(target / 'hf-tokenizers')))}" + (" (with problems)" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
