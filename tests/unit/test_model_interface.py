"""No caller asks which kind of model it holds: pages and components use the NextTokenModel interface only.

Read from the source with ast, so nothing is imported here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = {"HFCausalLM", "OpenAIBackend"}


def _name(node: ast.AST) -> str:
    """`X` or `a.b.X` -> "X"; anything else -> ""."""
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def type_checks(source: str) -> list[str]:
    """isinstance/issubclass against a backend class, and getattr/hasattr on something called `model`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and len(node.args) >= 2):
            continue
        func = _name(node.func)
        if func in ("isinstance", "issubclass"):
            classes = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            if any(_name(c) in BACKENDS for c in classes):
                found.append(f"line {node.lineno}: {func}(…, {'|'.join(_name(c) for c in classes)})")
        elif func in ("getattr", "hasattr") and "model" in _name(node.args[0]).lower():
            found.append(f"line {node.lineno}: {func}({_name(node.args[0])}, …)")
    return found


def test_the_check_finds_type_checks():
    bad = ("isinstance(model, HFCausalLM)\nisinstance(m, (str, models.OpenAIBackend))\n"
           "getattr(model, 'tokenizer', None)\nhasattr(aligned_model, 'texts')\n")
    assert len(type_checks(bad)) == 4
    assert type_checks("isinstance(model, str)\ngetattr(st.session_state, 'x')\nmodel.token_labels(ids)\n") == []


def test_no_page_or_component_checks_a_models_type():
    files = sorted([*ROOT.glob("pages/*.py"), *ROOT.glob("components/*.py"), ROOT / "streamlit_app.py"])
    found = {str(f.relative_to(ROOT)): hits for f in files if (hits := type_checks(f.read_text(encoding="utf-8")))}
    assert found == {}
