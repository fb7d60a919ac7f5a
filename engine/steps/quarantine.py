"""The shape of a quarantined row: why it was set aside, by what, and its original values."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from engine.steps.context import StepContext

QUARANTINE_COLUMNS = ["_rule", "_reason", "_spec", "_step", "_run_id", "_quarantined_at", "_record"]


def quarantine_rows(rows: DataFrame, rule: str | Column, reason: Column, ctx: StepContext) -> DataFrame:
    """Rows in the quarantine shape; ``_record`` holds every original value as JSON text."""
    original = [c for c in rows.columns if not c.startswith("__")]
    return rows.select(
        (F.lit(rule) if isinstance(rule, str) else rule).cast("string").alias("_rule"),
        reason.cast("string").alias("_reason"),
        F.lit(ctx.spec_name).alias("_spec"),
        F.lit(ctx.step_label).alias("_step"),
        F.lit(ctx.run_id).alias("_run_id"),
        F.current_timestamp().alias("_quarantined_at"),
        F.to_json(F.struct(*[F.col(c) for c in original]), {"ignoreNullFields": "false"}).alias("_record"),
    )
