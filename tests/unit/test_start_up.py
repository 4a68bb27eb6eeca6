"""Process-wide settings are made once, at start-up (components/setup.py, deploy/app_process.py), never in a
request path: gc.freeze, torch.set_num_threads and os.environ writes appear nowhere else (a CLI's main() may set
its own process up)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

START_UP_FILES = {"components/setup.py", "deploy/app_process.py"}
SCANNED = ["lib", "components", "pages", "deploy", "streamlit_app.py"]
ENV_WRITES = {"setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) \
        and node.value.id == "os"


def process_wide_effects(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for each process-wide write in a module, outside functions named main."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_main: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_main = in_main or node.name == "main"
        if not in_main:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                f = node.func
                if f.attr == "set_num_threads" or (f.attr == "freeze" and getattr(f.value, "id", "") == "gc") \
                        or (f.attr == "putenv" and getattr(f.value, "id", "") == "os") \
                        or (f.attr in ENV_WRITES and _is_os_environ(f.value)):
                    found.append((node.lineno, ast.unparse(f)))
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Subscript) and _is_os_environ(t.value):
                        found.append((node.lineno, "os.environ[...] write"))
        for child in ast.iter_child_nodes(node):
            visit(child, in_main)

    visit(tree, False)
    return found


def python_files() -> list[str]:
    out = []
    for entry in SCANNED:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        out += [str(f.relative_to(ROOT)) for f in files]
    return out


def test_the_scan_finds_each_kind_of_process_wide_write():
    code = ("import gc, os, torch\ngc.freeze()\ntorch.set_num_threads(1)\nos.environ['A'] = '1'\n"
            "os.environ.setdefault('B', '1')\ndel os.environ['A']\ndef main():\n    torch.set_num_threads(2)\n")
    assert [line for line, _ in process_wide_effects(ast.parse(code))] == [2, 3, 4, 5, 6]


@pytest.mark.parametrize("path", python_files())
def test_process_wide_settings_only_at_start_up(path):
    if path in START_UP_FILES:
        return
    effects = process_wide_effects(ast.parse((ROOT / path).read_text(encoding="utf-8")))
    assert not effects, f"{path}: {effects} belong in start-up code (components/setup.py)"


def _threads_after(code: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LLMX_TORCH_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def test_start_up_sets_one_torch_thread_whether_torch_is_imported_before_or_after():
    before = "import torch; torch.set_num_threads(2); from components.setup import start_up; start_up(); "
    after = "from components.setup import start_up; start_up(); start_up(); import torch; "
    assert _threads_after(before + "print(torch.get_num_threads())") == 1
    assert _threads_after(after + "print(torch.get_num_threads())") == 1
