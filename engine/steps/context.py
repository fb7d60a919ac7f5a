"""What a step executor gets besides its own model: Spark, named frames, run identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession


@dataclass
class StepContext:
    """Per-spec execution state shared by its steps."""

    spark: SparkSession
    run_id: str
    base_dir: Path
    frames: dict[str, DataFrame] = field(default_factory=dict)
    rows_read: int = 0

    def resolve_path(self, value: str) -> str:
        """A file path from a spec, relative to the project root unless absolute or a URI."""
        if "://" in value:
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else self.base_dir / path)

    def frame(self, name: str) -> DataFrame:
        """A named frame (validated to exist at load time)."""
        return self.frames[name]
