"""The layer rule (design.md): no module imports from a package above its own: cli > webapp > training > db > core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAY_IMPORT = {
    "core": set(),
    "db": {"core"},
    "training": {"db", "core"},
    "webapp": {"training", "db", "core"},
    "cli": {"webapp", "training", "db", "core"},
}
# core is tested and reused without the web framework or the database (design.md).
CORE_NEVER_IMPORTS = {"gradio", "sqlalchemy"}


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) for every absolute import in a module, including imports inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _violations(package: str) -> list[str]:
    forbidden = set(MAY_IMPORT) - MAY_IMPORT[package] - {package}
    if package == "core":
        forbidden |= CORE_NEVER_IMPORTS
    return [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, imported in _imported_packages(path)
        if imported in forbidden
    ]


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_no_module_imports_from_a_higher_package(package: str) -> None:
    assert _violations(package) == []


def test_the_rule_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("from core.types import SolutionItem\n\n\ndef f():\n    import webapp.app\n")
    assert _imported_packages(module) == [(1, "core"), (5, "webapp")]
