"""The import layers: every module imports only from its own layer or the layers below it.

theory < numerics.core < numerics.curvature < numerics.sweep < numerics.apps < numerics.verify
< numerics.cli.  Imports are read from the source (``ast``), including those inside functions,
so a late import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Layers from the bottom up; a module may import its own layer and any layer listed before it.
LAYERS: tuple[str, ...] = (
    "theory", "numerics.core", "numerics.curvature", "numerics.sweep", "numerics.apps",
    "numerics.verify", "numerics.cli",
)


def _layer(module: str) -> int | None:
    for rank in range(len(LAYERS) - 1, -1, -1):
        name = LAYERS[rank]
        if module == name or module.startswith(name + "."):
            return rank
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            out.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return out


SOURCES = sorted(p for pkg in ("theory", "numerics") for p in (ROOT / pkg).rglob("*.py"))


def test_sources_were_found():
    assert len(SOURCES) > 50


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_respect_the_layers(path: Path):
    module = _module_name(path)
    own = _layer(module)
    if own is None:  # numerics/__init__.py holds only the version
        assert module == "numerics", f"{module} is in no layer"
        return
    bad = sorted({imp for imp in _imports(path)
                  if (rank := _layer(imp)) is not None and rank > own})
    assert not bad, f"{module} ({LAYERS[own]}) imports a higher layer: {bad}"


def test_the_checker_sees_a_violation(tmp_path: Path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from numerics.cli import main\n")
    assert "numerics.cli" in _imports(src)
    assert _layer("numerics.cli") > _layer("numerics.core")
