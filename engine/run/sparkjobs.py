"""How many Spark jobs, stages and tasks one spec ran, from the status tracker, by job group.

Most of a small spec's time is fixed cost per Spark job (scheduling, planning, a task per core),
so the number of jobs is the figure to watch when cutting a spec's cost; the run record keeps it
per spec (``spark: {jobs, stages, tasks, failed_tasks}``) and the reporter prints it.

Why by job group: the runner puts every job of a spec in the group ``<run id>:<spec>``
(:func:`job_group`, set by ``setJobGroup`` on the spec's thread; Spark carries it to the jobs
that broadcasts and adaptive execution start on their own threads). Counting "jobs since the
spec started" would count other specs' jobs as soon as specs run concurrently; a group is
exactly one spec's, on any thread, and every attempt of a retried spec is in it.

Why right after the spec: the status tracker reads the listener's store, which keeps only the
last ``spark.ui.retainedJobs``/``spark.ui.retainedStages`` (1,000 each by default; the store is
kept with the UI disabled too). One spec's jobs are far fewer, so they are read as soon as the
spec ends, after the listener bus has delivered the spec's last events (the bus is
asynchronous: the last job's end would otherwise still be on its way).

A *stage* here is one that ran: stages a job skipped because an earlier job's shuffle output
was reused are not counted (their tasks never ran). ``tasks`` are completed tasks of each
stage's last attempt; ``failed_tasks`` the failures the tracker still shows.
"""

from __future__ import annotations

from typing import Any

from engine.steps.counting import drain_events


def job_group(run_id: str, spec: str) -> str:
    """The job group of one spec in one run (the Spark UI and the tracker group its jobs by it)."""
    return f"{run_id}:{spec}"


def spark_counts(spark: Any, group: str) -> dict[str, int]:
    """Jobs, stages that ran, completed and failed tasks of every job in ``group`` so far."""
    drain_events(spark)
    tracker = spark.sparkContext.statusTracker()
    jobs = list(tracker.getJobIdsForGroup(group))
    seen: set[int] = set()
    stages = tasks = failed = 0
    for job_id in jobs:
        info = tracker.getJobInfo(job_id)
        for stage_id in (list(info.stageIds) if info is not None else []):
            if stage_id in seen:
                continue
            seen.add(stage_id)
            stage = tracker.getStageInfo(stage_id)
            if stage is None or stage.numCompletedTasks + stage.numFailedTasks + stage.numActiveTasks == 0:
                continue  # skipped: its shuffle output came from an earlier job
            stages += 1
            tasks += stage.numCompletedTasks
            failed += stage.numFailedTasks
    return {"jobs": len(jobs), "stages": stages, "tasks": tasks, "failed_tasks": failed}


def record_counts(spark: Any, group: str) -> dict[str, int] | None:
    """:func:`spark_counts` for the run record; None when the tracker cannot be read (a remote
    or stopped session), so counting never fails a spec."""
    try:
        return spark_counts(spark, group)
    except Exception:  # noqa: BLE001 - the counts are a report, not part of the result
        return None
