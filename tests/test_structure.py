"""The package's shape: the rules in DESIGN.md that keep its rooms apart, checked from the source.

- the modules' imports of each other form no circle;
- the mask module knows id maps only (no result type, no model library, no Gradio);
- adapters and the rest of the library never import Gradio: only ``segdemo.ui`` does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "segdemo"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (absolute names), at any depth of the file."""
    found: set[str] = set()
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {
    name: {other for other in imports_of(path) if other in MODULES and other != name}
    for name, path in MODULES.items()
}


def test_there_are_modules_to_check() -> None:
    assert {"segdemo.masks", "segdemo.result", "segdemo.render", "segdemo.ui"} <= set(MODULES)


def test_no_import_circle() -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            # a package's __init__ importing its own submodules is not a circle
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_masks_know_id_maps_only() -> None:
    allowed = {"segdemo.checks"}
    assert GRAPH["segdemo.masks"] <= allowed, GRAPH["segdemo.masks"] - allowed
    third_party = {m.split(".")[0] for m in imports_of(MODULES["segdemo.masks"])}
    assert not third_party & {"gradio", "torchvision", "transformers", "PIL", "numpy"}


LIBRARY = sorted(n for n in MODULES if not n.startswith(("segdemo.ui", "segdemo.bench")))


@pytest.mark.parametrize("name", LIBRARY)
def test_only_the_ui_imports_gradio(name: str) -> None:
    assert not any(m.split(".")[0] == "gradio" for m in imports_of(MODULES[name])), name
