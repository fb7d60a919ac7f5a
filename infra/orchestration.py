"""The pipeline as a Step Functions state machine: a pure function of the spec graph.

One Task chain per spec runs the ONE Glue job with ``--spec NAME --run-id RUN``; a spec starts
only when every upstream spec of the same pipeline run succeeded, and independent specs run in
Parallel branches. How the graph becomes branches (``plan_blocks``): the specs whose upstreams
are all done start together; each of them carries, inside its own branch, the specs that need
nothing else from the group (so a mart follows its one upstream at once, not the slowest
sibling); what needs two branches waits for both. Exact for trees and chains; a spec joining
two branches waits for the whole group (the only approximation, written down in docs/design.md).

Each spec is, in order (state names start with the spec name, so a diff after one spec changed
names only that spec's states):

- ``<spec>``            Choice: selected in this execution? (all specs, or the reload's list)
- ``<spec> · run``      Parallel with one branch = one attempt; Retry on ``Medallion.JobRunFailed``
                        per the spec's retry policy (exponential, full jitter); Catch → failed
- ``<spec> · start``    glue:startJobRun (Retry on ConcurrentRunsExceeded = bounded concurrency)
- ``<spec> · wait`` / ``· poll`` / ``· state?``  Wait + aws-sdk:glue:getJobRun loop (not ``.sync``:
                        see docs/design.md)
- ``<spec> · outcome``  the engine's outcome object (S3 HeadObject metadata): terminal or not
- ``<spec> · terminal`` / ``· retry``  Fail states: a terminal error is never retried
- ``<spec> · failed``   Pass: records the failed spec and its error; the branch stops there

When the profile has a source database (``source:`` with tables: the brief's raw S3 → RDS hop),
the run starts with ``source load``: ONE job run of the same job with ``--task source-load``,
which loads the raw CSVs into the source database (idempotently: staging table, then a swap)
before any bronze spec reads it. It has the same states, retries and outcome object as a spec,
so the whole flow (raw S3 → RDS → bronze → silver → gold → Redshift) runs on its schedule with
nobody starting the load by hand.

After the last spec the run's pipeline record is written to the S3 run store; a failure
anywhere ends in ONE SNS message (failed spec, error, reload command), the record, and Fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Union

from engine.plan.graph import Graph
from engine.spec.models import Retry

POLL_SECONDS = 30
RUNNING_STATES = ("STARTING", "RUNNING", "STOPPING", "WAITING")
JOB_RUN_FAILED = "Medallion.JobRunFailed"  # retried per the spec's policy
SPEC_FAILED = "Medallion.SpecFailed"  # terminal: never retried
CARRY = {"run_id.$": "$.run_id", "all.$": "$.all", "only.$": "$.only", "build.$": "$.build"}
SOURCE_LOAD = "source load"  # state name of the raw files -> source database load (a run's first job run)
SOURCE_LOAD_TASK = "source-load"  # its --task argument (engine/run/glue_entry.py) and outcome folder


@dataclass(frozen=True)
class Fork:
    """Branches that run at the same time; each branch is a sequence of steps."""

    branches: tuple[tuple["Step", ...], ...]

    @property
    def name(self) -> str:
        """Named after the first spec of its first branch (stable while that spec heads it)."""
        first = self.branches[0][0]
        return f"together from {first if isinstance(first, str) else first.name}"


Step = Union[str, Fork]


@dataclass(frozen=True)
class MachineSettings:
    """What the definition needs besides the graph: names of the job, topic, bucket, profile."""

    job_name: str
    topic_arn: str
    runs_bucket: str
    runs_prefix: str
    profile: str
    job_arguments: dict[str, str] = field(default_factory=dict)
    poll_seconds: int = POLL_SECONDS
    default_retry: Retry = field(default_factory=Retry)
    source_load: bool = False  # start every full run with the source load (the profile has a source)


def plan_blocks(graph: Graph, names: list[str] | None = None, done: frozenset[str] = frozenset()) -> tuple[Step, ...]:
    """The specs ``names`` (default: all) as a sequence of specs and forks, dependencies first."""
    todo = [n for n in graph.order if n in set(names if names is not None else graph.order)]
    steps: list[Step] = []
    finished = set(done)
    while todo:
        inside = set(todo)
        ready = [n for n in todo if not (graph.upstream[n] & inside)]
        taken: set[str] = set(ready)
        branches = []
        for head in ready:
            mine = {head}
            for name in todo:  # graph order: upstreams come first
                if name in taken:
                    continue
                ups = graph.upstream[name] & inside
                if ups and ups <= mine:
                    mine.add(name)
            taken |= mine
            tail = [n for n in todo if n in mine and n != head]
            branches.append((head, *plan_blocks(graph, tail, frozenset(finished | {head}))))
        if len(branches) == 1:
            steps.extend(branches[0])
        else:
            steps.append(Fork(tuple(branches)))
        finished |= taken
        todo = [n for n in todo if n not in taken]
    return tuple(steps)


def _build_key(argument: str) -> str:
    """``--project-archive`` -> ``project_archive``: where a build argument sits in the state data."""
    return argument.strip("-").replace("-", "_")


def selection_key(spec: str) -> str:
    """The key of ``spec`` (or of the source load) in the execution input's ``only`` object (JSONPath-safe)."""
    return spec.replace(".", "__").replace(" ", "_")


def _retry(policy: Retry) -> dict[str, Any]:
    return {"ErrorEquals": [JOB_RUN_FAILED], "MaxAttempts": max(policy.attempts - 1, 0),
            "IntervalSeconds": max(1, math.ceil(policy.backoff_seconds)), "BackoffRate": 2.0,
            "MaxDelaySeconds": max(1, math.ceil(policy.max_delay_seconds)), "JitterStrategy": "FULL"}


def _attempt(spec: str, s: MachineSettings) -> dict[str, Any]:
    """One Glue job run of ``spec`` (or of the source load), polled to its end; fails with a retried
    or a terminal error."""
    what = {"--task": SOURCE_LOAD_TASK} if spec == SOURCE_LOAD else {"--spec": spec}
    folder = SOURCE_LOAD_TASK if spec == SOURCE_LOAD else spec
    outcome_key = f"States.Format('{s.runs_prefix}/_outcomes/{{}}/{folder}/{{}}.json', $.run_id, $.job.id)"
    args = {**{f"{k}.$": f"$.build.{_build_key(k)}" for k in sorted(s.job_arguments)},
            **what, "--run-id.$": "$.run_id"}
    return {"StartAt": f"{spec} · start", "States": {
        f"{spec} · start": {
            "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun",
            "Parameters": {"JobName": s.job_name, "Arguments": args},
            "ResultSelector": {"id.$": "$.JobRunId"}, "ResultPath": "$.job",
            # the job's MaxConcurrentRuns bounds how many specs run at once: a start over the
            # bound is refused (no job run exists, nothing is billed) and tried again later
            "Retry": [{"ErrorEquals": ["Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException",
                                       "Glue.InternalServiceException"],
                       "MaxAttempts": 40, "IntervalSeconds": 30, "BackoffRate": 1.5, "MaxDelaySeconds": 300,
                       "JitterStrategy": "FULL"}],
            "Next": f"{spec} · wait"},
        f"{spec} · wait": {"Type": "Wait", "Seconds": s.poll_seconds, "Next": f"{spec} · poll"},
        f"{spec} · poll": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getJobRun",
            "Parameters": {"JobName": s.job_name, "RunId.$": "$.job.id"},
            "ResultSelector": {"state.$": "$.JobRun.JobRunState"}, "ResultPath": "$.poll",
            "Retry": [{"ErrorEquals": ["Glue.ThrottlingException", "Glue.InternalServiceException"],
                       "MaxAttempts": 10, "IntervalSeconds": 5, "BackoffRate": 2.0, "JitterStrategy": "FULL"}],
            "Next": f"{spec} · state?"},
        f"{spec} · state?": {"Type": "Choice", "Choices": [
            {"Variable": "$.poll.state", "StringEquals": "SUCCEEDED", "Next": f"{spec} · ok"},
            {"Or": [{"Variable": "$.poll.state", "StringEquals": st} for st in RUNNING_STATES],
             "Next": f"{spec} · wait"}], "Default": f"{spec} · outcome"},
        f"{spec} · ok": {"Type": "Succeed"},
        f"{spec} · outcome": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:headObject",
            "Parameters": {"Bucket": s.runs_bucket, "Key.$": outcome_key},
            "ResultSelector": {"terminal.$": "$.Metadata.terminal", "error.$": "$.Metadata.error"},
            "ResultPath": "$.outcome",
            # no outcome: the job run died before the engine could say why (lost worker, timeout)
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.lost", "Next": f"{spec} · retry"}],
            "Next": f"{spec} · terminal?"},
        f"{spec} · terminal?": {"Type": "Choice", "Choices": [
            {"Variable": "$.outcome.terminal", "StringEquals": "true", "Next": f"{spec} · terminal"}],
            "Default": f"{spec} · retry"},
        f"{spec} · terminal": {"Type": "Fail", "Error": SPEC_FAILED, "CausePath": "$.outcome.error"},
        f"{spec} · retry": {"Type": "Fail", "Error": JOB_RUN_FAILED,
                            "CausePath": f"States.Format('{spec}: Glue job run {{}} ended {{}}', $.job.id, "
                                         "$.poll.state)"},
    }}


def _spec_states(spec: str, s: MachineSettings, policy: Retry, after: str | None,
                 top: bool) -> dict[str, dict[str, Any]]:
    """The states of one spec; ``after`` is the next state (None: end of the branch)."""
    nxt: dict[str, Any] = {"Next": after} if after else {"End": True}
    return {
        spec: {"Type": "Choice", "Choices": [{"Or": [
            {"Variable": "$.all", "BooleanEquals": True},
            {"Variable": f"$.only.{selection_key(spec)}", "IsPresent": True}], "Next": f"{spec} · run"}],
            "Default": f"{spec} · skip"},
        f"{spec} · skip": {"Type": "Pass", "Comment": "succeeded earlier in this run: not run again", **nxt},
        f"{spec} · run": {"Type": "Parallel", "Branches": [_attempt(spec, s)], "ResultPath": None,
                          "Retry": [_retry(policy)],
                          "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                     "Next": f"{spec} · failed"}], **nxt},
        f"{spec} · failed": {"Type": "Pass", "Parameters": {
            **CARRY, "failed.$": f"States.Array('{spec}')", "errors.$": "States.Array($.error.Cause)"},
            **({"Next": "pipeline failed"} if top else {"End": True})},
    }


def _head(step: Step) -> str:
    return step if isinstance(step, str) else step.name


def _sequence(steps: tuple[Step, ...], s: MachineSettings, graph: Graph, top: bool) -> dict[str, Any]:
    """States of a sequence; at the top it ends in the pipeline record, in a branch it just ends."""
    states: dict[str, Any] = {}
    for i, step in enumerate(steps):
        after = _head(steps[i + 1]) if i + 1 < len(steps) else ("pipeline ok" if top else None)
        if isinstance(step, str):
            states.update(_spec_states(step, s, graph.specs[step].spec.retry or s.default_retry, after, top))
            continue
        branches = [{"StartAt": _head(branch[0]), "States": _sequence(branch, s, graph, top=False)}
                    for branch in step.branches]
        failed_any = {"Or": [{"Variable": f"$.branches[{j}].failed[0]", "IsPresent": True}
                             for j in range(len(branches))]}
        states[step.name] = {"Type": "Parallel", "Branches": branches, "ResultPath": "$.branches",
                             "Next": f"{step.name} · joined?"}
        states[f"{step.name} · joined?"] = {"Type": "Choice", "Choices": [{**failed_any, "Next": f"{step.name} · failed"}],
                                            "Default": f"{step.name} · ok"}
        states[f"{step.name} · ok"] = {"Type": "Pass", "Parameters": CARRY,
                                       **({"Next": after} if after else {"End": True})}
        states[f"{step.name} · failed"] = {"Type": "Pass", "Parameters": {
            **CARRY, "failed.$": "$.branches[*].failed[*]", "errors.$": "$.branches[*].errors[*]"},
            **({"Next": "pipeline failed"} if top else {"End": True})}
    return states


def _record(s: MachineSettings, name: str, status: str, after: str) -> dict[str, Any]:
    """Two states: build the pipeline record, then write it to the S3 run store (as JSON text)."""
    body = {"run_id.$": "$.run_id", "status": status, "execution.$": "$$.Execution.Id", "profile": s.profile}
    if status == "failed":
        body.update({"failed.$": "$.failed", "errors.$": "$.errors"})
    return {
        name: {"Type": "Pass", "Parameters": {**CARRY, "record": body}, "Next": f"{name} · record"},
        f"{name} · record": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket": s.runs_bucket, "ContentType": "application/json",
                           "Key.$": f"States.Format('{s.runs_prefix}/_pipelines/{{}}/{{}}.json', $.run_id, "
                                    "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 7))",
                           "Body.$": "States.JsonToString($.record)"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}],
            # a good run whose record cannot be written alerts; a failed one has alerted already
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                       "Next": "pipeline ok · not recorded" if status == "ok" else "failed"}],
            "ResultPath": None, "Next": after}}


def reload_command(profile: str) -> str:
    """What the alert tells the operator to run (``{}`` is the run id)."""
    return f"medallion run --resume {{}} --profile {profile}"


def definition(graph: Graph, s: MachineSettings) -> dict[str, Any]:
    """The state machine (Amazon States Language) that runs every spec of ``graph`` once per run.

    Input: ``{}`` (a scheduled run: the run id is the execution name), ``{"run_id": R, ...}``
    without ``only`` (a new run under id R: the Drive ingestion's), or ``{"run_id": R,
    "all": false, "only": {<selection_key>: true, ...}}`` (a reload of run R: only those specs;
    ``source_load`` is the key of the source load).
    """
    steps = plan_blocks(graph)
    message = ("States.Format('Medallion pipeline run {} failed.\n\nFailed spec(s): {}\nError(s): {}\n\n"
               "Reload the failed spec(s) and everything downstream of them, in the same run (same "
               "checkpoints and watermarks; nothing that succeeded runs again):\n  "
               + reload_command(s.profile) + "', $.run_id, States.JsonToString($.failed), "
               "States.JsonToString($.errors), $.run_id)")
    states: dict[str, Any] = {
        # a reload names its run and the specs left ("only"); a run started with a run id but no
        # "only" (the Drive ingestion: {"trigger": "drive", "run_id": R, ...}) is a new run under
        # that id, so its manifest and its pipeline run share one id
        "begin": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.run_id", "IsPresent": True}, {"Variable": "$.only", "IsPresent": True}],
             "Next": "reload"},
            {"Variable": "$.run_id", "IsPresent": True, "Next": "new named run"}],
                  "Default": "new run"},
        # a scheduled run's id is its execution's name (the last part of the execution ARN)
        "new run": {"Type": "Pass", "Parameters": {
            "run_id.$": "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 7)", "all": True, "only": {}},
                    "Next": "build"},
        "new named run": {"Type": "Pass", "Parameters": {"run_id.$": "$.run_id", "all": True, "only": {}},
                          "Next": "build"},
        "reload": {"Type": "Pass", "Parameters": {"run_id.$": "$.run_id", "all": False, "only.$": "$.only"},
                   "Next": "build"},
        # the one place that names the build (artefact keys): a new build changes this state only
        "build": {"Type": "Pass", "Result": {_build_key(k): v for k, v in sorted(s.job_arguments.items())},
                  "ResultPath": "$.build", "Next": SOURCE_LOAD if s.source_load else _head(steps[0])},
        **(_spec_states(SOURCE_LOAD, s, s.default_retry, _head(steps[0]), top=True) if s.source_load else {}),
        **_sequence(steps, s, graph, top=True),
        **_record(s, "pipeline ok", "ok", "done"),
        "done": {"Type": "Succeed"},
        # the record of a good run could not be written: that is a failed run, and it alerts
        "pipeline ok · not recorded": {"Type": "Pass", "Parameters": {
            **CARRY, "failed.$": "States.Array('pipeline record')", "errors.$": "States.Array($.error.Cause)"},
                                       "Next": "pipeline failed"},
        "pipeline failed": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                            "Parameters": {"TopicArn": s.topic_arn,
                                           "Subject.$": "States.Format('medallion: pipeline run {} failed', $.run_id)",
                                           "Message.$": message},
                            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3,
                                       "BackoffRate": 2.0}],
                            # still record the run when the alert cannot be sent (EventBridge then
                            # sees a failed execution; the record says which spec)
                            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.alert_error",
                                       "Next": "pipeline record"}],
                            "ResultPath": None, "Next": "pipeline record"},
        **_record(s, "pipeline record", "failed", "failed"),
        "failed": {"Type": "Fail", "Error": "Medallion.PipelineFailed",
                   "Cause": "a spec failed; the alert names it and the reload command"},
    }
    return {"Comment": "medallion: every spec once per run, in dependency order (generated from the specs)",
            "StartAt": "begin", "States": states}
