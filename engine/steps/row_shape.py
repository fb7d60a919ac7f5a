"""Strict CSV row shape: a record with more or fewer fields than declared is rejected, never trimmed.

Spark's CSV reader quietly drops a 14th field and pads a 12-field record with nulls. Reading
with a corrupt-record column shows which records did not fit; their fields are counted (quoted
delimiters and quoted newlines are data, so quoted sections are removed before counting) and a
record whose count differs from the declared columns goes to the spec's reject table with
``expected 13 fields, found 14`` and its raw text. A record with the right count whose value did
not fit its declared type keeps today's meaning (null), which is the typed layer's business.
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from engine.spec.steps import CsvOptions
from engine.steps.context import Loss, StepContext
from engine.steps.counting import ObservedMetrics

CORRUPT = "__corrupt_record"
RULE = "row_shape"


def _field_count(text: Column, opts: CsvOptions) -> Column:
    q, e, d = (re.escape(c) for c in (opts.quote, opts.escape, opts.delimiter))
    quoted = f"{q}(?:[^{q}{e}]|{e}.|{q}{q})*{q}" if opts.escape != opts.quote else f"{q}(?:[^{q}]|{q}{q})*{q}"
    bare = F.regexp_replace(text, quoted, "")
    return F.length(bare) - F.length(F.regexp_replace(bare, d, "")) + 1


class RejectedCount(Loss):
    """Rejected records, counted while the main write scans the file anyway (an observation)."""

    def __init__(self, step: str, observed: ObservedMetrics):
        super().__init__("quarantined", step)
        self.observed = observed

    def count(self) -> int:
        if self.rows is None:
            self.rows = int(self.observed.values()["rejected"] or 0)
        return self.rows


def split_by_shape(df: DataFrame, expected: list[str], opts: CsvOptions, ctx: StepContext) -> DataFrame:
    """The records that fit the declared columns; the others are added to ``ctx.rejected``."""
    found = _field_count(F.col(CORRUPT), opts)
    misshapen = F.col(CORRUPT).isNotNull() & (found != F.lit(len(expected)))
    observed = ObservedMetrics(df, [F.sum(misshapen.cast("long")).alias("rejected")])
    anchor = F.col(f"`{expected[0]}`")  # a raw CSV query may not reference the corrupt column alone
    rejected = observed.frame.filter(misshapen).select(
        F.lit(RULE).alias("_rule"),
        F.format_string(f"expected {len(expected)} fields, found %d", found).alias("_reason"),
        F.lit(ctx.spec_name).alias("_spec"),
        F.lit(ctx.step_label).alias("_step"),
        F.lit(ctx.run_id).alias("_run_id"),
        F.current_timestamp().alias("_quarantined_at"),
        F.coalesce(F.col(CORRUPT), anchor.cast("string")).alias("_record"),
        F.input_file_name().alias("_source_file"),
    )
    ctx.rejected.append(rejected)
    ctx.losses.append(RejectedCount(ctx.step_label, observed))
    return observed.frame.filter(~misshapen).drop(CORRUPT)
