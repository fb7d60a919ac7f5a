"""``medallion preview``: one spec on a sample, shown and thrown away.

Inputs are the committed versions of the upstream tables when they exist (the real data, so
what you see is what a run would build); an upstream table never committed is computed in
memory by running its own spec the same way. Source steps (file reads) and inputs are sampled
by ``fraction``. Nothing is written: no lake version, no run record, no warehouse refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pyspark.sql import DataFrame

from engine.steps.context import StepContext
from engine.testing.harness import run_steps


@dataclass
class PreviewResult:
    """The first rows, the schema and the counts of a preview."""

    columns: list[str]
    rows: list[list[Any]]
    schema: list[tuple[str, str]]
    total: int
    quarantined: int


def _sampled(frame: DataFrame, fraction: float) -> DataFrame:
    return frame if fraction >= 1.0 else frame.sample(fraction=fraction, seed=21)


def preview_spec(ws: Any, name: str, fraction: float, limit: int, say: Callable[[str], None]) -> PreviewResult:
    """Build ``name`` on a sample of its inputs; returns its first ``limit`` rows."""
    from engine.run.runner import read_table

    spark = ws.spark()
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    built: dict[str, tuple[DataFrame, StepContext]] = {}

    def build(spec_name: str) -> tuple[DataFrame, StepContext]:
        if spec_name in built:
            return built[spec_name]
        loaded = ws.graph.specs[spec_name]
        inputs: dict[str, DataFrame] = {}
        for alias, table in loaded.spec.inputs.items():
            committed = ws.lake.current(table)
            if committed is not None:
                say(f"input {alias}: {table} version {committed.version} (committed by run {committed.run_id})")
                inputs[alias] = _sampled(read_table(spark, ws.lake, table)[0], fraction)
            else:
                say(f"input {alias}: {table} is not committed yet; building it in memory from its spec")
                inputs[alias] = build(ws.graph.specs[table].spec.name)[0]
        ctx = StepContext(spark=spark, run_id="preview", base_dir=ws.project.root, spec_name=spec_name,
                          secrets=ws.secrets, source=ws.project.profile.source)
        frame = run_steps(loaded, ctx, inputs, on_source=lambda step, df: _sampled(df, fraction))
        built[spec_name] = (frame, ctx)
        return built[spec_name]

    frame, ctx = build(name)
    frame = frame.cache()
    rows = [list(r) for r in frame.limit(limit).collect()]
    total = frame.count()
    quarantined = sum(q.count() for q in ctx.quarantine)
    schema = [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]
    frame.unpersist()
    return PreviewResult(frame.columns, rows, schema, total, quarantined)
