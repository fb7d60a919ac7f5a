"""Failures of real processes: a kill -9 mid-commit, an exception in spec k of n, transient errors.

Each run is a separate `python -m engine.cli` process (its own JVM), as in production.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

CONFIG = """\
name: faults
variables: {lake_dir: lake}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}"}
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[1]", shuffle_partitions: 1, driver_memory: 1g}
retry: {attempts: 1, backoff_seconds: 0}
"""

FILES = {
    "raw/a.csv": "id,amount\n1,10\n2,0\n3,5\n4,7\n",
    "pipelines/bronze/a.yaml": "name: bronze.a\nsteps:\n  - {type: read, format: csv, path: raw/a.csv, "
                               "columns: {id: int, amount: int}}\n",
    "pipelines/silver/b.yaml": "name: silver.b\ninputs: {a: bronze.a}\nretry: {attempts: 3, backoff_seconds: 0}\n"
                               "steps:\n  - {type: filter, condition: amount > 0}\n"
                               "  - {type: derive, columns: {double_amount: amount * 2}}\n",
    "marts/c.yaml": "name: gold.c\ninputs: {b: silver.b}\nsteps:\n"
                    "  - {type: aggregate, metrics: {n: count(*), total: sum(double_amount)}}\n",
}


def project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "medallion.yaml").write_text(CONFIG)
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def medallion(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_")}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args, "--project-dir", str(root)],
                          capture_output=True, text=True, timeout=300, env=env)


def pointer(root: Path, table: str) -> dict:
    return json.loads((root / "lake" / table.replace(".", "/") / "_current.json").read_text())


def content(root: Path) -> dict[str, tuple[int, str]]:
    """Row count and a hash of the sorted rows (metadata columns left out) of every table."""
    out = {}
    for table in ("bronze.a", "silver.b", "gold.c"):
        path = pointer(root, table)["path"]
        with duckdb.connect() as con:
            rows = con.execute(f"select * from read_parquet('{path}/*.parquet')").fetchall()
        digest = hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()
        out[table] = (len(rows), digest)
    return out


def test_kill_during_commit_then_resume(tmp_path):
    reference = project(tmp_path / "reference")
    assert medallion(reference, "run").returncode == 0

    root = project(tmp_path / "crash")
    assert medallion(root, "run").returncode == 0
    first = {t: pointer(root, t)["version"] for t in ("bronze.a", "silver.b", "gold.c")}
    assert first == {"bronze.a": 1, "silver.b": 1, "gold.c": 1}

    crashed = medallion(root, "run", "--inject-fault", "silver.b=kill")
    assert crashed.returncode == -signal.SIGKILL
    # the table still reads as its previous version, though the new files were written
    assert pointer(root, "silver.b")["version"] == 1
    assert (root / "lake/silver/b/v000002").is_dir()
    assert pointer(root, "bronze.a")["version"] == 2
    assert (root / "lake/_lock.json").exists()  # the dead process still "holds" the lake

    resumed = medallion(root, "run", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "took over a stale lock" in resumed.stdout
    assert "resuming run" in resumed.stdout and "2 spec(s) left" in resumed.stdout
    assert pointer(root, "bronze.a")["version"] == 2  # not recomputed
    assert pointer(root, "silver.b")["version"] == 2 and pointer(root, "gold.c")["version"] == 2
    assert content(root) == content(reference)
    assert not (root / "lake/_lock.json").exists()


def test_exception_in_spec_k_then_resume_keeps_earlier_versions(tmp_path):
    root = project(tmp_path / "p")
    failed = medallion(root, "run", "--inject-fault", "gold.c=terminal")
    assert failed.returncode == 1
    assert "injected terminal fault in gold.c" in failed.stdout
    run_id = failed.stdout.strip().splitlines()[-1].split("--resume ")[1]
    assert failed.stdout.strip().endswith(f"to resume: medallion run --resume {run_id}")
    before = {t: pointer(root, t)["version"] for t in ("bronze.a", "silver.b")}
    resumed = medallion(root, "run", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert {t: pointer(root, t)["version"] for t in ("bronze.a", "silver.b")} == before
    assert pointer(root, "gold.c")["version"] == 1


def test_transient_error_twice_with_three_attempts_succeeds(tmp_path):
    root = project(tmp_path / "p")
    result = medallion(root, "run", "--inject-fault", "silver.b=transient:2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("retry   silver.b after a transient error") == 2
    record = json.loads(sorted((root / "lake/_runs").glob("*.json"))[-1].read_text())
    spec = {s["spec"]: s for s in record["specs"]}["silver.b"]
    assert spec["status"] == "ok" and spec["attempts"] == 3
    # the project default (attempts: 1) applies where a spec sets none: no retry for gold.c
    result = medallion(root, "run", "--inject-fault", "gold.c=transient:1")
    assert result.returncode == 1
    record = json.loads(sorted((root / "lake/_runs").glob("*.json"))[-1].read_text())
    assert {s["spec"]: s for s in record["specs"]}["gold.c"]["attempts"] == 1


def test_daily_incremental_run_twice_gives_identical_tables(tmp_path):
    root = project(tmp_path / "p")
    (root / "raw/a.csv").write_text("id,amount,ts\n1,10,2024-01-01T09:00:00Z\n2,0,2024-01-02T09:00:00.5Z\n"
                                    "3,5,2024-01-03T09:00:00.25Z\n4,7,2024-01-03T23:59:59.999Z\n")
    (root / "pipelines/bronze/a.yaml").write_text(
        "name: bronze.a\nsteps:\n  - {type: read, format: csv, path: raw/a.csv, "
        "columns: {id: int, amount: int, ts: string}}\nincremental: {column: ts, keys: [id], lookback_hours: 48}\n")
    assert medallion(root, "run").returncode == 0
    once = content(root)
    again = medallion(root, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert content(root) == once
    assert {t: pointer(root, t)["version"] for t in ("bronze.a", "silver.b", "gold.c")} == \
        {"bronze.a": 2, "silver.b": 2, "gold.c": 2}
    assert pointer(root, "bronze.a")["rows"] == 4
