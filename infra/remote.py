"""The ``step_functions`` executor: ``run``, ``run --resume``, ``runs`` and ``validate`` on AWS.

Registered with the engine when the CLI loads this package's command plugin (``infra.cli``),
so the engine never imports it. From an operator's machine, with no Spark:

- ``medallion run --profile aws`` starts a new execution of the pipeline state machine (a new
  run id; ``--select`` narrows it to the selected specs);
- ``medallion run --resume RUN_ID --profile aws`` reads the run's spec records in the S3 run
  store and starts an execution in the SAME run id (same checkpoints, same watermarks) that
  runs only the specs that did not succeed and everything downstream of them;
- ``medallion runs [RUN_ID] --profile aws`` shows pipeline runs and per-spec state from the S3
  run store (spec records ``<run>.<spec>.json`` and the state machine's pipeline records).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from infra.checks import check_for_aws
from infra.orchestration import SOURCE_LOAD, reload_command, selection_key
from infra.orchestration_apply import find_state_machine
from infra.target import Target, target_for
from engine.errors import UsageError
from engine.plan.graph import Graph
from engine.plan.select import select as select_specs
from engine.run.record import RunRecord, new_run_id
from engine.spec.suggest import did_you_mean

PIPELINES = "_pipelines"


class PipelineRun:
    """One pipeline run as the S3 run store tells it: its spec records and pipeline records."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.specs: dict[str, RunRecord] = {}
        self.executions: list[dict[str, Any]] = []

    def spec_status(self, name: str) -> str:
        """ok / failed / running / skipped, or 'not run' when no job run of it started."""
        record = self.specs.get(name)
        return record.spec(name).status if record else "not run"

    def _done(self) -> list[dict[str, Any]]:
        """The pipeline records in execution order: <run id>, then <run id>-reload-1, -2, ..."""
        def order(record: dict[str, Any]) -> int:
            name = str(record.get("execution", "")).rsplit(":", 1)[-1]
            tail = name.rsplit("-reload-", 1)
            return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 0

        return sorted(self.executions, key=order)

    @property
    def status(self) -> str:
        """The latest execution's verdict (a reload that succeeded makes the run ok); running before one."""
        done = self._done()
        return done[-1]["status"] if done else "running"

    @property
    def source_load_failed(self) -> bool:
        """Whether the latest execution of this run failed in the source load (then no spec ran)."""
        done = self._done()
        return bool(done) and done[-1]["status"] == "failed" and SOURCE_LOAD in (done[-1].get("failed") or [])

    @property
    def started_at(self) -> str:
        """When the first spec of this run started (from the spec records)."""
        return min((r.started_at for r in self.specs.values()), default="-")


def read_runs(ws: Any, graph: Graph) -> dict[str, PipelineRun]:
    """Every pipeline run in the profile's run store, by run id."""
    store = ws.store.store
    runs: dict[str, PipelineRun] = {}
    specs = sorted(graph.specs, key=len, reverse=True)
    for name in store.children(""):
        if not name.endswith(".json") or name.startswith(("_", ".")):
            continue
        stem = name[:-len(".json")]
        spec = next((s for s in specs if stem.endswith("." + s)), None)
        if spec is None:
            continue  # a run of the local CLI, not of the state machine
        blob = store.get(name)
        if blob is None:
            continue
        run_id = stem[:-len(spec) - 1]
        runs.setdefault(run_id, PipelineRun(run_id)).specs[spec] = RunRecord.model_validate(json.loads(blob.data))
    for run_id in store.children(PIPELINES):
        for name in store.children(f"{PIPELINES}/{run_id}"):
            blob = store.get(f"{PIPELINES}/{run_id}/{name}")
            if blob is not None:
                runs.setdefault(run_id, PipelineRun(run_id)).executions.append(json.loads(blob.data))
    return runs


def to_reload(graph: Graph, run: PipelineRun) -> list[str]:
    """The specs of ``run`` that did not succeed and everything downstream of them, in order."""
    todo = {n for n in graph.order if run.spec_status(n) != "ok"}
    stack = list(todo)
    while stack:
        for nxt in graph.downstream[stack.pop()]:
            if nxt not in todo:
                todo.add(nxt)
                stack.append(nxt)
    return [n for n in graph.order if n in todo]


class StepFunctionsExecutor:
    """The pipeline on AWS: one Step Functions execution per (re)run, one Glue job run per spec."""

    def __init__(self, clients: Callable[[str], Any] | None = None):
        self._clients = clients

    def _client(self, target: Target, service: str) -> Any:
        if self._clients is not None:
            return self._clients(service)
        import boto3

        return boto3.session.Session(region_name=target.config.region).client(service)

    def validate(self, ws: Any, say: Callable[[str], None]) -> None:
        """The orchestration checks (schedule, retry vs timeout) at file:line."""
        target_for(ws.project)
        schedule = check_for_aws(ws.project, ws.graph)
        say(f"orchestration ok: {len(ws.graph.specs)} Glue job runs per pipeline run, "
            f"schedule {schedule or 'none'}")

    def _machine(self, target: Target) -> tuple[Any, str]:
        sfn = self._client(target, "stepfunctions")
        arn = find_state_machine(sfn, target.state_machine_name)
        if arn is None:
            raise UsageError(f"no state machine {target.state_machine_name} in {target.config.region}; "
                             f"deploy first: medallion deploy --profile {target.project.profile_name}")
        return sfn, arn

    def run(self, ws: Any, select: list[str] | None, resume: str | None, say: Callable[[str], None]) -> int:
        """Start a pipeline run, or the reload of a failed one in its own run id."""
        target = target_for(ws.project)
        graph = ws.graph
        check_for_aws(ws.project, graph)
        sfn, arn = self._machine(target)
        if resume is None:
            names = select_specs(graph, select) if select else list(graph.order)
            run_id = new_run_id()
            execution = run_id
            payload: dict[str, Any] = {"run_id": run_id, "all": not select,
                                       "only": {selection_key(n): True for n in names} if select else {}}
            what = f"pipeline run {run_id}: {len(names)} spec(s)"
        else:
            if select:
                raise UsageError("--resume and --select do not go together: a reload finishes its run")
            if resume not in ("", "latest"):
                self._refuse_running(sfn, arn, resume)
            run = self._pick(read_runs(ws, graph), resume)
            self._refuse_running(sfn, arn, run.run_id)
            names = to_reload(graph, run)
            if not names:
                raise UsageError(f"run {run.run_id}: every spec succeeded; nothing to reload")
            run_id = run.run_id
            earlier = [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
                       for e in page["executions"] if e["name"].startswith(f"{run_id}-reload-")]
            execution = f"{run_id}-reload-{len(earlier) + 1}"[:80]  # names are unique per machine
            steps = [SOURCE_LOAD] * run.source_load_failed + names  # the load comes first, as in the run
            payload = {"run_id": run_id, "all": False, "only": {selection_key(n): True for n in steps}}
            what = (f"reload of run {run_id}: {len(names)} spec(s) ({', '.join(steps)}); nothing that succeeded "
                    "runs again")
        started = sfn.start_execution(stateMachineArn=arn, name=execution, input=json.dumps(payload))
        say(f"started on AWS: {what}")
        say(f"execution {started['executionArn']}")
        say(f"follow it: medallion runs {run_id} --profile {target.project.profile_name}")
        return 0

    @staticmethod
    def _refuse_running(sfn: Any, arn: str, run_id: str) -> None:
        """A run still executing (its first execution or a reload) is not reloaded on top of itself."""
        busy = [e["name"] for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=arn, statusFilter="RUNNING") for e in page["executions"]
            if e["name"] == run_id or e["name"].startswith(f"{run_id}-reload-")]
        if busy:
            raise UsageError(f"run {run_id} is still running on AWS (execution {busy[0]}); wait for it to end")

    @staticmethod
    def _pick(runs: dict[str, PipelineRun], run_id: str | None) -> PipelineRun:
        if run_id in (None, "", "latest"):
            failed = sorted((r for r in runs.values() if r.status == "failed"), key=lambda r: r.started_at)
            if not failed:
                raise UsageError("nothing to reload: no failed pipeline run in the run store")
            return failed[-1]
        if run_id not in runs:
            raise UsageError(f"no pipeline run '{run_id}'{did_you_mean(run_id, runs)}")
        return runs[run_id]

    def runs(self, ws: Any, run_id: str | None, say: Callable[[str], None]) -> None:
        """Pipeline runs (newest last), or one run's per-spec state and its reload command."""
        graph = ws.graph
        runs = read_runs(ws, graph)
        profile = ws.project.profile_name
        if run_id is None:
            say(f"{'run_id':<40} {'status':<8} {'started':<26} ok failed not-run")
            for run in sorted(runs.values(), key=lambda r: r.started_at):
                states = [run.spec_status(n) for n in graph.order]
                say(f"{run.run_id:<40} {run.status:<8} {run.started_at:<26} {states.count('ok'):>2} "
                    f"{states.count('failed'):>6} {states.count('not run'):>7}")
            return
        run = self._pick(runs, run_id)
        say(f"pipeline run {run.run_id}: {run.status} · started {run.started_at} · "
            f"{len(run.executions)} execution(s)")
        say(f"{'spec':<40} {'status':<8} attempts rows_out error")
        for name in graph.order:
            record = run.specs.get(name)
            item = record.spec(name) if record else None
            say(f"{name:<40} {run.spec_status(name):<8} {item.attempts if item else 0:>8} "
                f"{item.rows_out if item and item.rows_out is not None else '-':>8} {(item.error or '') if item else ''}")
        if run.status == "failed":
            say("to reload: " + reload_command(profile).format(run.run_id))
