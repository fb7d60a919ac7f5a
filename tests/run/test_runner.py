"""Running a small project: order, commits, failure isolation, skipped downstream, resume hint."""

import json

import pytest

from engine.cli import main
from engine.errors import TerminalError, TransientError
from engine.run.record import SpecRecord
from engine.run.report import Reporter
from engine.run.runner import _with_retry, written_rows
from engine.spec.models import Retry

CONFIG = """\
name: runner-test
variables: {lake_dir: lake, cond: "amount > 0"}
profiles:
  local:
    lake: {kind: local, root: "${var:lake_dir}", }
    warehouse: {kind: duckdb, path: "${var:lake_dir}/warehouse.duckdb"}
    spark: {master: "local[2]", shuffle_partitions: 2}
"""

FILES = {
    "raw/a.csv": "id,amount\n1,10\n2,0\n3,5\n",
    "pipelines/bronze/a.yaml": """\
name: bronze.a
steps:
  - type: read
    format: csv
    path: raw/a.csv
    columns: {id: int, amount: int}
""",
    "pipelines/silver/b.yaml": """\
name: silver.b
inputs: {a: bronze.a}
steps:
  - type: filter
    condition: ${var:cond}
  - type: derive
    columns: {double_amount: amount * 2}
output: {keys: [id]}
""",
    "marts/c.yaml": """\
name: gold.c
inputs: {b: silver.b}
steps:
  - type: aggregate
    metrics: {n: count(*), total: sum(double_amount)}
""",
}


def test_run_commit_fail_skip_and_resume(spark, make_project, capsys):
    root = make_project(FILES, config=CONFIG.replace(", }", "}"))
    base = ["--project-dir", str(root)]
    assert main(["run", *base]) == 0
    capsys.readouterr()
    assert main(["query", "select n, total from gold.c", "--format", "csv", *base]) == 0
    # rows with amount > 0: ids 1 and 3 -> doubled 20 + 10
    assert capsys.readouterr().out == "n,total\n2,30\n"

    # a bad expression: silver.b fails, gold.c is skipped, bronze.a still commits
    code = main(["run", "--var", "cond=amout > 0", *base])
    captured = capsys.readouterr()
    assert code == 1
    assert "failed  silver.b" in captured.out and "skipped gold.c" in captured.out
    assert "pipelines/silver/b.yaml:4: step 1 (filter): [UNRESOLVED_COLUMN" in captured.out
    failed_run = json.loads(sorted((root / "lake" / "_runs").glob("*.json"))[-1].read_text())["run_id"]
    assert f"to resume: medallion run --resume {failed_run}" in captured.out

    lake = root / "lake"
    pointers = {t: json.loads((lake / t.replace(".", "/") / "_current.json").read_text())
                for t in ("bronze.a", "silver.b", "gold.c")}
    assert pointers["bronze.a"]["version"] == 2
    assert pointers["silver.b"]["version"] == 1 and pointers["gold.c"]["version"] == 1
    assert not (lake / "silver" / "b" / "v000002").exists()  # the failed write left nothing
    # the warehouse still serves the last good numbers
    assert main(["query", "select total from gold.c", "--format", "csv", *base]) == 0
    assert capsys.readouterr().out == "total\n30\n"

    runs = sorted((lake / "_runs").glob("*.json"))
    record = json.loads(runs[-1].read_text())
    assert record["status"] == "failed"
    by_spec = {s["spec"]: s for s in record["specs"]}
    assert by_spec["bronze.a"]["rows_in"] == 3 and by_spec["bronze.a"]["rows_out"] == 3
    assert by_spec["silver.b"]["status"] == "failed" and by_spec["silver.b"]["error_class"] == "TerminalError"
    assert by_spec["silver.b"]["attempts"] == 1  # terminal errors are not retried
    assert by_spec["gold.c"]["status"] == "skipped" and "silver.b" in by_spec["gold.c"]["error"]

    assert main(["runs", record["run_id"], *base]) == 0
    assert "to resume:" in capsys.readouterr().out

    # resuming with the run's own (bad) variable fails the same way and recomputes nothing else
    assert main(["run", "--resume", *base]) == 1
    capsys.readouterr()
    # with the expression fixed, the resume runs only what was left: silver.b and gold.c
    assert main(["run", "--resume", failed_run, "--var", "cond=amount > 0", *base]) == 0
    out = capsys.readouterr().out
    assert f"resuming run {failed_run}: 2 spec(s) left" in out and "bronze.a" not in out
    assert json.loads((lake / "bronze/a/_current.json").read_text())["version"] == 2  # not recomputed
    assert json.loads((lake / "silver/b/_current.json").read_text())["version"] == 2
    resumed = json.loads(sorted((lake / "_runs").glob("*.json"))[-1].read_text())
    assert resumed["resumed_from"] == failed_run and [s["spec"] for s in resumed["specs"]] == ["silver.b", "gold.c"]
    assert main(["run", "--resume", *base]) == 2  # nothing left to resume
    assert "nothing to resume" in capsys.readouterr().err

    # roll gold.c back to version 1, then forward again to 2
    assert main(["rollback", "gold.c", *base]) == 0
    assert "gold.c: version 2 -> 1" in capsys.readouterr().out
    assert json.loads((lake / "gold/c/_current.json").read_text())["version"] == 1
    assert main(["rollback", "gold.c", "2", *base]) == 0
    assert main(["rollback", "gold.c", "7", *base]) == 2  # a usage error, as the README says
    assert "gold.c has no version 7 (kept: 1, 2)" in capsys.readouterr().err
    assert main(["rollback", "gold.cc", *base]) == 2  # an unknown table: no command to suggest but a name
    assert "no table 'gold.cc' in this project (did you mean 'gold.c'?)" in capsys.readouterr().err


def test_transient_errors_are_retried_terminal_are_not():
    class Loaded:
        class spec:  # noqa: N801 - the runner reads loaded.spec.retry
            retry = Retry(attempts=3, backoff_seconds=0, max_delay_seconds=0)

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("connection reset")
        return "done"

    item = SpecRecord(spec="s", layer="silver")
    assert _with_retry(Loaded, None, item, Reporter(plain=True), flaky) == "done"
    assert item.attempts == 3 and item.error is None

    def broken():
        raise TerminalError("bad expression")

    item = SpecRecord(spec="s", layer="silver")
    with pytest.raises(TerminalError):
        _with_retry(Loaded, None, item, Reporter(plain=True), broken)
    assert item.attempts == 1


def test_shuffle_partitions_follow_input_size():
    from engine.run.sizing import partitions_for

    mib = 1024 * 1024
    assert partitions_for(0, 2) == 2             # never below the cores
    assert partitions_for(37 * mib, 2) == 2      # the real order_items.csv: one partition's worth
    assert partitions_for(640 * mib, 2) == 10    # 64 MiB each
    assert partitions_for(10**12, 2) == 400      # capped


def test_written_rows_from_footers_locally_and_by_spark_for_urls(spark, tmp_path):
    # 7 rows over 3 files in two partitions: the footers sum to 7, and a URL to the same folder
    # (how an S3 version is named on Glue) is counted by Spark, never read as an empty folder
    frame = spark.createDataFrame([(i, i % 2) for i in range(7)], "n int, p int").repartition(3)
    frame.write.partitionBy("p").parquet(str(tmp_path / "v1"))
    assert written_rows(spark, tmp_path / "v1") == 7
    assert written_rows(spark, f"file://{tmp_path / 'v1'}") == 7
