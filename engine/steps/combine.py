"""Steps that combine frames: join, union, aggregate, window, sql."""

from __future__ import annotations

import re

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from engine.spec.steps import AggregateStep, JoinStep, SqlStep, UnionStep, WindowFrame, WindowStep
from engine.steps.context import StepContext
from engine.steps.transform import over_clause, quote_identifier


def run_join(step: JoinStep, frame: DataFrame | None, ctx: StepContext) -> DataFrame:
    """Equi-join on key columns; keys appear once, other same-named columns are an error."""
    left = ctx.frame(step.left) if step.left else frame
    right = ctx.frame(step.right)
    assert left is not None  # guaranteed by load-time checks
    missing = [(side, k) for side, df in (("left", left), ("right", right)) for k in step.on if k not in df.columns]
    if missing:
        raise ValueError("join: missing key column(s) " + ", ".join(f"{k} on the {s}" for s, k in missing))
    clash = (set(left.columns) & set(right.columns)) - set(step.on)
    if clash and step.how not in ("anti", "semi"):
        raise ValueError(f"join: both sides have column(s) {', '.join(sorted(clash))}; "
                         "rename or drop them on one side first")
    how = {"anti": "left_anti", "semi": "left_semi", "full": "full_outer"}.get(step.how, step.how)
    return left.join(right, on=step.on, how=how)


def run_union(step: UnionStep, frame: DataFrame | None, ctx: StepContext) -> DataFrame:
    """Stack frames by column name (optionally filling missing columns with nulls)."""
    frames = [ctx.frame(n) for n in step.inputs]
    result = frames[0]
    for other in frames[1:]:
        result = result.unionByName(other, allowMissingColumns=step.allow_missing_columns)
    return result.distinct() if step.distinct else result


def run_aggregate(step: AggregateStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Group by columns; each metric is a named aggregate expression."""
    metrics = [F.expr(e).alias(n) for n, e in step.metrics.items()]
    return frame.groupBy(*step.group_by).agg(*metrics)


def _frame_clause(frame: WindowFrame | None) -> str:
    if frame is None:
        return ""

    def bound(value: int | None, unbounded: str) -> str:
        if value is None:
            return unbounded
        if value == 0:
            return "CURRENT ROW"
        return f"{abs(value)} {'PRECEDING' if value < 0 else 'FOLLOWING'}"

    return f"ROWS BETWEEN {bound(frame.start, 'UNBOUNDED PRECEDING')} AND {bound(frame.end, 'UNBOUNDED FOLLOWING')}"


_FRAMELESS = {"lag", "lead", "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile"}
_FUNCTION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def run_window(step: WindowStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Add window columns, e.g. ``lag(x)``, ``row_number()``, ``sum(x)`` with a running frame.

    The frame applies to aggregates only; ranking and offset functions (lag, row_number...)
    have a fixed frame in SQL and reject an explicit one.
    """
    framed = over_clause(step.partition_by, step.order_by, _frame_clause(step.frame))
    plain = over_clause(step.partition_by, step.order_by)
    keep = [quote_identifier(c) for c in frame.columns if c not in step.columns]
    added = []
    for name, expression in step.columns.items():
        match = _FUNCTION.match(expression)
        over = plain if match and match.group(1).lower() in _FRAMELESS else framed
        added.append(f"{expression} OVER ({over}) AS {quote_identifier(name)}")
    return frame.selectExpr(*keep, *added)


def run_sql(step: SqlStep, frame: DataFrame | None, ctx: StepContext) -> DataFrame:
    """Run a query where every named frame is visible as a view of that name.

    The views live in the spec's own session (specs running at the same time each have one,
    engine/run/spec_threads.py), so two specs' frames of one name never meet.
    """
    names = []
    try:
        for name, df in ctx.frames.items():
            df.createOrReplaceTempView(name)
            names.append(name)
        if frame is not None:
            frame.createOrReplaceTempView("previous")
            names.append("previous")
        result = ctx.spark.sql(step.query)
        # Resolve now, while the views exist; later actions use the analysed plan.
        result.schema  # noqa: B018
        return result
    finally:
        for name in names:
            drop_view(ctx.spark, name)


def drop_view(spark: SparkSession, name: str) -> None:
    """Forget a temp view's name, and only that.

    ``spark.catalog.dropTempView`` also uncaches the view's plan from the cache all sessions
    share: a frame this spec or another spec running at the same time persisted (with the same
    plan, e.g. the same input table read) would silently lose its cache. The session catalog's
    own drop removes the name alone.
    """
    spark._jsparkSession.sessionState().catalog().dropTempView(name)  # noqa: SLF001 - no public API
