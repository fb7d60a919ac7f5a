"""From the dependency graph to Glue triggers: one start trigger, one conditional trigger per spec.

Decision (docs/deploy.md): a schedule belongs to the specs that start the pipeline. Specs with
no upstream spec (roots) are started together by the workflow's one start trigger, on the
schedule they declare; every other spec is started by a conditional trigger when its inputs'
runs succeeded. A Glue workflow has exactly one start trigger, so the roots that declare a
schedule must agree on it, and a spec with upstream specs may not declare one.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import SpecError, SpecErrors
from engine.plan.graph import Graph


@dataclass(frozen=True)
class TriggerSpec:
    """One trigger of the workflow: which specs it starts, and when."""

    name: str
    kind: str  # SCHEDULED, ON_DEMAND or CONDITIONAL
    specs: tuple[str, ...]
    schedule: str | None = None
    after: tuple[str, ...] = ()


def trigger_name(prefix: str, spec: str) -> str:
    """The conditional trigger that starts ``spec`` (named after what it starts)."""
    return f"{prefix}-run-{spec}"


def workflow_schedule(graph: Graph) -> str | None:
    """The one schedule of the workflow, checked against the rules above (errors at file:line)."""
    errors: list[SpecError] = []
    found: dict[str, str] = {}
    for name in graph.order:
        loaded = graph.specs[name]
        schedule = loaded.spec.schedule
        if schedule is None:
            continue
        if graph.upstream[name]:
            errors.append(loaded.doc.error(("schedule",), f"{name} has a schedule but reads "
                          f"{', '.join(sorted(graph.upstream[name]))}; only specs with no upstream spec are "
                          "scheduled (the others run when their inputs succeed)"))
            continue
        found[name] = schedule
    distinct = sorted(set(found.values()))
    if len(distinct) > 1:
        first = next(iter(found))
        for name, schedule in found.items():
            if schedule != found[first]:
                errors.append(graph.specs[name].doc.error(("schedule",), f"{name} is scheduled '{schedule}' "
                              f"but {first} '{found[first]}'; the workflow has one start trigger, so "
                              "scheduled specs share one schedule"))
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    return distinct[0] if distinct else None


def workflow_triggers(graph: Graph, prefix: str) -> list[TriggerSpec]:
    """The triggers that run every spec of ``graph`` once per workflow run, in graph order."""
    schedule = workflow_schedule(graph)
    roots = tuple(n for n in graph.order if not graph.upstream[n])
    triggers = [TriggerSpec(f"{prefix}-start", "SCHEDULED" if schedule else "ON_DEMAND", roots, schedule)]
    for name in graph.order:
        ups = graph.upstream[name]
        if ups:
            after = tuple(n for n in graph.order if n in ups)
            triggers.append(TriggerSpec(trigger_name(prefix, name), "CONDITIONAL", (name,), after=after))
    return triggers
