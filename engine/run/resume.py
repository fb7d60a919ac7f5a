"""Which run to resume, how to reopen it as it ran, and what is left to do in it.

A resume re-runs the specs of a run that did not finish (failed, skipped, never started, or
cut off by a crash) and everything downstream of them within that run's selection. Specs that
committed are not recomputed: their tables are read at the version they committed.

The printed ``medallion run --resume RUN_ID`` must work as typed, even when the run used a
lake elsewhere (``--var lake_dir=…``) or another profile. So each run started from a project
leaves a small locator in ``<project>/.medallion/runs/<run id>.json`` (profile, ``--var`` as
given, lake location); a resume reopens the workspace with them (command-line ``--var`` wins)
and so finds the run store where the failed run used it. The run record itself keeps the
profile and every resolved variable.

``MEDALLION_STATE_DIR`` moves the locators out of the project (``<dir>/projects/<key>/runs``, a
folder per project): for a read-only
checkout, for several people sharing one, and for the test suite, which must never write into
the repository it tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.io.objectstore import holder_is_stale
from engine.plan.graph import Graph
from engine.run.record import RunRecord, RunStore
from engine.spec.suggest import did_you_mean

LOCATORS = Path(".medallion") / "runs"
STATE_DIR_VARIABLE = "MEDALLION_STATE_DIR"
STALE_AFTER = 6 * 3600  # as the lake lock: a holder older than this is gone


def locator_folder(project_root: Path) -> Path:
    """Where the locators of runs started from ``project_root`` are kept (one folder per project
    under ``MEDALLION_STATE_DIR``, so "the latest run" is always this project's)."""
    override = os.environ.get(STATE_DIR_VARIABLE)
    if not override:
        return project_root / LOCATORS
    key = hashlib.sha256(str(Path(project_root).resolve()).encode()).hexdigest()[:16]
    return Path(override).expanduser() / "projects" / key / "runs"


def remember(project_root: Any, record: RunRecord, lake_root: Any) -> None:
    """Leave the locator of a run in its project (best effort: a read-only project is fine)."""
    if not isinstance(project_root, Path):
        return
    folder = locator_folder(project_root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{record.run_id}.json").write_text(json.dumps(
            {"run_id": record.run_id, "profile": record.profile, "var_args": record.var_args,
             "lake": str(lake_root)}, indent=2))
    except OSError:
        pass


def locate(project_root: Path, run_id: str | None) -> dict[str, Any] | None:
    """The locator of ``run_id`` (None/"latest": the newest one), or None."""
    folder = locator_folder(project_root)
    if run_id in (None, "", "latest"):
        found = sorted(folder.glob("*.json")) if folder.is_dir() else []
        return json.loads(found[-1].read_text()) if found else None
    path = folder / f"{run_id}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def reopen_args(locator: dict[str, Any] | None, profile: str | None, var: list[str]) -> tuple[str | None, list[str]]:
    """Profile and ``--var`` to reopen a run with: its own, then the command line's (which win)."""
    if locator is None:
        return profile, list(var)
    return profile or locator.get("profile"), [*locator.get("var_args", []), *var]


def pick_run(store: RunStore, run_id: str | None) -> RunRecord:
    """The named run, or the latest run that did not end ok."""
    runs = store.list()
    if run_id in (None, "", "latest"):
        unfinished = [r for r in runs if r.status != "ok" and not r.resolved_by]
        if not unfinished:
            raise UsageError("nothing to resume: no failed or interrupted run in this lake")
        return unfinished[-1]
    record = store.load(run_id)
    if record is None:
        raise UsageError(f"no run '{run_id}' in {store.folder}{did_you_mean(run_id, [r.run_id for r in runs])}")
    if record.status == "ok":
        raise UsageError(f"run {run_id} finished ok; nothing to resume")
    return record


def mark_interrupted(store: RunStore, run_id: str | None) -> None:
    """A run whose stale lock was taken over died while running: record it as interrupted."""
    record = store.load(run_id) if run_id else None
    if record is not None and record.status == "running":
        record.status = "interrupted"
        for spec in record.specs:
            if spec.status == "running":
                spec.status, spec.error = "failed", "interrupted: the process died (its lock was stale)"
        store.save(record)


def shown_status(record: RunRecord, lock_holder: dict[str, Any] | None) -> str:
    """A run's status as ``medallion runs`` shows it: a "running" run whose lock is gone or stale
    (its process died) is interrupted."""
    status = record.status
    holder = lock_holder or {}
    if status == "running" and (holder.get("run_id") != record.run_id or holder_is_stale(holder, STALE_AFTER)):
        status = "interrupted"  # a live run holds the lake lock, and its process is there
    return f"{status} (resumed by {record.resolved_by})" if record.resolved_by else status


def mark_resolved(store: RunStore, resumed: RunRecord) -> None:
    """After a resume that ended ok: every unfinished run of its chain is done, by this run."""
    if resumed.status != "ok" or not resumed.resumed_from:
        return
    runs = {r.run_id: r for r in store.list()}
    chain = {resumed.run_id}
    changed = True
    while changed:  # the runs linked to this one through resumed_from, in either direction
        changed = False
        for record in runs.values():
            linked = record.run_id in chain or record.resumed_from in chain
            if linked and not {record.run_id, record.resumed_from or record.run_id} <= chain:
                chain |= {record.run_id, *([record.resumed_from] if record.resumed_from else [])}
                changed = True
    for run_id in chain - {resumed.run_id}:
        record = runs.get(run_id)
        if record is not None and record.status != "ok" and not record.resolved_by:
            record.resolved_by = resumed.run_id
            if record.status == "running":
                record.status = "interrupted"
            store.save(record)


def remaining(graph: Graph, record: RunRecord) -> list[str]:
    """Unfinished specs of ``record`` and their downstream within its selection, in order."""
    missing = [s.spec for s in record.specs if s.spec not in graph.specs]
    if missing:
        raise UsageError(f"run {record.run_id} ran specs that no longer exist: {', '.join(missing)}")
    selection = set(record.selection)
    todo = {s.spec for s in record.specs if s.status != "ok"}
    stack = list(todo)
    while stack:
        for nxt in graph.downstream[stack.pop()]:
            if nxt in selection and nxt not in todo:
                todo.add(nxt)
                stack.append(nxt)
    return [n for n in graph.order if n in todo]
