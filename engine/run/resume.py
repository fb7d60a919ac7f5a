"""Which run to resume and what is left to do in it.

A resume re-runs the specs of a run that did not finish (failed, skipped, never started, or
cut off by a crash) and everything downstream of them within that run's selection. Specs that
committed are not recomputed: their tables are read at the version they committed.
"""

from __future__ import annotations

from engine.errors import UsageError
from engine.plan.graph import Graph
from engine.run.record import RunRecord, RunStore
from engine.spec.suggest import did_you_mean


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
        raise UsageError(f"no run '{run_id}'{did_you_mean(run_id, [r.run_id for r in runs])}")
    if record.status == "ok":
        raise UsageError(f"run {run_id} finished ok; nothing to resume")
    return record


def mark_resolved(store: RunStore, resumed: RunRecord) -> None:
    """After a resume that ended ok: the original run and its failed resumes are done."""
    if resumed.status != "ok" or not resumed.resumed_from:
        return
    for record in store.list():
        if record.run_id == resumed.resumed_from or (
                record.resumed_from == resumed.resumed_from and record.run_id != resumed.run_id):
            if record.status != "ok" and not record.resolved_by:
                record.resolved_by = resumed.run_id
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
