"""One registry: every step type's model, executor and column rule resolve; specs load without Spark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.spec.registry import REGISTRY, STEP_TYPES, Step

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_step_type_resolves():
    assert len(STEP_TYPES) == len(REGISTRY)  # no type registered twice
    for kind in REGISTRY:
        assert callable(kind.run), kind.name
        assert callable(kind.infer), kind.name
        assert kind.model.model_fields["type"].annotation.__args__ == (kind.name,)
    union = {m.model_fields["type"].annotation.__args__[0] for m in Step.__origin__.__args__}  # type: ignore[attr-defined]
    assert union == set(STEP_TYPES)


def test_validating_a_project_imports_no_spark():
    code = ("import sys; from pathlib import Path; from engine.run.workspace import Workspace; "
            "from engine.plan.check import check_project; ws = Workspace.open(Path('.'), None, []); "
            "r = check_project(ws.graph); assert not r.errors, r.errors; "
            "print(sorted(m for m in sys.modules if m.startswith(('pyspark', 'py4j'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout
