"""The folder tree is the architecture: index/ below service/ below eval/. A module may import
from its own layer and those below it, never from above (the `sourced eval` command reaches the
CLI through an entry point, not an import)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ABOVE = {"index": {"service", "eval"}, "service": {"eval"}}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports, wherever the import stands (lazy ones too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(ABOVE))
def test_no_layer_imports_one_above_it(layer):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & ABOVE[layer])
        for path in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_checker_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from eval.report import write_html\n    import eval.run\n")
    assert imported_packages(module) == {"eval"}
