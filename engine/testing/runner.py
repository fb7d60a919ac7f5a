"""``medallion test``: every spec unit test in one local Spark session, without the lake.

Each test gets its own step context (frames, quarantine, counters) and its input rows typed
from the upstream outputs that ``validate`` derives; a failure prints the row diff and the
test's ``file:line``, and the command exits 1 when any test fails.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any, Callable

from engine.errors import MedallionError, SpecError
from engine.plan.check import ProjectSchemas
from engine.plan.graph import Graph
from engine.spec.loader import LoadedSpec, load_spec
from engine.spec.suggest import did_you_mean
from engine.spec.unit_tests import SpecTest
from engine.testing.diff import diff_rows


@dataclass
class TestResult:
    """The outcome of one spec test."""

    spec: str
    name: str
    location: str
    passed: bool
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class TestSetup:
    """What running tests needs from the workspace (no lake, no warehouse)."""

    graph: Graph
    schemas: ProjectSchemas
    root: Path
    variables: dict[str, Any]
    spark: Any
    secrets: Any = None


def collect(graph: Graph, names: list[str]) -> list[tuple[LoadedSpec, int]]:
    """(spec, test index) of every test of the selected specs, in run order."""
    return [(graph.specs[n], i) for n in names for i in range(len(graph.specs[n].spec.tests))]


def _with_vars(loaded: LoadedSpec, test: SpecTest, index: int, setup: TestSetup) -> LoadedSpec:
    """The spec re-read with the test's variable overrides (interpolation happens at load)."""
    if not test.vars:
        return loaded
    for key in test.vars:
        if key not in setup.variables:
            raise loaded.doc.error(("tests", index, "vars", key), f"unknown variable '{key}'"
                                   f"{did_you_mean(key, setup.variables)}; declare it in medallion.yaml")
    return load_spec(setup.root / loaded.path, {**setup.variables, **test.vars}, display_path=loaded.path)


def _quarantined(ctx: Any) -> list[dict[str, Any]]:
    if not ctx.quarantine:
        return []
    rows = reduce(lambda a, b: a.unionByName(b), ctx.quarantine).collect()
    return [{**json.loads(r["_record"]), "_rule": r["_rule"], "_reason": r["_reason"]} for r in rows]


def _row_locator(loaded: LoadedSpec, index: int, alias: str) -> Callable[[int], SpecError]:
    """Row ``i`` of ``given.<alias>`` of test ``index``, as an error to raise at its line."""
    return lambda i: loaded.doc.error(("tests", index, "given", alias, i), f"given '{alias}' row {i + 1}")


def run_one(loaded: LoadedSpec, index: int, setup: TestSetup) -> TestResult:
    """Run test ``index`` of ``loaded``; never raises for a failing or broken test."""
    from engine.steps.context import StepContext
    from engine.testing.frames import given_frame, session_rows
    from engine.testing.harness import run_steps, source_names

    test = loaded.spec.tests[index]
    location = f"{loaded.path}:{loaded.doc.line_of(('tests', index))}"
    started = time.monotonic()
    result = TestResult(loaded.spec.name, test.name, location, False)
    try:
        spec_loaded = _with_vars(loaded, test, index, setup)
        spec = spec_loaded.spec
        allowed = list(spec.inputs) + source_names(spec_loaded)
        for key in test.given:
            if key not in allowed:
                raise loaded.doc.error(("tests", index, "given", key), f"given '{key}' is not an input of "
                                       f"{spec.name}{did_you_mean(key, allowed)} (inputs: {', '.join(allowed)})")
        frames = {}
        for alias in [*spec.inputs, *[k for k in test.given if k not in spec.inputs]]:
            table = spec.inputs.get(alias)
            known = setup.schemas.outputs.get(table) if table else None
            types = {c: col.type for c, col in known.items()} if known else None
            if alias not in test.given and not types:
                raise loaded.doc.error(("tests", index, "given"), f"give rows for input '{alias}': its columns "
                                       "are not known before a run, so it cannot be left empty")
            frames[alias] = given_frame(setup.spark, test.given.get(alias, []), types,
                                        _row_locator(loaded, index, alias))
        ctx = StepContext(spark=setup.spark, run_id="test", base_dir=setup.root, spec_name=spec.name,
                          secrets=setup.secrets)
        sources = {k: frames.pop(k) for k in list(frames) if k not in spec.inputs}
        output = run_steps(spec_loaded, ctx, frames, sources)
        expected = test.expect
        named = list(dict.fromkeys(k for row in expected.rows for k in row))
        missing = [c for c in named if c not in output.columns]
        if missing:
            result.lines = [f"column '{c}' is not in the output{did_you_mean(c, output.columns)} "
                            f"(columns: {', '.join(output.columns)})" for c in missing]
        else:
            rows = session_rows(output, named)
            result.lines = diff_rows(expected.rows, rows, ordered=expected.ordered, tolerance=expected.tolerance,
                                     keys=spec.output.keys)
            if expected.quarantined is not None:
                result.lines += [f"quarantine: {line}" for line in
                                 diff_rows(expected.quarantined, _quarantined(ctx), tolerance=expected.tolerance)]
        result.passed = not result.lines
    except SpecError as exc:
        result.lines = [str(exc)]
    except MedallionError as exc:
        result.lines = [f"the spec failed: {exc}"]
    result.seconds = round(time.monotonic() - started, 2)
    return result


def run_tests(setup: TestSetup, names: list[str], report: Any) -> list[TestResult]:
    """Run every test of ``names``; ``report(result)`` is called as each one finishes."""
    results = []
    for loaded, index in collect(setup.graph, names):
        result = run_one(loaded, index, setup)
        report(result)
        results.append(result)
    return results
