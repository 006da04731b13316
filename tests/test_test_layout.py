"""Tests mirror the code: every core and backend module with logic has a test module of its own that imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
# Modules tested so far only through other test files (named beside each): the list may only shrink (a
# test below fails when one of them gets its test module and is still listed).
AWAITING_TESTS: frozenset[str] = frozenset()


def _has_logic(path: Path) -> bool:
    """Whether a module defines a function or a class (aliases and re-exports alone are not logic)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for node in ast.walk(tree))


def _dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _candidates(path: Path) -> list[Path]:
    """Where a module's tests may live: ``tmfgate/a/b.py`` in ``tests/a/test_b.py``; ``backends/a/b.py`` in
    ``tests/backends/test_a_b.py``, ``tests/backends/a/test_b.py`` or ``tests/backends/test_b.py``; a
    package's ``__init__.py`` is named after the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    top, inner = parts[0], parts[1:]
    name = inner[-1] if inner else top
    if top == "tmfgate":
        return [TESTS.joinpath(*inner[:-1], f"test_{name}.py")]
    folder = TESTS / "backends"
    return [
        folder / f"test_{'_'.join(inner)}.py" if inner else folder / f"test_{name}.py",
        folder.joinpath(*inner[:-1], f"test_{name}.py"),
        folder / f"test_{name}.py",
    ]


def _imported(test: Path) -> set[str]:
    """Every module a test module imports, with each ``from m import n`` counted as ``m`` and ``m.n``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(test.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules_without_tests() -> dict[str, str]:
    """The core and backend modules with logic that no test module of their name imports, with where to put one."""
    missing = {}
    for package in ("tmfgate", "backends"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if not _has_logic(path):
                continue
            dotted = _dotted(path)
            if not any(test.is_file() and dotted in _imported(test) for test in _candidates(path)):
                wanted = _candidates(path)[0].relative_to(ROOT)
                missing[path.relative_to(ROOT).as_posix()] = f"tests expected in {wanted}, importing {dotted}"
    return missing


def test_every_core_and_backend_module_has_a_test_module_of_its_own() -> None:
    missing = {module: where for module, where in modules_without_tests().items() if module not in AWAITING_TESTS}
    assert not missing, "modules without a test module of their own:\n  " + "\n  ".join(
        f"{module} ({where})" for module, where in missing.items()
    )


def test_the_modules_awaiting_tests_only_get_fewer() -> None:
    tested = sorted(AWAITING_TESTS - modules_without_tests().keys())
    assert not tested, f"{', '.join(tested)} now have their test modules: remove them from AWAITING_TESTS"


def test_the_layout_check_finds_a_module_without_tests(tmp_path: Path) -> None:
    module = tmp_path / "lonely.py"
    module.write_text("def f() -> int:\n    return 1\n")
    aliases = tmp_path / "aliases.py"
    aliases.write_text("from typing import Any\n\nDocument = dict[str, Any]\n")
    assert _has_logic(module) and not _has_logic(aliases)
    test = TESTS / "test_test_layout.py"
    assert "tests.test_test_layout" not in _imported(test) and "ast" in _imported(test)
    assert _candidates(ROOT / "tmfgate" / "notifications" / "hub.py") == [TESTS / "notifications" / "test_hub.py"]
    assert TESTS / "backends" / "test_sql_store.py" in _candidates(ROOT / "backends" / "sql" / "store.py")
    assert _candidates(ROOT / "backends" / "__init__.py")[0] == TESTS / "backends" / "test_backends.py"
