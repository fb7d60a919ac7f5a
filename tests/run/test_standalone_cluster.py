"""Scale-out proof: the restaurant project on a Spark standalone cluster gives the local run's tables.

A master and two workers (1 core, 1 GiB each) on 127.0.0.1, started from the pip pyspark
distribution (tests/run/standalone.py). The repository's project runs twice on the same small
sample, each run a fresh ``medallion run`` process: once with ``spark_master=local[2]`` and once
with ``spark_master=spark://127.0.0.1:<port>`` (the local profile's ``spark.master``); the lake is a
local folder, which the driver and both workers see. The specs are the same; the cluster run also
has 5 shuffle partitions instead of the automatic 2, so that a result depending on the
partitioning, not only on the master, shows.

Done when: the cluster run's executors ran on both workers (the master's and the workers'
records of the application) and the local run never reached the master; every table of both
lakes (bronze, silver, gold, quarantine) has the same columns and types and the same rows, every
column compared exactly — floating columns and the CLV model's predictions included (the
model is fitted on the driver from a summary the engine sorts first, so the partitioning cannot
change its last digits). Only what names the run differs by construction and is left out: the
run id, the ingestion and quarantine times (columns, and keys of the quarantined ``_record``).
A cluster that cannot start skips the test; under CI=true it fails.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.cli import main
from tests.conftest import IN_CI
from tests.run.standalone import ClusterError, StandaloneCluster

ROOT = Path(__file__).resolve().parents[2]
APP = "medallion-restaurant-analytics"  # the app name of the repository's project (engine/run/workspace.py)
RUN_COLUMNS = {"_run_id", "_ingested_at", "_quarantined_at"}  # what names the run or the moment
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def cluster():
    """Two 1-core workers on loopback; always stopped (processes ended, folders removed)."""
    found = StandaloneCluster(workers=2, cores=1, memory="1g")
    try:
        found.start()
    except (ClusterError, OSError) as exc:
        found.stop()
        if IN_CI:
            pytest.fail(f"CI=true needs the Spark standalone cluster: {exc}")
        pytest.skip(f"no Spark standalone cluster: {exc}")
    try:
        yield found
    finally:
        found.stop()


def medallion_run(raw: Path, lake: Path, state: Path, *var_args: str) -> subprocess.Popen:
    """``medallion run`` of the repository's project in a process of its own (its own Spark session)."""
    env = {**os.environ, "MEDALLION_STATE_DIR": str(state)}
    args = [sys.executable, "-m", "engine.cli", "run", "--plain", "--project-dir", str(ROOT),
            "--var", f"raw_dir={raw}", "--var", f"lake_dir={lake}", *[f"--var={v}" for v in var_args]]
    log = (lake.parent / f"{lake.name}.log").open("w")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def finished(process: subprocess.Popen, lake: Path) -> str:
    process.wait(timeout=1500)
    output = (lake.parent / f"{lake.name}.log").read_text()
    assert process.returncode == 0, output[-4000:]
    return output


def current_tables(lake: Path) -> dict[str, Path]:
    """Every committed table of a lake: name -> folder of its current version (the pointer files)."""
    tables = {}
    for pointer in lake.glob("*/*/_current.json"):
        meta = json.loads(pointer.read_text())
        tables[meta["table"]] = lake / meta["path"]
    return tables


def comparable_rows(folder: Path) -> tuple[list[str], list[tuple]]:
    """The table's columns (name: type) and its rows sorted, without the run-naming values."""
    table = pq.read_table(folder)
    keep = [name for name in table.column_names if name not in RUN_COLUMNS]
    types = [f"{name}: {table.schema.field(name).type}" for name in keep]
    rows = []
    for row in table.select(keep).to_pylist():
        if isinstance(row.get("_record"), str):  # the quarantined input row, as JSON
            record = {k: v for k, v in json.loads(row["_record"]).items() if k not in RUN_COLUMNS}
            row["_record"] = json.dumps(record, sort_keys=True)
        rows.append(tuple(row[name] for name in keep))
    rows.sort(key=lambda r: [(v is None, repr(v)) for v in r])
    return types, rows


def same_value(a: object, b: object) -> bool:
    """Exact equality; NaN equals NaN (a column may hold it in both runs)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


EXECUTOR_PROBE = """
import json, sys
import engine
from engine.run.session import get_spark
from engine.spec.project import SparkConfig
sc = get_spark(SparkConfig(master=sys.argv[1], driver_memory="1g"), app_name="medallion-probe").sparkContext
seen = sc.parallelize(range(8), 4).map(lambda _: (__import__("sys").executable, __import__("engine").__file__)).distinct().collect()
print(json.dumps({"seen": sorted(set(seen)), "driver": [sys.executable, engine.__file__],
                  "driver_host": sc.getConf().get("spark.driver.host")}))
sc.stop()
"""


def test_executors_run_the_drivers_python_and_engine(cluster):
    """PySpark alone would start ``python3`` from PATH on the executors (no venv, no engine)."""
    out = subprocess.run([sys.executable, "-c", EXECUTOR_PROBE, cluster.master_url], capture_output=True,
                         text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["seen"] == [probe["driver"]]
    assert probe["driver_host"] == "127.0.0.1"
    apps = [a for a in cluster.state()["completedapps"] if a["name"] == "medallion-probe"]
    assert len(apps) == 1 and apps[0]["cores"] == 2


def test_the_cluster_run_gives_the_local_runs_tables(cluster, tmp_path):
    raw = tmp_path / "raw"
    assert main(["sample", "--scale", "0.02", "--seed", "7", "--out", str(raw)]) == 0
    local_lake, cluster_lake = tmp_path / "local", tmp_path / "cluster"
    before = {a["id"] for a in cluster.state()["completedapps"] + cluster.state()["activeapps"]}
    # the cluster run also gets other shuffle partitions than the local run's automatic ones (2 here):
    # a result that depends on the partitioning shows as a difference
    runs = [medallion_run(raw, local_lake, tmp_path / "state-local", "spark_master=local[2]"),
            medallion_run(raw, cluster_lake, tmp_path / "state-cluster", f"spark_master={cluster.master_url}",
                          "shuffle_partitions=5")]
    outputs = [finished(p, lake) for p, lake in zip(runs, (local_lake, cluster_lake))]
    for output in outputs:
        assert re.search(r"^run \S+ ok: \d+ ok, 0 failed, 0 skipped$", output, re.M), output[-2000:]

    # the intended masters: one application on the cluster, the cluster run's, with an executor on each worker
    state = cluster.state()
    apps = [a for a in state["completedapps"] + state["activeapps"] if a["id"] not in before]
    assert [(a["name"], a["cores"]) for a in apps] == [(APP, 2)]
    app_id = apps[0]["id"]
    executors = cluster.executor_logs(app_id)
    assert {p.parents[2].name for p in executors} == {"worker1", "worker2"}
    assert any("PythonRunner" in p.read_text(errors="replace") for p in executors)  # Python ran there too
    records = [json.loads(next((lake / "_runs").glob("*.json")).read_text()) for lake in (local_lake, cluster_lake)]
    assert [r["variables"]["spark_master"] for r in records] == ["local[2]", cluster.master_url]
    assert [r["variables"]["shuffle_partitions"] for r in records] == ["auto", "5"]

    local, remote = current_tables(local_lake), current_tables(cluster_lake)
    assert sorted(local) == sorted(remote)
    assert {"bronze.order_items", "silver.orders", "gold.customer_lifetime_value", "gold.churn_indicators",
            "quarantine.silver_order_items"} <= set(local)
    for name in sorted(local):
        types, rows = comparable_rows(local[name])
        other_types, other_rows = comparable_rows(remote[name])
        assert types == other_types, name
        assert len(rows) == len(other_rows), name
        for row, other in zip(rows, other_rows):
            bad = [t for t, a, b in zip(types, row, other) if not same_value(a, b)]
            assert not bad, f"{name}: {bad} differ in {row} / {other}"
    clv = comparable_rows(local["gold.customer_lifetime_value"])
    p_alive = clv[0].index("p_alive: double")
    assert sum(r[p_alive] is not None for r in clv[1]) > 100  # the model was fitted, its columns compared
