"""Reading a source database table over JDBC, partitioned, with the watermark pushed down."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from engine.errors import UsageError
from engine.io.identifiers import quote_identifier
from engine.spec.secrets import resolve_secrets
from engine.spec.steps import JdbcStep
from engine.steps.context import StepContext

DRIVERS = {"postgres": ("postgresql", "org.postgresql.Driver")}


def jdbc_options(ctx: StepContext) -> tuple[str, dict[str, str]]:
    """URL and connection properties; the password is resolved only here."""
    source = ctx.source
    if source is None:
        raise UsageError("a jdbc step needs a source: database in the profile (see the postgres profile)")
    scheme, driver = DRIVERS[source.kind]
    url = f"jdbc:{scheme}://{source.host}:{source.port}/{source.database}?sslmode={source.sslmode}"
    props = {"user": source.user, "driver": driver}
    if source.password:
        props["password"] = str(resolve_secrets(source.password, ctx.secrets))
    return url, props


_quote = quote_identifier  # standard SQL quoting, shared with the warehouses


def run_jdbc(step: JdbcStep, frame: DataFrame | None, ctx: StepContext) -> DataFrame:
    """``SELECT cols FROM schema.table [WHERE watermark >= since]`` in key-range partitions."""
    url, props = jdbc_options(ctx)
    table = f"{_quote(ctx.source.schema_)}.{_quote(step.table)}"
    cols = ", ".join(_quote(c) for c in step.columns) if step.columns else "*"
    where = ""
    if step.watermark_column and ctx.incremental_since is not None:
        since = ctx.incremental_since.isoformat(sep=" ")
        where = f" WHERE CAST({_quote(step.watermark_column)} AS timestamptz) >= TIMESTAMPTZ '{since}+00'"
    if step.partition_column and step.columns and step.partition_column not in step.columns:
        cols += f", {_quote(step.partition_column)}"
    query = f"SELECT {cols} FROM {table}{where}"
    reader = ctx.spark.read.format("jdbc").option("url", url).option("fetchsize", step.fetch_size)
    for key, value in props.items():
        reader = reader.option(key, value)
    if step.partition_column:
        bounds = (ctx.spark.read.format("jdbc").option("url", url).options(**props)
                  .option("query", f"SELECT min({_quote(step.partition_column)}) AS lo, "
                                   f"max({_quote(step.partition_column)}) AS hi FROM ({query}) q")
                  .load().first())
        if bounds["lo"] is not None:
            reader = (reader.option("partitionColumn", step.partition_column)
                      .option("lowerBound", str(bounds["lo"])).option("upperBound", str(bounds["hi"]))
                      .option("numPartitions", step.num_partitions))
    result = reader.option("dbtable", f"({query}) AS medallion_src").load()
    if step.partition_column and step.columns and step.partition_column not in step.columns:
        result = result.drop(step.partition_column)
    if step.add_metadata:
        result = result.select("*", F.current_timestamp().alias("_ingested_at"),
                               F.lit(f"jdbc:{ctx.source.schema_}.{step.table}").alias("_source_file"),
                               F.lit(ctx.run_id).alias("_run_id"))
    return result
