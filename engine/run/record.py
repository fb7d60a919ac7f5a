"""The run record: what happened to each spec of a run, saved as JSON under the lake.

The CLI, Glue logs and the health dashboard all read this one record, so they agree.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["pending", "running", "ok", "failed", "skipped"]


def new_run_id(now: datetime | None = None) -> str:
    """Sortable to the millisecond, unique: ``20261125T031500123Z-a1b2c3``."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)


def utc_now() -> str:
    """ISO-8601 UTC timestamp to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SpecRecord(BaseModel):
    """One spec's outcome within a run."""

    spec: str
    layer: str
    status: Status = "pending"
    attempts: int = 0
    rows_in: int | None = None
    rows_out: int | None = None
    seconds: float | None = None
    version: int | None = None
    error: str | None = None
    error_class: str | None = None
    quarantined: int | None = None
    rules: list[dict[str, Any]] = Field(default_factory=list)
    accounting: dict[str, Any] | None = None
    artefacts: list[dict[str, Any]] = Field(
        default_factory=list, description="reports steps leave, e.g. a model fit: parameters, likelihood, status")


class RunRecord(BaseModel):
    """A whole run: identity, selection, per-spec outcomes, overall status."""

    run_id: str
    project: str
    profile: str
    selection: list[str] = Field(default_factory=list)
    variables: dict[str, str] = Field(default_factory=dict)
    var_args: list[str] = Field(default_factory=list, description="--var as given; a resume reuses them")
    resumed_from: str | None = None
    resolved_by: str | None = Field(None, description="the resume run that finished this run's work")
    started_at: str = Field(default_factory=utc_now)
    finished_at: str | None = None
    status: Literal["running", "ok", "failed"] = "running"
    specs: list[SpecRecord] = Field(default_factory=list)
    resume_command: str | None = None

    def spec(self, name: str) -> SpecRecord:
        """The record of one spec."""
        return next(s for s in self.specs if s.spec == name)


class RunStore:
    """Run records as JSON files in ``<lake>/_runs``; newest last when listed."""

    def __init__(self, folder: Path):
        self.folder = folder

    def save(self, record: RunRecord) -> Path:
        """Write (or overwrite) a run's record atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{record.run_id}.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(record.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(target)
        return target

    def load(self, run_id: str) -> RunRecord | None:
        """One run's record, or None."""
        path = self.folder / f"{run_id}.json"
        if not path.is_file():
            return None
        return RunRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def list(self) -> list[RunRecord]:
        """All runs, oldest first."""
        if not self.folder.is_dir():
            return []
        return [RunRecord.model_validate(json.loads(p.read_text(encoding="utf-8")))
                for p in sorted(self.folder.glob("*.json"))]

    def save_artefact(self, name: str, data: dict[str, Any]) -> Path:
        """Keep a report that outlives one run (e.g. a model evaluation) as the latest of its name.

        Dashboards read it with :meth:`load_artefact`; each save replaces the previous one.
        """
        folder = self.folder / "_artefacts"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        tmp.replace(target)
        return target

    def load_artefact(self, name: str) -> dict[str, Any] | None:
        """The latest report saved under ``name``, or None."""
        path = self.folder / "_artefacts" / f"{name}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
