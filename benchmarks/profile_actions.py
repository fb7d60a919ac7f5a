"""Profile a ``medallion`` command: every Spark action, its duration and the engine code behind it.

    .venv/bin/python benchmarks/profile_actions.py run --plain --var raw_dir=/tmp/bench_data/s1 \
        --var lake_dir=/tmp/prof_lake

Wraps ``DataFrame.count/first/collect/toPandas/take/head`` and ``DataFrameWriter.parquet``; each
call prints ``[action] name seconds  engine/file:line < caller < caller`` as it ends, and the
totals per call site are printed at exit (nested calls such as first -> head -> take -> collect
each count, so read the innermost). This is how docs/performance.md found its hot spots: an
action that is not a write is work the run pays for besides its outputs.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import DataFrame, DataFrameWriter  # noqa: E402

STATS: dict[str, float] = defaultdict(float)


def wrap(cls: type, name: str) -> None:
    """Replace ``cls.name`` by a timed version that reports the engine frames that called it."""
    original = getattr(cls, name)

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            seconds = time.perf_counter() - started
            frames = [f for f in traceback.extract_stack()[:-1] if "/engine/" in f.filename]
            where = " < ".join(f"{f.filename.split('/engine/')[1]}:{f.lineno}" for f in frames[-3:][::-1])
            STATS[f"{name} {where}"] += seconds
            print(f"    [action] {name:8s} {seconds:6.2f}s  {where}", flush=True)

    setattr(cls, name, timed)


def main() -> None:
    for name in ("count", "first", "collect", "toPandas", "take", "head"):
        wrap(DataFrame, name)
    wrap(DataFrameWriter, "parquet")
    from engine.cli import main as cli

    sys.argv = ["medallion", *sys.argv[1:]]
    try:
        cli()
    finally:
        for key, seconds in sorted(STATS.items(), key=lambda kv: -kv[1])[:25]:
            print(f"{seconds:7.2f} {key}")


if __name__ == "__main__":
    main()
