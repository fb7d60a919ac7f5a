"""Reading files into frames: CSV with an explicit schema (RFC 4180), Parquet, JSON."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType, _parse_datatype_string

from engine.spec.steps import ReadStep
from engine.steps.context import StepContext
from engine.steps.row_shape import CORRUPT, split_by_shape


def schema_of(columns: dict[str, str]) -> StructType:
    """A nullable Spark schema from an ordered ``column -> type`` mapping."""
    return StructType([StructField(name, _parse_datatype_string(kind), True) for name, kind in columns.items()])


def run_read(step: ReadStep, frame: DataFrame | None, ctx: StepContext) -> DataFrame:
    """Read the file(s); CSV records may span lines, quoted commas and quotes are data."""
    if step.format == "text":  # whitespace, fixed width, multi-character delimiters (issue 21)
        from engine.steps.read_text import run_read_text
        return run_read_text(step, ctx)
    path = ctx.source_paths(step.path)
    reader = ctx.spark.read
    strict = step.format == "csv" and bool(step.columns)
    if step.columns:
        declared = {**step.columns, CORRUPT: "string"} if strict else step.columns
        reader = reader.schema(schema_of(declared))
    if step.format == "csv":
        opts = step.csv
        reader = (reader.option("header", opts.header).option("sep", opts.delimiter)
                  .option("quote", opts.quote).option("escape", opts.escape)
                  .option("encoding", opts.encoding).option("multiLine", opts.multiline)
                  .option("mode", "PERMISSIVE"))
        if strict:
            reader = reader.option("columnNameOfCorruptRecord", CORRUPT)
        df = reader.csv(path)
        if strict:  # a record with more or fewer fields than declared is rejected, never trimmed
            df = split_by_shape(df, list(step.columns or {}), opts, ctx)
    elif step.format == "parquet":
        df = reader.parquet(path)
    else:
        df = reader.option("multiLine", False).json(path)
    if step.add_metadata:
        df = df.select(
            "*",
            F.current_timestamp().alias("_ingested_at"),
            F.input_file_name().alias("_source_file"),
            F.lit(ctx.run_id).alias("_run_id"),
        )
    return df
