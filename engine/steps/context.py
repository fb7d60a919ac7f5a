"""What a step executor gets besides its own model: Spark, named frames, run identity, and
the places it reports to: quarantined rows, counted losses and rule outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from engine.spec.secrets import SecretProvider
from engine.steps.counting import ObservedCount, ObservedMetrics


@dataclass
class Loss:
    """Rows a step removed on purpose, for the conservation check.

    Either ``rows`` is known (rules count their failures) or it is ``before - after``.
    """

    kind: str  # filtered | deduplicated | quarantined | dropped
    step: str
    rows: int | None = None
    before: DataFrame | ObservedCount | None = None
    after: DataFrame | ObservedCount | None = None

    def count(self) -> int:
        """The number of rows removed (counted lazily, after the output is written).

        Observed counts were filled by the write itself; plain frames are counted now.
        """
        if self.rows is None:
            assert self.before is not None and self.after is not None
            self.rows = self.before.count() - self.after.count()
        return self.rows


@dataclass
class RuleOutcome:
    """One quality rule's result: rows checked, rows failing, the action taken.

    Rules that only warn leave ``counts`` (observed while the output is written) instead of
    numbers; ``checked`` and ``failed`` read them on first use.
    """

    step: str
    rule: str
    kind: str
    action: str
    known_checked: int | None = None
    known_failed: int | None = None
    counts: ObservedMetrics | None = None
    key: str = ""

    def _resolve(self) -> None:
        if self.counts is not None:
            found = self.counts.values()
            self.known_checked, self.known_failed = int(found["rows"]), int(found[self.key])
            self.counts = None

    @property
    def checked(self) -> int:
        """Rows the rule looked at."""
        self._resolve()
        return int(self.known_checked or 0)

    @property
    def failed(self) -> int:
        """Rows that failed it."""
        self._resolve()
        return int(self.known_failed or 0)

    def as_dict(self) -> dict[str, object]:
        """For the run record."""
        return {"step": self.step, "rule": self.rule, "kind": self.kind, "action": self.action,
                "checked": self.checked, "failed": self.failed}


@dataclass
class StepContext:
    """Per-spec execution state shared by its steps."""

    spark: SparkSession
    run_id: str
    base_dir: Path
    spec_name: str = ""
    frames: dict[str, DataFrame] = field(default_factory=dict)
    secrets: SecretProvider | None = None
    step_label: str = ""
    quarantine: list[DataFrame] = field(default_factory=list)
    rejected: list[DataFrame] = field(default_factory=list)  # records that did not fit the declared shape
    losses: list[Loss] = field(default_factory=list)
    rules: list[RuleOutcome] = field(default_factory=list)
    cached: list[DataFrame] = field(default_factory=list)
    source: Any = None  # the profile's source database settings (for jdbc steps)
    incremental_since: datetime | None = None  # lower bound of an incremental window
    artefacts: list[dict[str, Any]] = field(default_factory=list)  # reports a step leaves (e.g. model fits)
    files: dict[str, list[str]] = field(default_factory=dict)  # read path -> the files an incremental run reads

    def source_paths(self, value: str) -> str | list[str]:
        """Where a read step reads: its path, or the files an incremental run chose for it."""
        chosen = self.files.get(value)
        return self.resolve_path(value) if chosen is None else chosen

    def resolve_path(self, value: str) -> str:
        """A file path from a spec, relative to the project root unless absolute or a URI."""
        if "://" in value:
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else self.base_dir / path)

    def frame(self, name: str) -> DataFrame:
        """A named frame (validated to exist at load time)."""
        return self.frames[name]
