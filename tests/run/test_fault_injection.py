"""Failures of real processes: a kill -9 mid-commit, an exception in spec k of n, transient errors.

Each run is a separate `python -m engine.cli` process (its own JVM), as in production.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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
        path = root / "lake" / pointer(root, table)["path"]  # relative to the lake root
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
    # the same file delivered again (a new modification time, so the file manifest re-reads it
    # through the watermark window instead of skipping it): identical rows change nothing
    os.utime(root / "raw/a.csv", (1_900_000_000, 1_900_000_000))
    again = medallion(root, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert content(root) == once
    assert {t: pointer(root, t)["version"] for t in ("bronze.a", "silver.b", "gold.c")} == \
        {"bronze.a": 2, "silver.b": 2, "gold.c": 2}
    assert pointer(root, "bronze.a")["rows"] == 4


QUARANTINING = ("name: silver.b\ninputs: {a: bronze.a}\nsteps:\n  - {type: derive, columns: {double_amount: amount * 2}}\n"
                "  - type: quality\n    rules:\n      - {rule: range, column: amount, min: 1, name: positive}\n")


def test_one_commit_for_table_and_quarantine_and_honest_run_states(tmp_path):
    """Killed between the table's pointer and its quarantine's: they still switch together."""
    root = project(tmp_path / "p")
    (root / "pipelines/silver/b.yaml").write_text(QUARANTINING)
    assert medallion(root, "run").returncode == 0
    (root / "raw/a.csv").write_text("id,amount\n1,10\n2,0\n3,5\n4,7\n5,-1\n")
    crashed = medallion(root, "run", "--inject-fault", "silver.b=kill_mid_commit")
    assert crashed.returncode == -signal.SIGKILL
    # the crash fell after the commit point (the table's pointer) and before the quarantine's
    assert pointer(root, "silver.b")["version"] == 2 and pointer(root, "silver.b")["companions"] == \
        {"quarantine.silver_b": 2}
    assert pointer(root, "quarantine.silver_b")["version"] == 1
    runs = medallion(root, "runs")
    killed = json.loads(sorted((root / "lake/_runs").glob("*.json"))[-1].read_text())["run_id"]
    assert f"{killed}\tinterrupted\t" in runs.stdout  # not "running": its process is gone
    # any reader of the lake sees both at version 2 (the quarantine rolled forward)
    from engine.io.lake import LocalLake

    assert LocalLake(root / "lake").current("quarantine.silver_b").version == 2
    resumed = medallion(root, "run", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert pointer(root, "quarantine.silver_b")["version"] >= 2
    with duckdb.connect(str(root / "lake/warehouse.duckdb"), read_only=True) as con:
        quarantined = con.execute("select _record from quarantine.silver_b").fetchall()
        kept = con.execute("select id from silver.b order by id").fetchall()
    assert sorted(json.loads(r[0])["id"] for r in quarantined) == [2, 5] and kept == [(1,), (3,), (4,)]
    runs = medallion(root, "runs").stdout
    finished_by = json.loads((root / "lake/_runs" / f"{killed}.json").read_text())["resolved_by"]
    assert finished_by and f"{killed}\tinterrupted (resumed by {finished_by})\t" in runs


def _unshare_works() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True).returncode == 0


def medallion_on_mount(root: Path, setup: str, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI in a private mount namespace where ``setup`` mounted something over the lake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_")}
    lake = root / "lake"
    lake.mkdir(exist_ok=True)
    script = f'{setup} && exec "$@"'
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh",
                           sys.executable, "-m", "engine.cli", *args, "--project-dir", str(root)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=str(root))


@pytest.mark.skipif(not _unshare_works(), reason="needs unprivileged mount namespaces (unshare)")
def test_disk_full_is_terminal_with_a_plain_message(tmp_path):
    root = project(tmp_path / "p")
    (root / "medallion.yaml").write_text(CONFIG.replace("retry: {attempts: 1, backoff_seconds: 0}",
                                                        "retry: {attempts: 3, backoff_seconds: 0}"))
    rows = "".join(f"{i},{i % 97}\n" for i in range(200_000))
    (root / "raw/a.csv").write_text("id,amount\n" + rows)
    lake = root / "lake"
    result = medallion_on_mount(root, f"mount -t tmpfs -o size=256k tmpfs {lake}", "run", "--plain")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "internal error" not in out and "An error occurred while calling" not in out
    assert "disk full (" in out and "No space left on device" in out and "nothing was committed" in out
    assert "retry   bronze.a" not in out  # terminal: a full disk is not retried
    assert "to resume: medallion run --resume " in out


@pytest.mark.skipif(not _unshare_works(), reason="needs unprivileged mount namespaces (unshare)")
def test_read_only_lake_is_terminal_with_a_plain_message(tmp_path):
    root = project(tmp_path / "p")
    assert medallion(root, "run").returncode == 0
    lake = root / "lake"
    result = medallion_on_mount(root, f"mount --bind {lake} {lake} && mount -o remount,bind,ro {lake}", "run")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "internal error" not in out and "Traceback" not in out
    assert f"error: writing {lake}/_lock.json: permission denied (" in out and "Read-only file system" in out
