"""Aggregates taken in one job (an observation filled by a no-op write) instead of agg().first().

Expected values by hand: range(0, 10) over 3 slices has 10 rows, 5 even ones (0, 2, 4, 6, 8),
sum 45, minimum 0, maximum 9; an empty frame counts 0 and has no minimum.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from engine.run.sparkjobs import spark_counts
from engine.steps.counting import aggregate_in_one_job


def test_one_job_gives_the_aggregate(spark):
    frame = spark.range(0, 10, 1, 3)
    metrics = [F.count(F.lit(1)).alias("rows"), F.count_if(F.col("id") % 2 == 0).alias("even"),
               F.sum("id").alias("total"), F.min("id").alias("lo"), F.max("id").alias("hi")]
    sc = spark.sparkContext
    sc.setJobGroup("t:one-job", "t:one-job")
    try:
        got = aggregate_in_one_job(frame, metrics)
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert got == {"rows": 10, "even": 5, "total": 45, "lo": 0, "hi": 9}
    assert spark_counts(spark, "t:one-job") == {"jobs": 1, "stages": 1, "tasks": 3, "failed_tasks": 0}


def test_an_empty_frame_counts_zero(spark):
    got = aggregate_in_one_job(spark.range(0), [F.count(F.lit(1)).alias("rows"), F.min("id").alias("lo")])
    assert got == {"rows": 0, "lo": None}
