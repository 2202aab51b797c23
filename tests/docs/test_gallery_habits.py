"""Every gallery script asserts what it shows and uses only the public API."""

import ast
from pathlib import Path

import pytest

GALLERY = Path(__file__).resolve().parents[2] / "docs" / "gallery"
SCRIPTS = sorted(GALLERY.glob("*.py"))


def test_there_are_scripts():
    assert len(SCRIPTS) >= 4


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_asserts_and_imports_nothing_private(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
    assert asserts, f"{path.name} shows results but asserts none of them"
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mods = (node.module or "").split(".")
            names = [a.name for a in node.names]
            private += [f"{node.module}.{n}" for n in names if n.startswith("_")]
            private += [node.module] if any(m.startswith("_") for m in mods) else []
        elif isinstance(node, ast.Import):
            private += [a.name for a in node.names
                        if any(m.startswith("_") for m in a.name.split("."))]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            private.append(node.attr)
    assert not private, f"{path.name} uses private names: {private}"
