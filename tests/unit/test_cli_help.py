"""Every command-line entry point (a module with a __main__ block in lib/, deploy/ or bench/) answers --help with
its usage and exit status 0, and does nothing else: a newcomer can ask any script what it does."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

FOLDERS = ("lib", "deploy", "bench")


def entry_points() -> list[str]:
    """Modules run as scripts, found from the files themselves (a new CLI is checked without touching this test)."""
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_the_list_finds_the_clis_the_readme_names():
    assert {"lib.prepare", "lib.training.pretrain", "lib.training.finetune", "deploy.serve"} <= set(entry_points())


def test_every_cli_answers_help():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    runs = {m: subprocess.Popen([sys.executable, "-m", m, "--help"], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for m in entry_points()}
    failures = {}
    for module, proc in runs.items():  # all at once: most of the time is each one importing its libraries
        out, _ = proc.communicate(timeout=240)
        if proc.returncode != 0 or "usage:" not in out.lower():
            failures[module] = (proc.returncode, out[-300:])
    assert not failures, failures
