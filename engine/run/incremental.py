"""Incremental loads: read the window after the watermark, merge into the stored table.

Modes: ``incremental`` (default for specs that declare ``incremental:``) keeps the stored rows
and merges the rows at or after ``watermark - lookback``; ``full`` (``--full-refresh``)
rebuilds from every source row; ``backfill`` (``--backfill FROM TO``) merges the source rows
whose time lies in [FROM, TO]. In every mode the window is merged into the stored rows by the
spec's re-delivery rule (:mod:`engine.run.redelivery`), so overlapping windows never duplicate.
The new watermark is the largest time in the merged table and is committed with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from engine.errors import UsageError
from engine.io.lake import TableVersion
from engine.spec.models import Incremental

@dataclass
class LoadMode:
    """How incremental specs load in this run."""

    kind: str = "incremental"  # incremental | full | backfill
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def backfill(cls, start: str, end: str) -> "LoadMode":
        """A window given as two ISO dates or timestamps; an end date includes its whole day."""
        try:
            lo = datetime.fromisoformat(start)
            hi = datetime.fromisoformat(end)
        except ValueError as exc:
            raise UsageError(f"--backfill FROM TO takes ISO dates or timestamps ({exc})") from None
        if len(end) == 10:
            hi = hi + timedelta(days=1) - timedelta(microseconds=1)
        if hi < lo:
            raise UsageError(f"--backfill: {end} is before {start}")
        return cls("backfill", lo, hi)


def _time(column: str):
    return F.coalesce(F.to_timestamp(F.col(column)), F.col(column).cast("timestamp"))


def since(inc: Incremental, mode: LoadMode, current: TableVersion | None) -> datetime | None:
    """Lower time bound of the rows this run loads (None: everything), for pushdown."""
    if mode.kind == "backfill":
        return mode.start
    if mode.kind == "full" or current is None or not current.watermark:
        return None
    return datetime.fromisoformat(current.watermark) - timedelta(hours=inc.lookback_hours)


def window(frame: DataFrame, inc: Incremental, mode: LoadMode, current: TableVersion | None) -> DataFrame:
    """The source rows this run loads."""
    ts = _time(inc.column)
    if mode.kind == "backfill":
        return frame.filter(ts.between(F.lit(mode.start), F.lit(mode.end)))
    if mode.kind == "full" or current is None or not current.watermark:
        return frame
    since = datetime.fromisoformat(current.watermark) - timedelta(hours=inc.lookback_hours)
    return frame.filter(ts.isNull() | (ts >= F.lit(since)))


def new_watermark(merged_path: str, spark, inc: Incremental) -> str | None:
    """Largest time of the committed-to-be table (read back from its written files)."""
    row = spark.read.parquet(merged_path).select(F.max(_time(inc.column)).alias("w")).first()
    return row["w"].isoformat() if row and row["w"] is not None else None
