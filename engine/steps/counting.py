"""Row counts taken while Spark computes a frame anyway, instead of by extra actions.

Conservation accounting and a spec's ``rows_in`` need the number of rows that entered and left
lossy steps (filter, dedupe, parse) and the rows read from files. Counting each with
``count()`` costs a pass over the data per count (the raw CSV is parsed twice, every lossy step
had to be cached to make its counts affordable). A Spark *observation* (``DataFrame.observe``)
adds a counter to the plan instead: the write that computes the frame anyway fills it in, for
free. When the frame was never computed (an unused lookup, a branch the optimizer skipped), the
counter stays empty and the caller falls back to ``count()``.

Assumption: the first Spark action over an observed frame reads all of it (writes and
aggregations do; the engine never runs ``take``/``limit`` actions on spec frames).
"""

from __future__ import annotations

import uuid
from typing import Any

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F


DRAIN_TIMEOUT_MS = 10_000


def drain_events(spark: Any, timeout_ms: int = DRAIN_TIMEOUT_MS) -> bool:
    """Wait until Spark's listener bus has delivered every event posted so far; False on timeout.

    Observed metrics and the status tracker's job and stage records arrive through it,
    asynchronously, after the action that produced them has returned.
    """
    try:
        spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty(timeout_ms)  # noqa: SLF001 - no public API
        return True
    except Exception:  # noqa: BLE001 - a late event costs the fallback, never the run
        return False


class ObservedMetrics:
    """``frame`` with aggregate ``metrics`` attached; :meth:`values` once an action computed it."""

    def __init__(self, frame: DataFrame, metrics: list[Column]):
        self._observation = Observation(f"__medallion_obs_{uuid.uuid4().hex[:12]}")
        self._metrics = metrics
        self.frame = frame.observe(self._observation, *metrics)
        self._values: dict[str, Any] | None = None

    def ready(self) -> bool:
        """Whether an action has filled the metrics.

        The metrics reach the driver through the listener bus, after the action has returned;
        on a busy machine they can still be on their way. So when they are not there yet, the
        bus is drained once (bounded) before saying no: a late delivery must not cost a second
        pass over the data (under load it did: an extra aggregation job per counter).
        """
        if self._completed():
            return True
        return drain_events(self.frame.sparkSession) and self._completed()

    def _completed(self) -> bool:
        try:
            return bool(self._observation._jo.future().isCompleted())  # noqa: SLF001 - no public probe
        except Exception:  # noqa: BLE001 - an API change must only cost the cheap path
            return False

    def values(self) -> dict[str, Any]:
        """The metrics; aggregated now (one pass) if no action has computed the frame yet."""
        if self._values is None and self.ready():
            # empty when the plan node ran in a stage that adaptive execution cut short (a join
            # side it found it did not need): counted below instead
            self._values = dict(self._observation.get) or None
        if self._values is None:
            self._values = self.frame.agg(*self._metrics).first().asDict()  # type: ignore[union-attr]
        return self._values


class ObservedCount(ObservedMetrics):
    """``frame`` with a row counter attached."""

    def __init__(self, frame: DataFrame):
        super().__init__(frame, [F.count(F.lit(1)).alias("rows")])

    def count(self) -> int:
        """The row count, counting now if no action has computed the frame yet."""
        return int(self.values()["rows"])


def aggregate_in_one_job(frame: DataFrame, metrics: list[Column]) -> dict[str, Any]:
    """Global aggregates of ``frame`` (no grouping) that are needed now, in one Spark job.

    ``frame.agg(...).first()`` costs two jobs (partial aggregates, a shuffle to one partition,
    the final aggregate); an observation filled by a no-op write reads every row once in a
    single job and gives the same values. On a cached frame that job also fills the cache.
    """
    observed = ObservedMetrics(frame, metrics)
    observed.frame.write.format("noop").mode("overwrite").save()
    return observed.values()
