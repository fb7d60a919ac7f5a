"""One SparkSession per process, sized for a laptop-or-Glue-worker run.

The UI is off (nobody looks at it and it costs a port), adaptive execution is on, shuffle
partitions are small by default (the default 200 doubles the time of small jobs), and the
session time zone is UTC so timestamps mean the same everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from engine.run.java import ensure_java
from engine.spec.project import SparkConfig


LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


def spark_conf(config: SparkConfig) -> dict[str, str]:
    """The Spark settings a local run uses (profile overrides last)."""
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions if config.shuffle_partitions != "auto" else 8),
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": config.driver_memory,
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",  # unparsable -> null, never an exception
        "spark.sql.parser.escapedStringLiterals": "true",  # regexes in specs read as written
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}",
    }
    if config.jars:
        conf["spark.jars"] = ",".join(config.jars)
    conf.update(config.conf)
    return conf


def get_spark(config: SparkConfig, app_name: str = "medallion") -> SparkSession:
    """The process's SparkSession, started on first use (after making sure Java exists)."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    ensure_java()
    if config.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no LAN lookups for a local run
    builder = SparkSession.builder.master(config.master).appName(app_name)
    for key, value in spark_conf(config).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
