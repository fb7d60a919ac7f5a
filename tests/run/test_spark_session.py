"""The Spark session's environment: which Python the executors run, where the driver listens."""

from __future__ import annotations

import sys

import pytest

from engine.run.session import master_hosts, on_loopback, prepare_environment, spark_conf
from engine.spec.project import SparkConfig


@pytest.mark.parametrize("master, hosts, loopback", [
    ("local[2]", [], True),
    ("local[*]", [], True),
    ("spark://127.0.0.1:7077", ["127.0.0.1"], True),
    ("spark://localhost:7077,127.0.0.2:7078", ["localhost", "127.0.0.2"], True),
    ("spark://[::1]:7077", ["::1"], True),
    ("spark://10.0.0.5:7077", ["10.0.0.5"], False),
    ("spark://127.0.0.1:7077,spark-master:7077", ["127.0.0.1", "spark-master"], False),
    ("yarn", [], False),
])
def test_masters_on_this_machine(master, hosts, loopback):
    assert master_hosts(master) == hosts
    assert on_loopback(master) is loopback


def test_executors_get_the_drivers_python_unless_told_otherwise():
    env: dict[str, str] = {}
    assert prepare_environment(SparkConfig(master="local[2]"), env, python="/venv/bin/python") == "/venv/bin/python"
    assert env == {"PYSPARK_PYTHON": "/venv/bin/python", "SPARK_LOCAL_IP": "127.0.0.1"}

    env = {"PYSPARK_PYTHON": "/opt/py/bin/python3"}  # exported by the user: kept
    prepare_environment(SparkConfig(master="spark://10.0.0.5:7077"), env, python="/venv/bin/python")
    assert env == {"PYSPARK_PYTHON": "/opt/py/bin/python3"}  # a remote cluster: no loopback binding

    env = {"PYSPARK_PYTHON": "/opt/py/bin/python3", "SPARK_LOCAL_IP": "10.0.0.9"}
    config = SparkConfig(master="spark://127.0.0.1:7077", conf={"spark.pyspark.python": "/cluster/python"})
    assert prepare_environment(config, env, python="/venv/bin/python") == "/cluster/python"  # the profile wins
    assert env == {"PYSPARK_PYTHON": "/cluster/python", "SPARK_LOCAL_IP": "10.0.0.9"}


def test_driver_host_only_for_a_loopback_cluster():
    assert spark_conf(SparkConfig(master="spark://127.0.0.1:7077"))["spark.driver.host"] == "127.0.0.1"
    assert "spark.driver.host" not in spark_conf(SparkConfig(master="local[2]"))
    assert "spark.driver.host" not in spark_conf(SparkConfig(master="spark://10.0.0.5:7077"))
    given = SparkConfig(master="spark://127.0.0.1:7077", conf={"spark.driver.host": "10.0.0.9"})
    assert spark_conf(given)["spark.driver.host"] == "10.0.0.9"


def test_python_workers_run_the_drivers_interpreter(spark):
    """PySpark alone starts ``python3`` from PATH for its workers, not the venv's (no pandas, no engine)."""
    seen = spark.sparkContext.parallelize(range(4), 2).map(lambda _: __import__("sys").executable).distinct().collect()
    assert seen == [sys.executable]
