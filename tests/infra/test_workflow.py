"""Triggers from the graph: one start trigger on the roots' schedule, a conditional per spec."""

from __future__ import annotations

import pytest

from infra.glue_plan import Environment, desired, diff
from infra.target import target_for
from infra.workflow import workflow_triggers
from engine.errors import SpecError
from engine.run.workspace import Workspace


def _graph(root):
    return Workspace.open(root, "aws", []).graph


def test_triggers_follow_the_graph(deploy_project):
    triggers = workflow_triggers(_graph(deploy_project()), "dt")
    assert [(t.name, t.kind, t.specs, t.schedule, t.after) for t in triggers] == [
        ("dt-start", "SCHEDULED", ("bronze.events",), "cron(0 7 * * ? *)", ()),
        ("dt-run-silver.events", "CONDITIONAL", ("silver.events",), None, ("bronze.events",)),
        ("dt-run-gold.daily", "CONDITIONAL", ("gold.daily",), None, ("bronze.events", "silver.events")),
    ]


def test_no_schedule_means_on_demand(deploy_project):
    root = deploy_project()
    path = root / "pipelines" / "bronze_events.yaml"
    path.write_text(path.read_text().replace("schedule: cron(0 7 * * ? *)\n", ""))
    start = workflow_triggers(_graph(root), "dt")[0]
    assert (start.kind, start.schedule) == ("ON_DEMAND", None)


def test_a_downstream_spec_may_not_be_scheduled(deploy_project):
    root = deploy_project()
    path = root / "pipelines" / "silver_events.yaml"
    path.write_text(path.read_text() + "schedule: cron(0 8 * * ? *)\n")
    with pytest.raises(SpecError) as info:
        workflow_triggers(_graph(root), "dt")
    assert str(info.value).startswith("pipelines/silver_events.yaml:6: silver.events has a schedule but reads "
                                      "bronze.events")


def test_plan_against_nothing_creates_everything(deploy_project):
    ws = Workspace.open(deploy_project(), "aws", [])
    env = Environment("arn:aws:kms:us-east-1:123456789012:key/k", "arn:aws:iam::123456789012:role/dt-glue-job")
    changes = diff(desired(target_for(ws.project), ws.graph, env), {})
    assert [(c.action, c.kind, c.name) for c in changes] == [
        ("create", "security configuration", "dt-encryption"),
        ("create", "connection", "dt-source"),
        ("create", "connection", "dt-warehouse"),
        ("create", "job", "dt"),
        ("create", "workflow", "dt"),
        ("create", "trigger", "dt-start"),
        ("create", "trigger", "dt-run-silver.events"),
        ("create", "trigger", "dt-run-gold.daily"),
    ]
    job = next(c.resource.body for c in changes if c.kind == "job")
    assert job["GlueVersion"] == "5.1" and job["Command"]["PythonVersion"] == "3"
    assert job["Command"]["ScriptLocation"] == "s3://test-lake-artefacts/dt/artefacts/glue_job.py"
    assert job["DefaultArguments"]["--profile"] == "aws"
    assert job["DefaultArguments"]["--vars"] == '{"raw_dir": "s3://test-lake-raw"}'
    assert job["SecurityConfiguration"] == "dt-encryption"
    assert job["Connections"] == {"Connections": ["dt-source", "dt-warehouse"]}
    security = changes[0].resource.body["EncryptionConfiguration"]
    assert security["S3Encryption"] == [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": env.key_arn}]
    assert security["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert security["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    source = changes[1].resource.body["ConnectionProperties"]
    assert source == {"JDBC_CONNECTION_URL": "jdbc:postgresql://db.internal:5432/shop",
                      "SECRET_ID": "dt/connections/source", "JDBC_ENFORCE_SSL": "true"}
