"""One SparkSession per process, sized for a laptop-or-Glue-worker run.

The UI is off (nobody looks at it and it costs a port), adaptive execution is on, shuffle
partitions are small by default (the default 200 doubles the time of small jobs), and the
session time zone is UTC so timestamps mean the same everywhere.

``spark.master`` comes from the profile: ``local[N]`` or a standalone cluster
(``spark://host:port``). Either way the executors' Python workers run the driver's own
interpreter (the venv's, with pandas and the engine) unless the profile names another with
``spark.pyspark.python``; PySpark itself only reads ``PYSPARK_PYTHON`` and otherwise starts
whatever ``python3`` is first on PATH. A cluster on this machine's loopback gets the driver on
127.0.0.1 too, so its executors can reach it without a LAN address. The FAIR scheduler shares
the executors between specs that run at the same time (``--threads``, one pool per spec thread:
engine/run/spec_threads.py); with one spec at a time it behaves as FIFO.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from pyspark.sql import SparkSession

from engine.run.java import ensure_java
from engine.spec.project import SparkConfig


LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
PYTHON_KEY = "spark.pyspark.python"


def master_hosts(master: str) -> list[str]:
    """The hosts of a ``spark://h1:p1,h2:p2`` master URL; none for ``local[...]`` and others."""
    if not master.startswith("spark://"):
        return []
    return [part.rsplit(":", 1)[0].strip("[]") for part in master.removeprefix("spark://").split(",") if part]


def _loopback_host(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: not known to be this machine
        return False


def on_loopback(master: str) -> bool:
    """Whether the driver and every executor run on this machine (local mode, or a loopback cluster)."""
    hosts = master_hosts(master)
    return master.startswith("local") or (bool(hosts) and all(_loopback_host(h) for h in hosts))


def prepare_environment(config: SparkConfig, env: MutableMapping[str, str], python: str = sys.executable) -> str:
    """Set what Spark reads from the environment before it starts; returns the executors' Python.

    The profile's ``spark.pyspark.python`` wins, then an exported ``PYSPARK_PYTHON``, then the
    driver's interpreter. A run whose executors all live on this machine binds to loopback.
    """
    chosen = config.conf.get(PYTHON_KEY) or env.get("PYSPARK_PYTHON") or python
    env["PYSPARK_PYTHON"] = chosen
    if on_loopback(config.master):
        env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no LAN lookups, no LAN address for the executors
    return chosen


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
        "spark.scheduler.mode": "FAIR",  # concurrent specs: a small one is not queued behind a big one
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}",
    }
    if config.jars:
        conf["spark.jars"] = ",".join(config.jars)
    if master_hosts(config.master) and on_loopback(config.master):
        conf["spark.driver.host"] = "127.0.0.1"  # the address the executors call back; a real cluster's comes from the profile
    conf.update(config.conf)
    return conf


def get_spark(config: SparkConfig, app_name: str = "medallion") -> SparkSession:
    """The process's SparkSession, started on first use (after making sure Java exists)."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    ensure_java()
    prepare_environment(config, os.environ)
    builder = SparkSession.builder.master(config.master).appName(app_name)
    for key, value in spark_conf(config).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
