"""The live progress view: its text, and Spark stage progress read from a real session."""

from __future__ import annotations

import io
import threading
import time

from rich.console import Console

from engine.run.progress import LiveProgress, StageProgress, spark_stage_progress


def _text(view: LiveProgress) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(view.render())
    return out.getvalue()


def test_view_counts_specs_and_rows_and_shows_running_specs():
    view = LiveProgress(Console(file=io.StringIO()), total=3)
    view.stages = lambda: StageProgress(stages=1, tasks_done=3, tasks_total=8)
    view.spec_started("bronze.a_rather_long_table_name_that_is_never_cut")
    text = _text(view)
    assert "0/3 specs done" in text and "0 rows written" in text
    assert "bronze.a_rather_long_table_name_that_is_never_cut" in text and "1 stage, tasks 3/8" in text
    view.spec_finished("bronze.a_rather_long_table_name_that_is_never_cut", 1234)
    text = _text(view)
    assert "1/3 specs done" in text and "1,234 rows written" in text and "bronze.a_rather" not in text


def test_stage_progress_reads_the_running_job(spark):
    read = spark_stage_progress(spark)
    assert read().stages == 0
    seen: list[StageProgress] = []
    # a job that sleeps 500 ms per row on 2 partitions, so it is still running when we look
    job = threading.Thread(target=lambda: spark.range(0, 12, 1, 2).selectExpr(
        "reflect('java.lang.Thread', 'sleep', cast(500 as bigint)) as s").collect())
    job.start()
    while job.is_alive():
        snap = read()
        if snap.stages:
            seen.append(snap)
        time.sleep(0.1)
    job.join()
    assert seen, "an active stage was seen while the job ran"
    assert all(s.tasks_total == 2 and 0 <= s.tasks_done <= 2 for s in seen)


def test_specs_running_at_once_each_show_their_own_stages():
    view = LiveProgress(Console(file=io.StringIO()), total=4)
    per_group = {"r:silver.a": StageProgress(1, 2, 8), "r:silver.b": StageProgress(2, 5, 6)}
    view.stages = lambda group=None: per_group[group] if group else StageProgress(3, 7, 14)
    view.spec_started("silver.a", "r:silver.a")
    view.spec_started("silver.b", "r:silver.b")
    lines = [line.strip() for line in _text(view).splitlines()]
    assert any(line.startswith("⠿ silver.a") and line.endswith("1 stage, tasks 2/8") for line in lines)
    assert any(line.startswith("⠿ silver.b") and line.endswith("2 stages, tasks 5/6") for line in lines)
    view.spec_finished("silver.a", 10)
    lines = [line.strip() for line in _text(view).splitlines()]  # alone again: every active stage is its
    assert any(line.startswith("⠿ silver.b") and line.endswith("3 stages, tasks 7/14") for line in lines)


def test_stage_progress_of_one_job_group(spark):
    read = spark_stage_progress(spark)
    seen: list[tuple[StageProgress, StageProgress]] = []

    def job() -> None:
        spark.sparkContext.setJobGroup("test:slow", "slow")
        try:
            spark.range(0, 8, 1, 2).selectExpr("reflect('java.lang.Thread', 'sleep', cast(500 as bigint)) as s").collect()
        finally:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)

    runner = threading.Thread(target=job)
    runner.start()
    while runner.is_alive():
        mine, other = read("test:slow"), read("test:nothing")
        if mine.stages:
            seen.append((mine, other))
        time.sleep(0.1)
    runner.join()
    assert seen, "the group's active stage was seen while its job ran"
    assert all(m.tasks_total == 2 and o.stages == 0 for m, o in seen)
