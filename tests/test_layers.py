"""Dependencies point one way, cli → web → hub → hardware: no module imports a layer above it;
and a call attempt's row has one writer, ``hub/calls.py``.

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


def attempt_writes(path: Path) -> list[str]:
    """Where the module at ``path`` makes or changes a call attempt's row itself, by line.

    A ``CallAttempt(...)``, an ``update``/``insert``/``delete`` of ``CallAttempt``, or an
    assignment to an attribute of something named like an attempt.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            first = node.args[0] if node.args else None
            if node.func.id == "CallAttempt" or (
                node.func.id in ("update", "insert", "delete")
                and isinstance(first, ast.Name)
                and first.id == "CallAttempt"
            ):
                found.append(f"{node.lineno}: {node.func.id}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                f"{node.lineno}: {target.value.id}.{target.attr} ="
                for target in targets
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and "attempt" in target.value.id.lower()
            ]
    return sorted(found, key=lambda where: int(where.split(":")[0]))


def test_only_the_calls_module_writes_a_call_attempt():
    writers = {
        f"{path.relative_to(ROOT)}:{where}"
        for package in ("hub", "web", "cli", "hardware")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for where in attempt_writes(path)
    }
    assert writers and all(writer.startswith("hub/calls.py:") for writer in writers), sorted(
        writer for writer in writers if not writer.startswith("hub/calls.py:")
    )


def test_the_attempt_walk_sees_each_way_of_writing_one(tmp_path):
    module = tmp_path / "writer.py"
    module.write_text(
        "def f(session, attempt, call_attempt):\n"
        "    session.add(CallAttempt(staff_id=1))\n"
        "    session.execute(update(CallAttempt).values(notes=''))\n"
        "    attempt.notes = 'x'\n"
        "    call_attempt.ended_at += 1\n"
    )
    assert attempt_writes(module) == [
        "2: CallAttempt",
        "3: update",
        "4: attempt.notes =",
        "5: call_attempt.ended_at =",
    ]
