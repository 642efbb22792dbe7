"""Dependencies point one way, cli → web → hub → hardware: no module imports a layer above it.

Read from the source with ``ast`` rather than by importing, so that an import inside a
function (the CLI's lazy ones, say) counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package: what it must never import (the layers above it, and the panel's framework)
FORBIDDEN = {
    "hub": {"web", "cli", "flask"},
    "hardware": {"hub", "web", "cli", "flask"},
}


def _package(path: Path) -> str:
    """The package the module at ``path`` is in (itself, for an ``__init__.py``)."""
    return ".".join(path.relative_to(ROOT).parent.parts)


def imports(path: Path, package: str) -> list[tuple[int, str]]:
    """Every module ``path`` (in ``package``) imports, anywhere in it, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((node.lineno, name))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def violations(package: str) -> list[str]:
    """Each import in ``package`` of something it must not import, as file:line: module."""
    forbidden = FORBIDDEN[package]
    return [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in imports(path, _package(path))
        if name.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_nothing_imports_a_layer_above_it(package):
    assert violations(package) == []


def test_the_walk_sees_imports_inside_functions_and_relative_ones(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        "import os\n"
        "from . import events\n"
        "def serve():\n"
        "    from web.serve import serve\n"
        "    from ..cli import main\n"
        "    importlib.import_module('cli.main')\n"
    )
    names = [name for _line, name in imports(source, "hub.line")]
    assert sorted(names) == sorted(["os", "hub.line", "web.serve", "hub.cli", "cli.main"])
