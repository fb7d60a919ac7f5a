"""Spark jobs, stages and tasks per spec, counted from the status tracker by job group.

Every expected figure is worked out from how Spark runs the action, not read back from the code:
- an RDD action over N partitions is one job of one stage with N tasks;
- a no-op write of a range with N slices is one job, one stage, N tasks;
- a global aggregate under adaptive execution is two jobs: the partial aggregates (one task
  per input file or slice), then the final one over a single partition (one task), whose job
  lists the map stage again as skipped (not counted: it did not run twice).
"""

from __future__ import annotations

import json
import threading

import pytest

from engine.cli import main
from engine.run.sparkjobs import job_group, spark_counts


def _in_group(spark, group: str, action) -> None:
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    try:
        action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)


def test_counts_follow_the_actions_of_the_group(spark):
    sc = spark.sparkContext

    def actions():
        sc.parallelize(range(12), 4).count()  # 1 job, 1 stage, 4 tasks
        spark.range(0, 30, 1, 3).write.format("noop").mode("overwrite").save()  # 1 job, 1 stage, 3 tasks
        spark.range(0, 30, 1, 3).agg({"id": "sum"}).collect()  # 2 jobs: 3 map tasks, then 1 final task

    _in_group(spark, "t:known-actions", actions)
    assert spark_counts(spark, "t:known-actions") == {"jobs": 4, "stages": 4, "tasks": 4 + 3 + 3 + 1,
                                                      "failed_tasks": 0}
    assert spark_counts(spark, "t:no-such-group") == {"jobs": 0, "stages": 0, "tasks": 0, "failed_tasks": 0}


def test_a_failed_task_is_counted(spark):
    sc = spark.sparkContext

    def fails():
        with pytest.raises(Exception):
            # local[2] makes one attempt per task: partition 1 (values 2, 3) raises, the job fails
            sc.parallelize([0, 1, 2, 3], 2).map(lambda x: 1 // (x - 2)).collect()

    _in_group(spark, "t:failing", fails)
    counts = spark_counts(spark, "t:failing")
    assert (counts["jobs"], counts["stages"], counts["failed_tasks"]) == (1, 1, 1)


def test_specs_on_two_threads_get_their_own_counts(spark):
    """Two job groups busy at the same time: each count holds its own thread's jobs only."""
    barrier = threading.Barrier(2)

    def work(group: str, partitions: int, repeats: int) -> None:
        barrier.wait()
        _in_group(spark, group, lambda: [spark.sparkContext.parallelize(range(100), partitions).count()
                                         for _ in range(repeats)])

    threads = [threading.Thread(target=work, args=("t:left", 2, 3)),
               threading.Thread(target=work, args=("t:right", 3, 5))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert spark_counts(spark, "t:left") == {"jobs": 3, "stages": 3, "tasks": 6, "failed_tasks": 0}
    assert spark_counts(spark, "t:right") == {"jobs": 5, "stages": 5, "tasks": 15, "failed_tasks": 0}


FILES = {
    "raw/a.csv": "id,amount\n1,10\n2,20\n3,-5\n4,30\n5,40\n",
    "pipelines/bronze/a.yaml": "name: bronze.a\nsteps:\n  - {type: read, format: csv, path: raw/a.csv, "
                               "columns: {id: int, amount: int}}\n",
    "pipelines/silver/b.yaml": "name: silver.b\ninputs: {a: bronze.a}\nsteps:\n"
                               "  - {type: derive, columns: {double_amount: amount * 2}}\n",
    "marts/c.yaml": "name: gold.c\ninputs: {b: silver.b}\nsteps:\n"
                    "  - {type: aggregate, metrics: {n: count(*), total: sum(double_amount)}}\n",
}


def test_the_run_record_holds_each_specs_own_jobs(make_project, capsys):
    """Three specs in one session, each counted alone:
    - bronze.a: the write is the only action (the rows read and written are counted while it
      runs, rows_out comes from the Parquet footers): one job, one stage, one task (one small file);
    - silver.b: its input is read with the schema its manifest recorded (no inference job), a
      projection is written: one job, one stage, one task (bronze.a is one file);
    - gold.c: a global aggregate written: two jobs (partial aggregate over silver.b's one file,
      then the final aggregate in one partition, written), two stages, two tasks.
    """
    root = make_project(FILES)
    args = ["--project-dir", str(root)]
    assert main(["run", "--plain", *args]) == 0
    out = capsys.readouterr().out
    (run,) = (root / "lake/_runs").glob("*.json")
    specs = {s["spec"]: s for s in json.loads(run.read_text())["specs"]}
    one = {"jobs": 1, "stages": 1, "tasks": 1, "failed_tasks": 0}
    assert specs["bronze.a"]["spark"] == one
    assert specs["silver.b"]["spark"] == one
    assert specs["gold.c"]["spark"] == {"jobs": 2, "stages": 2, "tasks": 2, "failed_tasks": 0}
    assert "jobs=2 stages=2 tasks=2" in next(line for line in out.splitlines() if "ok      gold.c" in line)
    assert "4 Spark jobs (4 stages, 4 tasks)" in out.splitlines()[-1]


def test_job_group_names_the_run_and_the_spec():
    assert job_group("20260101T000000000Z-abcdef", "silver.b") == "20260101T000000000Z-abcdef:silver.b"
