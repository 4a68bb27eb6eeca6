"""The import picture has three floors: pages -> components -> lib, with no upward import and no cycle.

Read from the source with ast (every import, also those inside functions), so nothing is imported here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOOR = {"lib": 1, "components": 2, "pages": 3, "streamlit_app": 3}


def _modules() -> dict[str, Path]:
    files = [*ROOT.glob("lib/**/*.py"), *ROOT.glob("components/**/*.py"), *ROOT.glob("pages/*.py"),
             ROOT / "streamlit_app.py"]
    return {".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): f for f in files}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {x for x in _imports(f) if x in mods and x != m} for m, f in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_upward_import():
    graph = _graph()
    up = [f"{m} -> {x}" for m, xs in graph.items() for x in xs if FLOOR[x.split(".")[0]] > FLOOR[m.split(".")[0]]]
    assert up == []


def test_lib_never_imports_streamlit():
    assert [m for m, f in _modules().items() if m.startswith("lib")
            and any(x.split(".")[0] == "streamlit" for x in _imports(f))] == []


def test_no_cycle_between_modules_or_lib_packages():
    graph = _graph()
    assert _cycles(graph) == []

    def package(m: str) -> str:  # lib.training.live -> lib.training; lib.teaching.stages stays lib.teaching.stages
        return ".".join(m.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for m, xs in graph.items():
        packages.setdefault(package(m), set()).update(package(x) for x in xs if package(x) != package(m))
    assert _cycles(packages) == []


def test_the_checks_can_fail():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
