"""The run record: what happened to each spec of a run, saved as JSON under the lake.

The CLI, Glue logs and the health dashboard all read this one record, so they agree.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.io.objectstore import LocalStore, ObjectStore

Status = Literal["pending", "running", "ok", "failed", "skipped"]
RunStatus = Literal["running", "ok", "failed", "interrupted"]


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
    incremental: dict[str, Any] | None = Field(
        None, description="silver/gold incremental specs: mode (range, keys, full, up_to_date), the note "
        "(what was recomputed, or why a full pass), rows read per input, rows recomputed and kept; bronze "
        "specs that read files: mode (new_files, all_files, up_to_date), note, files_read, files_skipped, "
        "files_changed, rows_read, rows_stored")
    spark: dict[str, int] | None = Field(
        None, description="Spark work of this spec (every attempt), from the status tracker by its job group: "
        "jobs, stages that ran, completed tasks, failed tasks")


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
    status: RunStatus = "running"
    holder: dict[str, Any] = Field(default_factory=dict, description="pid, host and start of the process running it")
    specs: list[SpecRecord] = Field(default_factory=list)
    resume_command: str | None = None

    def spec(self, name: str) -> SpecRecord:
        """The record of one spec."""
        return next(s for s in self.specs if s.spec == name)


class RunStore:
    """Run records as JSON objects in ``<lake>/_runs`` (a folder or an S3 prefix); newest last when listed."""

    def __init__(self, folder: Path | ObjectStore):
        self.store: Any = LocalStore(folder) if isinstance(folder, Path) else folder
        self._saving = threading.Lock()  # specs on threads save the one record: one save at a time

    @property
    def folder(self) -> Any:
        """Where the records live (a local folder, or the store for an S3 prefix)."""
        return self.store.root if isinstance(self.store, LocalStore) else self.store

    def save(self, record: RunRecord) -> Any:
        """Write (or overwrite) a run's record atomically (one object PUT / temp file + rename).

        Dumped and written under a lock, so of two threads saving, the later save holds the
        later state (an older dump can never overwrite a newer one)."""
        key = f"{record.run_id}.json"
        with self._saving:
            self.store.put(key, record.model_dump_json(indent=2).encode("utf-8"))
        return self.store.location(key)

    def load(self, run_id: str) -> RunRecord | None:
        """One run's record, or None."""
        blob = self.store.get(f"{run_id}.json")
        return None if blob is None else RunRecord.model_validate(json.loads(blob.data))

    def list(self) -> list[RunRecord]:
        """All runs, oldest first (run ids sort by start time)."""
        records = []
        for name in self.store.children(""):
            if name.endswith(".json") and not name.startswith((".", "_")):
                blob = self.store.get(name)
                if blob is not None:
                    records.append(RunRecord.model_validate(json.loads(blob.data)))
        return records

    def save_artefact(self, name: str, data: dict[str, Any]) -> Any:
        """Keep a report that outlives one run (e.g. a model evaluation) as the latest of its name.

        Dashboards read it with :meth:`load_artefact`; each save replaces the previous one.
        """
        key = f"_artefacts/{name}.json"
        self.store.put(key, json.dumps(data, indent=2, default=str).encode("utf-8"))
        return self.store.location(key)

    def load_artefact(self, name: str) -> dict[str, Any] | None:
        """The latest report saved under ``name``, or None."""
        blob = self.store.get(f"_artefacts/{name}.json")
        return None if blob is None else json.loads(blob.data)
