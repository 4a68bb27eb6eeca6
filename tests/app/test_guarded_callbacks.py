"""Every st.fragment and every widget callback in pages/ and components/ runs inside the guard (docs/robustness.md).

A source scan (ast): a fragment must be made with components.guard.guarded_fragment, never st.fragment; a
callback argument (on_click, on_change, on_submit, on_select, a custom component's on_<name>_change) must be a function decorated with @guarded_callback, a guarded_callback(...)
call, a name bound to one, or a constant ("ignore", "rerun", None)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([ROOT / "streamlit_app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "components").rglob("*.py")])
GUARD_FILE = ROOT / "components" / "guard.py"


def _is_name(node: ast.AST, name: str) -> bool:
    """`name` or `<anything>.name`."""
    return (isinstance(node, ast.Name) and node.id == name) or (isinstance(node, ast.Attribute) and node.attr == name)


def _is_callback_arg(name: str | None) -> bool:
    """Streamlit's callback keywords: on_click, on_change, on_submit, on_select, a custom component's on_<x>_change."""
    return bool(name) and (name in ("on_click", "on_change", "on_submit", "on_select")
                           or (name.startswith("on_") and name.endswith("_change")))


def _is_guard_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _is_name(node.func, "guarded_callback")


def guarded_names(tree: ast.AST) -> set[str]:
    """Names in a module bound to a guarded callback: decorated defs and `x = guarded_callback(...)`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(_is_name(d, "guarded_callback") for d in node.decorator_list):
                names.add(node.name)
        elif isinstance(node, ast.Assign) and _is_guard_call(node.value):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _callback_ok(value: ast.AST, guarded: set[str]) -> bool:
    if isinstance(value, ast.Constant):
        return True  # None, "ignore", "rerun"
    if isinstance(value, ast.IfExp):
        return _callback_ok(value.body, guarded) and _callback_ok(value.orelse, guarded)
    if _is_guard_call(value):
        return True
    return isinstance(value, ast.Name) and value.id in guarded


def unguarded(source: str, filename: str = "<src>") -> list[str]:
    """'file:line what' for every fragment and callback outside the guard."""
    tree = ast.parse(source, filename)
    guarded = guarded_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "fragment" and _is_name(node.value, "st"):
            found.append(f"{filename}:{node.lineno} st.fragment (use guarded_fragment)")
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if _is_callback_arg(kw.arg) and not _callback_ok(kw.value, guarded):
                    found.append(f"{filename}:{kw.value.lineno} {kw.arg}={ast.unparse(kw.value)} (use guarded_callback)")
    return found


def test_every_fragment_and_callback_is_guarded():
    problems = []
    for path in SOURCES:
        if path != GUARD_FILE:
            problems += unguarded(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", [
    "import streamlit as st\n@st.fragment\ndef f(): pass\n",
    "import streamlit as st\n@st.fragment(run_every=1)\ndef f(): pass\n",
    "import streamlit as st\nbody = st.fragment(lambda: None)\n",
    "def go(): pass\nst.button('x', on_click=go)\n",
    "st.button('x', on_click=lambda: None)\n",
    "def panel(on_release):\n    _component(key='k', on_knobs_change=on_release)\n",
    "def go(): pass\nst.toggle('x', on_change=go if True else None)\n",
    "def outer():\n    def go(): pass\n    st.form_submit_button('x', on_click=go)\n",
])
def test_the_scan_finds_an_unguarded_one(source):
    assert unguarded(source)


@pytest.mark.parametrize("source", [
    "@guarded_fragment\ndef f(): pass\n",
    "@guarded_callback\ndef go(): pass\nst.button('x', on_click=go)\n",
    "def go(): pass\nst.button('x', on_click=guarded_callback(go))\n",
    "def go(): pass\ncb = guarded_callback(go)\nst.button('x', on_change=cb if True else None)\n",
    "st.download_button('x', b'', on_click='ignore')\n",
])
def test_the_scan_accepts_a_guarded_one(source):
    assert not unguarded(source)
