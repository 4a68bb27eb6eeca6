"""No caller asks which kind of model it holds: pages and components use the NextTokenModel interface only.

Read from the source with ast, so nothing is imported here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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
    files = sorted([*ROOT.glob("pages/*.py"), *ROOT.glob("components/**/*.py"), ROOT / "streamlit_app.py"])
    found = {str(f.relative_to(ROOT)): hits for f in files if (hits := type_checks(f.read_text(encoding="utf-8")))}
    assert found == {}


# -- both backends answer the whole interface ---------------------------------------------------
def _members() -> set[str]:
    from lib.models.next_token import NextTokenModel

    tree = ast.parse((ROOT / "lib" / "models" / "next_token.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == NextTokenModel.__name__)
    return {n.target.id if isinstance(n, ast.AnnAssign) else n.name for n in cls.body
            if isinstance(n, (ast.AnnAssign, ast.FunctionDef))}


def api_backend():
    from lib.models.backends import open_model

    return open_model("openai:davinci-002", api={"base_url": "http://127.0.0.1:9/v1"})  # never contacted here


def test_every_backend_has_every_member(tiny_gpt2):
    members = _members()
    assert {"encode", "distribution", "generate", "chat_prompt", "token_labels", "token_row", "cache_key"} <= members
    for model in (tiny_gpt2, api_backend()):
        assert [m for m in sorted(members) if not hasattr(model, m)] == [], type(model).__name__


def test_token_rows_spell_the_text_back(tiny_gpt2):
    text = "Hello, world: 42 tokens"
    ids = tiny_gpt2.encode(text).ids
    assert b"".join(tiny_gpt2.token_row(i).raw for i in ids).decode("utf-8") == text
    assert [tiny_gpt2.token_row(i).id for i in ids] == list(ids)
    assert tiny_gpt2.token_row(tiny_gpt2.vocab_size) is None and tiny_gpt2.token_row(-1) is None
    assert len(tiny_gpt2.token_labels(ids)) == len(ids)


def test_an_api_backend_is_per_session_and_has_no_ids():
    model = api_backend()
    assert (model.name, model.endpoint) == ("davinci-002", "completions")  # a legacy completion model
    assert model.cache_key is None and not model.can_look_inside and not model.has_chat_template
    assert model.token_row(0) is None and model.tokenize("Hello") == []
    formatted = model.chat_prompt("Hello")
    assert formatted.templated and formatted.prompt.text == "Hello" and formatted.prompt.ids == ()
    model.close()


def test_open_model_names_a_folder_by_its_canonical_name():
    from lib.models import hub
    from lib.models.backends import open_model

    if not (hub.BUNDLED["pocket-lm"] / "config.json").exists():
        pytest.skip("the bundled model is not here")
    model = open_model(f"{hub.ASSETS}//pocket-lm")  # a second spelling of the bundled folder
    assert model.name == model.cache_key == "pocket-lm" and model.can_look_inside
