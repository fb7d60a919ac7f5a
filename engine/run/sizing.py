"""Shuffle partitions sized for the data each spec reads.

Spark's default of 200 shuffle partitions doubles the time of small jobs; a fixed small number
starves big ones. With ``shuffle_partitions: auto`` each spec gets one partition per 64 MiB of
input (files and lake tables), at least the cores available and at most 400. The setting is a
runtime SQL conf, so it changes per spec inside the one session.
"""

from __future__ import annotations

import glob
import math
from pathlib import Path

from engine.errors import MedallionError
from engine.io.lake import Lake
from engine.io.objectstore import path_bytes
from engine.spec.loader import LoadedSpec
from engine.spec.steps import ReadStep

BYTES_PER_PARTITION = 64 * 1024 * 1024
MAX_PARTITIONS = 400


def input_bytes(loaded: LoadedSpec, lake: Lake, base_dir: Path) -> int:
    """Bytes a spec reads: its local files plus the committed versions of its input tables.

    Raw files named by a URL (``s3://…``) are not listed: a bronze spec reading them gets the
    core count, which suits a read-and-write spec with little shuffle.
    """
    total = 0
    for step in loaded.spec.steps:
        if isinstance(step, ReadStep) and "://" not in step.path:
            pattern = step.path if Path(step.path).is_absolute() else str(base_dir / step.path)
            for match in glob.glob(pattern, recursive=True):
                total += path_bytes(Path(match))
    for table in loaded.spec.input_tables:
        try:
            current = lake.current(table)
        except MedallionError:
            continue  # a broken input is reported by the spec's own read, with its recovery
        if current is not None:
            total += lake.version_bytes(current)  # a folder locally, an S3 listing on AWS
    return total


def partitions_for(num_bytes: int, cores: int) -> int:
    """One partition per 64 MiB, between the core count and 400."""
    return max(cores, min(MAX_PARTITIONS, math.ceil(num_bytes / BYTES_PER_PARTITION)))
