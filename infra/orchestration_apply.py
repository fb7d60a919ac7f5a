"""Write the pipeline state machine and its schedule through the Step Functions and Scheduler APIs.

The state machine definition names the build it runs (content-addressed artefacts), so its
update is the switch of a deploy and comes last: a deploy that fails before it leaves the
previous definition, and with it the previous build, in force. An unchanged definition or
schedule is left alone, so a repeated deploy changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from botocore.exceptions import ClientError

from infra.glue_plan import Environment, build_arguments
from infra.orchestration import MachineSettings, definition
from infra.target import Target
from engine.plan.graph import Graph


def settings_for(target: Target, env: Environment, topic_arn: str) -> MachineSettings:
    """The deploy-time values the definition needs (names, topic, the build's artefacts)."""
    return MachineSettings(
        job_name=target.job_name, topic_arn=topic_arn, runs_bucket=target.bucket("lake"),
        runs_prefix=target.runs_prefix, profile=target.project.profile_name,
        job_arguments={**build_arguments(target, env),
                       "--outcomes": f"s3://{target.bucket('lake')}/{target.runs_prefix}/_outcomes"},
        poll_seconds=target.config.poll_seconds, default_retry=target.project.default_retry,
        source_load=has_source_load(target))


def has_source_load(target: Target) -> bool:
    """Whether a pipeline run starts by loading the raw files into the profile's source database."""
    source = target.project.profile.source
    return source is not None and bool(source.tables)


def find_state_machine(sfn: Any, name: str) -> str | None:
    """The ARN of the state machine called ``name``, or None."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def apply_state_machine(sfn: Any, target: Target, graph: Graph, settings: MachineSettings, role_arn: str,
                        say: Callable[[str], None]) -> str:
    """Create or update the state machine; returns its ARN."""
    wanted = definition(graph, settings)
    body = json.dumps(wanted, sort_keys=True)
    name = target.state_machine_name
    arn = find_state_machine(sfn, name)
    if arn is None:
        arn = sfn.create_state_machine(name=name, definition=body, roleArn=role_arn, type="STANDARD")[
            "stateMachineArn"]
        say(f"create    state machine          {name}  ({len(graph.specs)} specs)")
        return arn
    current = sfn.describe_state_machine(stateMachineArn=arn)
    if json.loads(current["definition"]) == wanted and current["roleArn"] == role_arn:
        say(f"unchanged state machine          {name}")
        return arn
    sfn.update_state_machine(stateMachineArn=arn, definition=body, roleArn=role_arn)
    say(f"update    state machine          {name}")
    return arn


def apply_schedule(scheduler: Any, target: Target, schedule: str | None, machine_arn: str, role_arn: str,
                   say: Callable[[str], None]) -> None:
    """The one schedule that starts a pipeline run (input ``{}``: a new run of every spec)."""
    name = target.schedule_name
    try:
        current = scheduler.get_schedule(Name=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        current = None
    if schedule is None:
        if current is not None:
            scheduler.delete_schedule(Name=name)
            say(f"delete    schedule               {name}  (no spec declares a schedule)")
        return
    wanted = {"Name": name, "ScheduleExpression": schedule, "ScheduleExpressionTimezone": "UTC",
              "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
              "Description": f"{target.project.name}: one pipeline run (every spec once)",
              "Target": {"Arn": machine_arn, "RoleArn": role_arn, "Input": "{}",
                         "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}}}
    if current is None:
        scheduler.create_schedule(**wanted)
        say(f"create    schedule               {name}  ({schedule})")
        return
    same = all(current.get(k) == wanted[k] for k in ("ScheduleExpression", "ScheduleExpressionTimezone", "State"))
    same = same and current.get("Target", {}).get("Arn") == machine_arn
    if same:
        say(f"unchanged schedule               {name}  ({schedule})")
        return
    scheduler.update_schedule(**wanted)
    say(f"update    schedule               {name}  ({schedule})")
