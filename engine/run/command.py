"""The body of ``medallion run``: open the workspace (as the resumed run had it), run, report.

Kept out of the CLI module so the command line only parses options. A resume reopens the
project with the profile and ``--var`` the failed run used (see :mod:`engine.run.resume`), so
the printed ``to resume:`` line works as typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.plan.select import select
from engine.run import resume as resumes
from engine.run.faults import FaultPlan
from engine.run.incremental import LoadMode
from engine.run.preflight import preflight
from engine.run.record import RunRecord
from engine.run.report import Reporter
from engine.run.runner import RunContext, run_specs
from engine.run.scheduler import resolve_threads
from engine.run.workspace import Workspace
from engine.spec.project import find_root


def open_for_resume(project_dir: Path | None, profile: str | None, var: list[str],
                    run_id: str) -> tuple[Workspace, RunRecord]:
    """The workspace the run ``run_id`` used (its locator, else its record) and its record.

    ``latest`` is the newer of: the latest unfinished run in the lake the command line names,
    and the newest run this project started whose lake still calls it unfinished.
    """
    root = find_root(project_dir or Path.cwd())
    latest = run_id in (None, "", "latest")
    locator = None if latest else resumes.locate(root, run_id)
    if locator is None:
        ws = Workspace.open(project_dir, profile, var)
        try:
            record: RunRecord | None = resumes.pick_run(ws.store, run_id)
        except UsageError:
            if not latest:
                raise
            record = None
        newest = resumes.locate(root, None) if latest else None
        if newest is not None and (record is None or newest["run_id"] > record.run_id):
            other = Workspace.open(project_dir, *resumes.reopen_args(newest, profile, var)).store.load(newest["run_id"])
            if other is not None and other.status != "ok" and not other.resolved_by:
                record, locator = other, newest
        if record is None:
            raise UsageError("nothing to resume: no failed or interrupted run in this lake")
        run_id = record.run_id
        locator = locator or resumes.locate(root, run_id) or {"profile": record.profile,
                                                              "var_args": record.var_args}
    ws = Workspace.open(project_dir, *resumes.reopen_args(locator, profile, var))
    return ws, resumes.pick_run(ws.store, run_id)


def run_command(ws: Workspace, *, select_: list[str] | None, profile: str | None, var: list[str],
                project_dir: Path | None, resume: str | None, full_refresh: bool,
                backfill: tuple[str, str] | None, plain: bool, inject_fault: list[str],
                threads: int | None = None) -> RunRecord:
    """Run (or resume) and report; returns the saved record. ``ws`` is the command line's
    workspace; a resume reopens the one the resumed run used. ``threads``: ``--threads``, else
    the profile's ``threads:`` (auto: one spec per core, at most 4)."""
    if full_refresh and backfill:
        raise UsageError("--full-refresh and --backfill do not go together")
    mode = LoadMode("full") if full_refresh else LoadMode.backfill(*backfill) if backfill else LoadMode()
    resumed = None
    if resume is not None:
        if select_:
            raise UsageError("--resume and --select do not go together: a resume finishes its run's selection")
        ws, resumed = open_for_resume(project_dir, profile, var, resume)
        names = resumes.remaining(ws.graph, resumed)
    else:
        names = select(ws.graph, select_)
    preflight([ws.graph.specs[n] for n in names], ws.project.root)
    reporter = Reporter(plain=True if plain else None)
    if resumed is not None:
        reporter.line(f"resuming run {resumed.run_id}: {len(names)} spec(s) left")
    ctx = RunContext(graph=ws.graph, lake=ws.lake, store=ws.store, reporter=reporter, spark_factory=ws.spark,
                     project_name=ws.project.name, profile=ws.project.profile_name, base_dir=ws.project.root,
                     var_args=ws.var_args, default_retry=ws.project.default_retry,
                     shuffle_partitions=ws.project.profile.spark.shuffle_partitions, secrets=ws.secrets,
                     faults=FaultPlan.parse(inject_fault), warehouse=ws.warehouse, mode=mode,
                     source=ws.source, variables=dict(ws.project.variables),
                     threads=resolve_threads(threads if threads is not None else ws.project.profile.threads))
    record = run_specs(ctx, names, resumed_from=resumed.run_id if resumed else None)
    resumes.mark_resolved(ws.store, record)
    reporter.run_finished(record)
    return record


def runs_status(ws: Any, record: RunRecord) -> str:
    """A run's status for ``medallion runs`` (a dead "running" run shows interrupted)."""
    holder, _ = ws.lock(record.run_id)._held_by()
    return resumes.shown_status(record, holder)


def _has_versions(ws: Any, table: str) -> bool:
    try:
        return bool(ws.lake.versions(table))
    except Exception:  # noqa: BLE001 - a name the lake cannot even address has no versions
        return False


def rollback_command(ws: Any, table: str, version: int | None, reporter: Reporter) -> None:
    """Point a table back at a kept version; also repairs a pointer that cannot be read."""
    from engine.errors import StorageFault
    from engine.run.lock import LakeLock

    # a usage error, not a failed run: neither a spec nor any kept version has that name
    if table not in ws.graph.specs and not _has_versions(ws, table):
        from engine.errors import UsageError
        from engine.spec.suggest import did_you_mean

        known = [*ws.graph.specs, *(t.table for t in ws.lake.tables([]))]  # side tables too
        raise UsageError(f"no table '{table}' in this project{did_you_mean(table, known)}")
    with LakeLock(ws.lake.root, f"rollback-{table}"):
        try:
            before = str(ws.lake.require(table).version)
        except StorageFault:
            before = "unreadable pointer"
        restored = ws.lake.rollback(table, version)
        faults: list[StorageFault] = []
        ws.warehouse.refresh(ws.lake.tables(faults), ws.hints())
    reporter.line(f"{table}: version {before} -> {restored.version} "
                  f"({restored.rows:,} rows, committed {restored.committed_at} by run {restored.run_id})")
    for fault in faults:
        reporter.error(f"warehouse not refreshed for this table: {fault}")
