"""What the AWS orchestration needs of the specs, checked before anything touches AWS.

``medallion validate --profile aws`` and ``medallion deploy`` run these (after the spec checks
every profile gets: syntax, AWS cron syntax, cycles), each problem reported as
``file:line: message``:

- a schedule belongs to the specs that start the pipeline (no upstream spec); a downstream spec
  runs when its inputs succeed, so a schedule on it is an error;
- the pipeline has ONE schedule (one EventBridge Scheduler schedule starts one execution that
  runs every spec), so scheduled roots must agree;
- a retry policy whose waits alone outlast the Glue job's timeout would be killed mid-retry by
  Glue: the engine retries inside the job run, so its backoff counts against the timeout.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import SpecError, SpecErrors
from engine.plan.graph import Graph
from engine.spec.models import Retry
from engine.spec.project import CONFIG_FILE, Project
from engine.spec.yaml_source import load_yaml_file


def pipeline_schedule(graph: Graph) -> tuple[str | None, list[SpecError]]:
    """The pipeline's one schedule (or None), and the schedule errors found."""
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
                              f"but {first} '{found[first]}'; one schedule starts the whole pipeline, so "
                              "scheduled specs share one schedule"))
    return (distinct[0] if distinct else None), errors


def retry_wait_seconds(policy: Retry) -> float:
    """The longest the engine's retries can sleep in one job run (full jitter: the cap of each wait).

    tenacity's ``wait_random_exponential(multiplier=b, max=m)`` sleeps up to
    ``min(m, b * 2**(n-1))`` after attempt ``n``; there are ``attempts - 1`` such waits.
    """
    return sum(min(policy.max_delay_seconds, policy.backoff_seconds * 2 ** (n - 1))
               for n in range(1, policy.attempts))


def _retry_errors(project: Project, graph: Graph, timeout_minutes: int) -> list[SpecError]:
    limit = timeout_minutes * 60
    errors = []

    def message(what: str, policy: Retry) -> str:
        waits = retry_wait_seconds(policy)
        return (f"{what} retry policy can wait {waits:.0f} s between its {policy.attempts} attempts, longer "
                f"than the Glue job timeout of {timeout_minutes} min ({limit} s); lower attempts, "
                "backoff_seconds or max_delay_seconds, or raise deploy.timeout_minutes")

    if retry_wait_seconds(project.default_retry) >= limit:
        path = project.root / CONFIG_FILE
        doc = load_yaml_file(path, Path(CONFIG_FILE))
        errors.append(doc.error(("retry",), message("the project's default", project.default_retry)))
    for name in graph.order:
        loaded = graph.specs[name]
        policy = loaded.spec.retry
        if policy is not None and retry_wait_seconds(policy) >= limit:
            errors.append(loaded.doc.error(("retry",), message(f"{name}'s", policy)))
    return errors


def check_for_aws(project: Project, graph: Graph) -> str | None:
    """Raise every orchestration problem at ``file:line``; returns the pipeline's schedule."""
    schedule, errors = pipeline_schedule(graph)
    if project.profile.deploy is not None:
        errors += _retry_errors(project, graph, project.profile.deploy.timeout_minutes)
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    return schedule
