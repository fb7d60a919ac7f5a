"""The roles of the orchestration: the state machine's and EventBridge Scheduler's.

The state machine and its schedule follow the specs, so ``medallion deploy`` writes them
through the Step Functions and Scheduler APIs (``orchestration_apply.py``); the roles they run
as are long-lived and live in the stack. Each may do only its work: the state machine starts
and reads runs of the ONE Glue job, reads the spec outcomes and writes the pipeline records in
the S3 run store, and publishes to the alerts topic; the scheduler may only start that machine.
"""

from __future__ import annotations

from typing import Any

from infra.target import Target
from infra.template_iam import KEY_ARN, sub


def _trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}


def state_machine_arn(target: Target) -> dict[str, str]:
    """The machine's ARN as the template writes it (the name is fixed, so the roles can name it)."""
    return sub(f"arn:aws:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{target.state_machine_name}")


def state_machine_policy(target: Target) -> dict[str, Any]:
    """Start/read runs of the one job, read outcomes, write pipeline records, publish one alert."""
    lake = target.bucket("lake")
    runs = target.runs_prefix
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "RunTheJob", "Effect": "Allow", "Action": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns",
                                                           "glue:BatchStopJobRun"],
         "Resource": [sub(f"arn:aws:glue:${{AWS::Region}}:${{AWS::AccountId}}:job/{target.job_name}")]},
        {"Sid": "ReadOutcomes", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{lake}/{runs}/_outcomes/*"]},
        {"Sid": "WritePipelineRecords", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": [f"arn:aws:s3:::{lake}/{runs}/_pipelines/*"]},
        {"Sid": "UseDataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": [KEY_ARN]},
        {"Sid": "PublishAlert", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [{"Ref": "AlertsTopic"}]},
    ]}


def orchestration_part(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two roles, as a template part (see template.PARTS)."""
    machine_role = {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": target.state_machine_role_name,
        "Description": "Runs the spec graph: one Glue job run per spec, one alert per failed pipeline run",
        "AssumeRolePolicyDocument": _trust("states.amazonaws.com"),
        "Policies": [{"PolicyName": "run-pipeline", "PolicyDocument": state_machine_policy(target)}]}}
    scheduler_role = {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": target.scheduler_role_name,
        "Description": "Lets EventBridge Scheduler start the pipeline state machine",
        "AssumeRolePolicyDocument": _trust("scheduler.amazonaws.com"),
        "Policies": [{"PolicyName": "start-pipeline", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "StartPipeline", "Effect": "Allow", "Action": ["states:StartExecution"],
             "Resource": [state_machine_arn(target)]}]}}]}}
    resources = {"StateMachineRole": machine_role, "SchedulerRole": scheduler_role}
    outputs = {"StateMachineRoleArn": {"Description": "role of the pipeline state machine",
                                       "Value": {"Fn::GetAtt": ["StateMachineRole", "Arn"]}},
               "SchedulerRoleArn": {"Description": "role the schedule starts the pipeline with",
                                    "Value": {"Fn::GetAtt": ["SchedulerRole", "Arn"]}}}
    return resources, outputs
