"""Row-wise steps: select, rename, cast, derive, filter, dedupe. Expressions are Spark SQL."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from engine.io.identifiers import quote_identifier as shared_quote
from engine.spec.steps import (CastStep, DedupeStep, DeriveStep, FilterStep, MapValuesStep, RenameStep, SelectStep,
                               TrimStep)
from engine.steps.context import Loss, StepContext
from engine.steps.counting import ObservedCount


def run_select(step: SelectStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Keep or compute the listed columns, in order."""
    return frame.selectExpr(*step.columns)


def run_rename(step: RenameStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Rename columns; a missing source column is an error, not a silent no-op."""
    missing = [c for c in step.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"rename: no column {', '.join(missing)} (have: {', '.join(frame.columns)})")
    return frame.withColumnsRenamed(step.columns)


def run_cast(step: CastStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Cast columns to the given Spark types."""
    missing = [c for c in step.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"cast: no column {', '.join(missing)} (have: {', '.join(frame.columns)})")
    return frame.withColumns({c: F.col(c).cast(t) for c, t in step.columns.items()})


def run_derive(step: DeriveStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Add or replace columns in order, so a later expression can use an earlier column."""
    for name, expression in step.columns.items():
        frame = frame.withColumn(name, F.expr(expression))
    return frame


def blank_as_null(value: Column) -> Column:
    """Trimmed text, with an empty result as null (a blank is a missing value, not a value)."""
    trimmed = F.trim(value)
    return F.when(trimmed != "", trimmed)


def run_trim(step: TrimStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Trim text columns; blanks become null so not-null rules see them as missing."""
    text = [f.name for f in frame.schema.fields if f.dataType.simpleString() == "string"]
    columns = step.columns or text
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"trim: no column {', '.join(missing)}")
    clean = blank_as_null if step.blank_as_null else F.trim
    return frame.withColumns({c: clean(F.col(c)) for c in columns})


def run_map_values(step: MapValuesStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Known bad values become their mapped value; every other value is kept."""
    if step.column not in frame.columns:
        raise ValueError(f"map_values: no column {step.column}")
    pairs = [F.lit(x) for kv in step.mapping.items() for x in kv]
    mapped = F.coalesce(F.create_map(*pairs)[F.col(step.column)], F.col(step.column))
    return frame.withColumn(step.target or step.column, mapped)


def run_filter(step: FilterStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Keep rows where the condition is true (null counts as false, as in SQL).

    Removed rows are *filtered*, not lost: the conservation check counts them.
    """
    before = ObservedCount(frame)
    after = ObservedCount(before.frame.filter(F.expr(step.condition)))
    ctx.losses.append(Loss("filtered", ctx.step_label, before=before, after=after))
    return after.frame


def run_dedupe(step: DedupeStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """One row per key; with ``order_by`` the first row in that order is kept (deterministic)."""
    keys = step.keys or frame.columns
    before = ObservedCount(frame)
    frame = before.frame
    if not step.order_by:
        result = frame.dropDuplicates(keys)
    else:
        marker = "__medallion_rn"
        window = over_clause(keys, step.order_by)
        ranked = frame.selectExpr("*", f"row_number() OVER ({window}) AS {marker}")
        result = ranked.filter(F.col(marker) == 1).drop(marker)
    after = ObservedCount(result)
    ctx.losses.append(Loss("deduplicated", ctx.step_label, before=before, after=after))
    return after.frame


def quote_identifier(name: str) -> str:
    """Backtick-quote a column name for Spark SQL text (the shared quoter, Spark's character)."""
    return shared_quote(name, "`")


def over_clause(partition_by: list[str], order_by: list[str], frame: str = "") -> str:
    """The text inside ``OVER (...)``; order items are SQL (``col desc nulls last``)."""
    parts = []
    if partition_by:
        parts.append("PARTITION BY " + ", ".join(quote_identifier(c) for c in partition_by))
    if order_by:
        parts.append("ORDER BY " + ", ".join(order_by))
    if frame:
        parts.append(frame)
    return " ".join(parts)
