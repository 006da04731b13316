"""The package layering STYLE.md asks for, read from the source: what imports what.

Counted over every import statement (top-level, lazy and ``TYPE_CHECKING`` alike): the core names
no handler module and no TMF API, has no import cycle, and backends and the conformance tool import
nothing of the gateway.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API_NAME = re.compile(r"\btmf6\d\d\w*|\bhandlers\b")


def modules(package: str) -> dict[str, Path]:
    """Every module of a package by dotted name."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(path: Path, name: str) -> Iterator[str]:
    """The modules ``path`` imports, as dotted names, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def graph(package: str) -> dict[str, set[str]]:
    known = modules(package)
    return {
        name: {other for other in imports(path, name) if other in known and other != name}
        for name, path in known.items()
    }


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for other in sorted(edges[node]):
            if state.get(other) == 1:
                return [*stack[stack.index(other) :], other]
            if other not in state and (found := visit(other)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_core_has_no_import_cycle() -> None:
    found = cycle(graph("tmfgate"))
    assert found is None, f"tmfgate/ imports in a circle: {' -> '.join(found or [])}"


@pytest.mark.parametrize("package", ["tmfgate", "backends", "conformance"])
def test_nothing_below_the_handlers_imports_them(package: str) -> None:
    for name, path in modules(package).items():
        wrong = sorted(other for other in imports(path, name) if other == "handlers" or other.startswith("handlers."))
        assert not wrong, f"{path.relative_to(ROOT)} imports {', '.join(wrong)}"


def test_backends_and_the_conformance_tool_stand_alone() -> None:
    for package, allowed in (("backends", "backends"), ("conformance", "conformance")):
        for name, path in modules(package).items():
            ours = {other.split(".")[0] for other in imports(path, name)} & {
                "tmfgate",
                "handlers",
                "backends",
                "conformance",
            }
            assert ours <= {allowed}, f"{path.relative_to(ROOT)} imports {', '.join(sorted(ours - {allowed}))}"


def test_the_core_names_no_api_in_its_code() -> None:
    """Strings and names in the core's code (not its docstrings) never name a TMF API or a handler module."""
    for path in modules("tmfgate").values():
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            text = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value
            elif isinstance(node, ast.Name):
                text = node.id
            assert text is None or not API_NAME.search(text), (
                f"{path.relative_to(ROOT)}:{node.lineno} names {text!r}: the core must not know APIs or handlers"
            )


def test_the_core_finds_no_hook_by_attribute_name() -> None:
    for path in modules("tmfgate").values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                assert not (len(node.args) > 1 and isinstance(node.args[1], ast.Constant)), (
                    f"{path.relative_to(ROOT)}:{node.lineno} looks a hook up by name; declare it in the extension"
                )
            if isinstance(node, ast.Attribute) and node.attr == "import_module":
                pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} imports a module by name")
