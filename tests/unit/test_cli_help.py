"""Every command-line entry point (a module with a __main__ block in lib/, deploy/ or bench/) answers --help with
its usage and exit status 0, and does nothing else: a newcomer can ask any script what it does. The app's CLIs
(lib/, deploy/) are run; the benchmarks, which import torch before anything else, are checked for their parser
(run them with --help by hand: `python -m bench.bench_sampling --help`)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

def entry_points(folders=("lib", "deploy")) -> list[str]:
    """Modules run as scripts, found from the files themselves (a new CLI is checked without touching this test)."""
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
                found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_the_list_finds_the_clis_the_readme_names():
    assert {"lib.prepare", "lib.training.pretrain", "lib.training.finetune", "deploy.serve"} <= set(entry_points())


def test_every_benchmark_parses_its_arguments():
    """A benchmark's --help is argparse's (or, for the profiler that passes its arguments on, its own usage)."""
    for module in entry_points(("bench",)):
        text = (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        assert "argparse" in text or "describe(__doc__)" in text or '"--help"' in text, (
            f"{module}: call bench.common.describe(__doc__) before main() so --help says what it measures")


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
