"""Every step type on tiny frames: input rows and expected rows live in tests/cases/steps/.

Expected rows there were written by hand from each step's definition; the harness only builds
the input frames, runs the one step, and compares (order-insensitive unless ``ordered``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from engine.spec.steps import STEP_TYPES, Step
from engine.steps import EXECUTORS
from engine.steps.context import StepContext
from engine.spec.yaml_source import load_yaml_text

CASES = sorted((Path(__file__).resolve().parents[1] / "cases" / "steps").glob("*.yaml"))


def _normal(value):
    return str(value) if isinstance(value, Decimal) else value


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_step_case(case_path: Path, spark, tmp_path):
    case = load_yaml_text(case_path.read_text(encoding="utf-8"), case_path).data
    step = TypeAdapter(Step).validate_python(case["step"])
    ctx = StepContext(spark=spark, run_id="test-run", base_dir=tmp_path)
    for name, spec in (case.get("inputs") or {}).items():
        ctx.frames[name] = spark.createDataFrame([tuple(r) for r in spec["rows"]], spec["schema"])
    if "read_file" in case:
        (tmp_path / case["read_file"]["name"]).write_bytes(case["read_file"]["text"].encode("utf-8"))
    frame = next(iter(ctx.frames.values()), None)
    if "error" in case:
        with pytest.raises(Exception, match=case["error"].replace("(", r"\(").replace(")", r"\)")):
            EXECUTORS[step.type](step, frame, ctx).collect()
        return
    result = EXECUTORS[step.type](step, frame, ctx)
    expected = case["expected"]
    assert result.columns == expected["columns"]
    for column, kind in (expected.get("types") or {}).items():
        assert result.schema[column].dataType.simpleString() == kind
    got = [tuple(_normal(v) for v in row) for row in result.collect()]
    want = [tuple(row) for row in expected["rows"]]
    if expected.get("ordered"):
        assert got == want
    else:
        assert sorted(got, key=repr) == sorted(want, key=repr)


def test_every_step_type_has_an_executor_and_a_case():
    assert set(EXECUTORS) == set(STEP_TYPES)
    covered = {load_yaml_text(p.read_text(), p).data["step"]["type"] for p in CASES}
    assert covered == set(STEP_TYPES)
