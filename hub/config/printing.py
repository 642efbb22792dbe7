"""Showing the configuration as TOML that a person can read and load again.

Secrets are masked: each setting kind says how its value is shown (Setting.dump).
"""

from __future__ import annotations

from dataclasses import fields

from hub.config.settings import MASK, Table, as_toml, dotted


def show_config(config: object, source: str) -> str:
    """``config`` as TOML, every key, with secrets masked; ``source`` says where it came from."""
    lines = [f"# Effective configuration, from {source}.", f"# Secrets show as {MASK}."]
    _dump(config, "", lines)
    return "\n".join(lines) + "\n"


def _dump(section: object, path: str, lines: list[str]) -> None:
    """Append ``section``'s keys as TOML lines, its nested tables after them."""
    tables = []
    for f in fields(section):  # type: ignore[arg-type]
        kind = f.metadata.get("setting")
        value = getattr(section, f.name)
        if isinstance(kind, Table):
            tables.append((dotted(path, f.name), value))
        elif kind is not None:
            lines.append(f"{f.name} = {as_toml(kind.dump(value))}")
    for name, table in tables:
        lines += ["", f"[{name}]"]
        _dump(table, name, lines)
