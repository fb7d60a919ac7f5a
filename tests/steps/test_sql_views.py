"""The ``sql`` step's views: private to the spec's session, and dropping them keeps every cache.

Specs running at the same time have sessions of their own that share one cache. Spark's
``catalog.dropTempView`` also uncaches the view's plan from that shared cache, so a spec whose
frame had the same plan as another spec's persisted frame (the same input table read) would
take that spec's cache away; the step drops the name only.
"""

from __future__ import annotations

from pathlib import Path

from engine.spec.steps import SqlStep
from engine.steps.combine import run_sql
from engine.steps.context import StepContext


def _cached(spark, frame) -> bool:
    return bool(spark._jsparkSession.sharedState().cacheManager().lookupCachedData(frame._jdf).isDefined())


def test_sql_views_stay_in_their_session_and_never_uncache_another_specs_frame(spark, tmp_path: Path):
    table = str(tmp_path / "t")
    spark.range(0, 6).selectExpr("id", "id * 10 as amount").write.parquet(table)
    one, two = spark.newSession(), spark.newSession()
    persisted = one.read.parquet(table).persist()  # spec one caches its input...
    assert persisted.count() == 6 and _cached(spark, persisted)
    try:
        ctx = StepContext(spark=two, run_id="r", base_dir=tmp_path, frames={"src": two.read.parquet(table)})
        step = SqlStep(type="sql", query="select count(*) as n, sum(amount) as total from src")
        result = run_sql(step, None, ctx).collect()  # ...spec two reads the same table as a view
        assert [tuple(r) for r in result] == [(6, 150)]  # 0+10+...+50
        assert _cached(spark, persisted), "spec one's cache survived spec two's sql step"
        assert not two.catalog.tableExists("src") and not one.catalog.tableExists("src")

        # the control: Spark's own drop takes the other session's cache away
        two.read.parquet(table).createOrReplaceTempView("src")
        two.catalog.dropTempView("src")
        assert not _cached(spark, persisted)
    finally:
        persisted.unpersist()


def test_a_view_of_one_session_is_invisible_to_another(spark, tmp_path: Path):
    one, two = spark.newSession(), spark.newSession()
    one.range(3).createOrReplaceTempView("src")
    two.range(7).createOrReplaceTempView("src")
    try:
        assert one.sql("select count(*) from src").first()[0] == 3
        assert two.sql("select count(*) from src").first()[0] == 7
    finally:
        one.catalog.dropTempView("src")
        two.catalog.dropTempView("src")
