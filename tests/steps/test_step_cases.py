"""Every step type on tiny frames: input rows and expected rows live in tests/cases/steps/.

Expected rows there were written by hand from each step's definition; the harness only builds
the input frames, runs the one step, and compares (order-insensitive unless ``ordered``).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import reduce
from decimal import Decimal
import re
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from pyspark.sql.types import _parse_datatype_string

from engine.spec.secrets import EnvSecretProvider
from engine.spec.registry import STEP_TYPES, Step
from engine.steps import EXECUTORS
from engine.steps.context import StepContext
from engine.spec.yaml_source import load_yaml_text

CASES = sorted((Path(__file__).resolve().parents[1] / "cases" / "steps").glob("*.yaml"))


def _normal(value):
    if isinstance(value, (Decimal, date)):
        return str(value)
    return value


def _typed(value, kind: str):
    """ISO text in case files becomes a date/datetime for date and timestamp columns."""
    if isinstance(value, str) and kind == "date":
        return date.fromisoformat(value)
    if isinstance(value, str) and kind == "timestamp":
        return datetime.fromisoformat(value)
    return value


@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_step_case(case_path: Path, spark, tmp_path):
    case = load_yaml_text(case_path.read_text(encoding="utf-8"), case_path).data
    step = TypeAdapter(Step).validate_python(case["step"])
    ctx = StepContext(spark=spark, run_id="test-run", base_dir=tmp_path, spec_name="silver.case",
                      secrets=EnvSecretProvider(env=case.get("secrets", {})), step_label="step 1")
    for name, spec in (case.get("inputs") or {}).items():
        schema = _parse_datatype_string(spec["schema"])
        kinds = [f.dataType.simpleString() for f in schema.fields]
        rows = [tuple(_typed(v, k) for v, k in zip(r, kinds)) for r in spec["rows"]]
        ctx.frames[name] = spark.createDataFrame(rows, schema)
    if "read_file" in case:
        (tmp_path / case["read_file"]["name"]).write_bytes(case["read_file"]["text"].encode("utf-8"))
    frame = next(iter(ctx.frames.values()), None)
    if "error" in case:
        with pytest.raises(Exception, match=re.escape(case["error"])):
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
    if "quarantine" in expected or ctx.quarantine:
        quarantined = reduce(lambda a, b: a.unionByName(b), ctx.quarantine).collect() if ctx.quarantine else []
        assert sorted([(r["_rule"], r["_reason"]) for r in quarantined]) == \
            sorted(tuple(q) for q in expected.get("quarantine", []))
        for row in quarantined:  # the original values travel with the row
            assert row["_spec"] == "silver.case" and row["_run_id"] == "test-run" and row["_record"].startswith("{")
    if "rules" in expected:
        assert [(r.rule, r.failed) for r in ctx.rules] == [tuple(r) for r in expected["rules"]]
    if "losses" in expected:
        totals = {}
        for loss in ctx.losses:
            totals[loss.kind] = totals.get(loss.kind, 0) + loss.count()
        assert totals == expected["losses"]


# Step types that need a server are covered by end-to-end tests against the real server.
COVERED_ELSEWHERE = {"jdbc": "tests/io/test_postgres_flow.py", "clv_model": "tests/clv/test_clv_step.py"}


def test_every_step_type_has_an_executor_and_a_case():
    assert all(callable(EXECUTORS[name]) for name in STEP_TYPES)  # every registry entry resolves
    covered = {load_yaml_text(p.read_text(), p).data["step"]["type"] for p in CASES}
    root = Path(__file__).resolve().parents[2]
    assert all((root / test).is_file() for test in COVERED_ELSEWHERE.values())
    assert covered | set(COVERED_ELSEWHERE) == set(STEP_TYPES)
