"""Reading text that is not CSV: whitespace-aligned, fixed-width, or multi-character delimiters.

Why not the CSV reader: a whitespace-aligned file has a variable number of spaces between
fields, a fixed-width file has no separator at all, and both are common exports of older
systems (CDNOW's purchase log is one). Each line is read whole and split here; a line whose
field count does not match the declared columns is quarantined with the reason instead of
being cut or padded silently.
"""

from __future__ import annotations

import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from engine.spec.steps import ReadStep
from engine.steps.context import Loss, StepContext
from engine.steps.counting import ObservedCount
from engine.steps.quarantine import quarantine_rows

_LINE, _FIELDS = "__line", "__fields"


def _split(step: ReadStep) -> tuple[Column, Column]:
    """(array of field values, number of fields found) for each line."""
    opts = step.text
    assert opts is not None
    line = F.col(_LINE)
    if opts.widths is not None:
        fields, start = [], 1
        for width in opts.widths:
            fields.append(F.substring(line, start, width))
            start += width
        rest = F.substring(line, start, 1 << 30)
        # a fixed-width line has as many fields as widths, plus one when text runs past the last column
        count = F.lit(len(opts.widths)) + F.when(F.length(F.trim(rest)) > 0, 1).otherwise(0)
        return F.array(*fields), count
    if opts.delimiter == "whitespace":
        parts = F.split(F.trim(line), r"[ \t]+")
    else:
        parts = F.split(line, re.escape(opts.delimiter), -1)
    return parts, F.size(parts)


def run_read_text(step: ReadStep, ctx: StepContext) -> DataFrame:
    """Lines -> declared columns (text, then cast to the declared types); bad lines to quarantine."""
    opts = step.text
    assert opts is not None and step.columns
    names = list(step.columns)
    lines = (ctx.spark.read.option("encoding", opts.encoding).text(ctx.source_paths(step.path))
             .withColumnRenamed("value", _LINE))
    if step.add_metadata:
        lines = lines.withColumn("_source_file", F.input_file_name())
    lines = lines.filter(F.trim(F.regexp_replace(F.col(_LINE), "\r$", "")) != "")
    lines = lines.withColumn(_LINE, F.regexp_replace(F.col(_LINE), "\r$", ""))
    if opts.comment:
        lines = lines.filter(~F.col(_LINE).startswith(opts.comment))
    parts, count = _split(step)
    split = lines.withColumn("__parts", parts).withColumn(_FIELDS, count)
    values = [F.col("__parts")[i] for i in range(len(names))]
    if opts.trim:
        values = [F.trim(v) for v in values]
    values = [F.when(v != "", v) for v in values]
    if opts.header:  # the header line is the one whose values are the column names
        is_header = F.coalesce(F.array(*values) == F.array(*[F.lit(n) for n in names]), F.lit(False))
        split = split.filter(~is_header)
    before = ObservedCount(split)
    split = before.frame
    bad = split.filter(F.col(_FIELDS) != len(names))
    reason = F.concat(F.lit(f"expected {len(names)} fields, found "), F.col(_FIELDS).cast("string"),
                      F.lit(": "), F.col(_LINE))
    kept = [F.col(_LINE), F.col(_FIELDS), F.col(_LINE).alias("line"), *(["_source_file"] if step.add_metadata else [])]
    ctx.quarantine.append(quarantine_rows(bad.select(*kept), "text_fields", reason, ctx))
    good = split.filter(F.col(_FIELDS) == len(names))
    typed = [v.cast(kind).alias(name) if kind.lower() != "string" else v.alias(name)
             for v, (name, kind) in zip(values, step.columns.items())]
    extra = [F.current_timestamp().alias("_ingested_at"), F.col("_source_file"), F.lit(ctx.run_id).alias("_run_id")] \
        if step.add_metadata else []
    after = ObservedCount(good.select(*typed, *extra))
    ctx.losses.append(Loss("quarantined", ctx.step_label, before=before, after=after))
    return after.frame
