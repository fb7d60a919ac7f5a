"""The package layout the design promises: the engine never imports the AWS tooling.

``infra/`` (deploy, template, orchestration) may import the engine; the engine runs on Glue
from a wheel that does not contain ``infra``, so an import the other way would fail there.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engine_never_imports_infra():
    offenders = sorted(
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "engine").rglob("*.py")
        for module in _imported_modules(path)
        if module == "infra" or module.startswith("infra.")
    )
    assert offenders == []


def test_the_scan_sees_an_infra_import(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom infra.template import build_template\n", encoding="utf-8")
    assert "infra.template" in _imported_modules(sample)
