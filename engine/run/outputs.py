"""Reading committed tables and writing a spec's outputs: the lake-facing half of a spec's stages.

Where a spec's side tables live: ``quarantine.<layer>_<name>`` for rows a rule set aside (as
before), and, beside its table in its own layer, ``<table>__rejected`` for records that did not
fit the declared row shape and ``<table>__superseded`` for older versions of re-delivered keys.
Rejected and superseded rows are raw source rows, so they stay in the spec's layer (a bronze
card number never leaves bronze).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from engine.io.lake import Lake, PendingWrite
from engine.run import incremental
from engine.steps.counting import ObservedMetrics

WATERMARK_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


def read_table(spark: SparkSession, lake: Lake, table: str) -> tuple[DataFrame, int]:
    """A committed lake table as a frame, and its recorded row count (a missing folder is named)."""
    version = lake.require(table)
    return read_version(spark, version), version.rows


def read_version(spark: SparkSession, version: Any) -> DataFrame:
    """One committed version's files as a frame (partition columns kept).

    The schema is the one its manifest recorded when it was written (:func:`manifest_schema`):
    letting Spark infer it costs a Spark job per read (it opens a file footer in a task), about
    a fifth of a run's jobs. Without a usable manifest schema Spark infers it as before.
    """
    reader = spark.read.option("basePath", version.path) if version.partition_by else spark.read
    ddl = manifest_schema(version)
    if ddl is not None:
        try:
            reader = reader.schema(ddl)
        except Exception:  # noqa: BLE001 - a type the DDL parser does not take back: infer it
            pass
    return reader.parquet(version.path)


def manifest_schema(version: Any) -> str | None:
    """The written frame's schema as DDL, from the version's manifest; None to let Spark infer it.

    The manifest records each column's name and type as the writer's frame had them, and the
    files hold exactly those (Spark reads every file column as nullable either way). Partitioned
    versions are left to inference: Spark types partition columns from their folder names
    (a boolean folder value reads back as a string), and readers must keep seeing what they saw.
    """
    columns = getattr(version, "columns", None) or []
    if not columns or getattr(version, "partition_by", None):
        return None
    if not all(isinstance(c, dict) and c.get("name") and c.get("type") for c in columns):
        return None
    return ", ".join(f"`{c['name'].replace('`', '``')}` {c['type']}" for c in columns)


def quarantine_table(spec_name: str) -> str:
    """Where a spec's quarantined rows go: ``quarantine.<layer>_<name>``."""
    return "quarantine." + spec_name.replace(".", "_")


def side_tables(spec: Any) -> dict[str, str]:
    """The side tables of a spec, by kind."""
    return {"quarantine": quarantine_table(spec.name), "rejected": f"{spec.output.table}__rejected",
            "superseded": f"{spec.output.table}__superseded"}


def write(frame: DataFrame, pending: PendingWrite, partition_by: list[str]) -> int:
    """Write a version folder; its row count comes from the written Parquet footers."""
    writer = frame.write.mode("errorifexists")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.parquet(str(pending.path))
    return written_rows(frame.sparkSession, pending.path)


def written_rows(spark: SparkSession, path: Any) -> int:
    """Rows in a written Parquet folder, summed from the file footers (no Spark job).

    Only a local folder is read that way; a URL (``s3://…`` on Glue, ``file://``) or a footer
    that cannot be read is counted by Spark, so the number is always the truth.
    """
    local = Path(str(path))
    if "://" not in str(path) and local.is_dir():
        try:
            import pyarrow.parquet as pq

            files = [f for f in local.rglob("*.parquet") if not f.name.startswith((".", "_"))]
            return sum(pq.read_metadata(f).num_rows for f in files)
        except Exception:  # noqa: BLE001 - the footers are an optimisation, the count is the truth
            pass
    return spark.read.parquet(str(path)).count()


def columns_of(frame: DataFrame) -> list[dict[str, str]]:
    """The column list a manifest records."""
    return [{"name": f.name, "type": f.dataType.simpleString()} for f in frame.schema.fields]


def watermark_observer(frame: DataFrame, column: str) -> ObservedMetrics:
    """The largest time of the table about to be written, observed while it is written.

    The same expression as :func:`engine.run.incremental.new_watermark`, which reads the
    written files back in a second pass; rendered as UTC text (the session time zone) so no
    timestamp crosses the Py4J boundary.
    """
    latest = F.max(incremental._time(column))  # noqa: SLF001 - one definition of "the time of a row"
    return ObservedMetrics(frame, [F.date_format(latest, WATERMARK_FORMAT).alias("w")])


def watermark_of(observed: ObservedMetrics, path: str, spark: SparkSession, spec: Any) -> str | None:
    """The new watermark, as ``new_watermark`` would give it (a naive local-time ISO string)."""
    if not observed.ready():
        return incremental.new_watermark(path, spark, spec.incremental)
    return local_time(observed.values()["w"])


def local_time(text: str | None) -> str | None:
    """A UTC time rendered by Spark as text, as the naive local-time ISO string PySpark would give."""
    if text is None:
        return None
    utc = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    # PySpark hands timestamps to Python as naive local time; keep the recorded form identical
    return utc.astimezone().replace(tzinfo=None).isoformat()
