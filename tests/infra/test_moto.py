"""The whole deploy against moto: stack, artefacts, Glue job/workflow/triggers, idempotence."""

from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

from infra.deployer import clients, deploy, key_arn_of
from engine.errors import UsageError
from engine.run.workspace import Workspace


@pytest.fixture()
def aws(monkeypatch):
    """A mocked account with a VPC and a database route table (what deploy settings name)."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        monkeypatch.setenv("DT_VPC", vpc)
        monkeypatch.setenv("DT_RTB", rtb)
        # the stack's interface endpoints attach to these (they must exist, as in an account)
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
        monkeypatch.setenv("DT_SUBNET", subnet["SubnetId"])
        monkeypatch.setenv("DT_SG", ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"])
        yield {"vpc": vpc, "rtb": rtb, **clients("us-east-1")}


def _deploy(root, aws, lines=None):
    ws = Workspace.open(root, "aws", [])
    out = [] if lines is None else lines
    return deploy(ws.project, ws.graph, dry_run=False, say=out.append, aws=aws, poll_seconds=0,
                  template_path=root / "build" / "platform.json")


def _triggers(glue):
    return {t["Name"]: t for t in glue.get_triggers()["Triggers"]}


def test_first_deploy_creates_everything(deploy_project, aws):
    root = deploy_project()
    lines: list[str] = []
    outcome = _deploy(root, aws, lines)
    assert outcome.stack == "created"
    assert outcome.uploaded == 3
    assert outcome.counts() == {"create": 8, "update": 0, "delete": 0, "unchanged": 0}
    assert any(line.startswith("stack dt-platform: change set medallion-") for line in lines)
    assert any("Add" in line and "AWS::KMS::Key" in line and "DataKey" in line for line in lines)
    stack = aws["cloudformation"].describe_stacks(StackName="dt-platform")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    # encrypted buckets (moto keeps algorithm and key), artefacts uploaded with SSE-KMS
    key_arn = key_arn_of(aws["kms"], "alias/dt")
    assert key_arn.startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert aws["kms"].get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    for bucket in ("test-lake", "test-lake-raw", "test-lake-artefacts", "test-lake-logs"):
        rule = aws["s3"].get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        # moto's CloudFormation drops versioning, bucket keys and bucket policies: those are
        # asserted on the template (test_deploy_template.py)
    listed = aws["s3"].list_objects_v2(Bucket="test-lake-artefacts", Prefix="dt/artefacts/")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["dt/artefacts/glue_job.py", "dt/artefacts/medallion-0.1.0-py3-none-any.whl",
                                                "dt/artefacts/project.zip"]
    for obj in listed:
        head = aws["s3"].head_object(Bucket="test-lake-artefacts", Key=obj["Key"])
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn

    glue = aws["glue"]
    jobs = glue.get_jobs()["Jobs"]
    assert [j["Name"] for j in jobs] == ["dt"]
    job = jobs[0]
    assert job["GlueVersion"] == "5.1"
    assert job["Role"] == aws["iam"].get_role(RoleName="dt-glue-job")["Role"]["Arn"]
    assert job["Command"]["ScriptLocation"] == "s3://test-lake-artefacts/dt/artefacts/glue_job.py"
    assert job["SecurityConfiguration"] == "dt-encryption"
    enc = glue.get_security_configuration(Name="dt-encryption")["SecurityConfiguration"]["EncryptionConfiguration"]
    assert enc["S3Encryption"][0] == {"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn}
    assert enc["CloudWatchEncryption"] == {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn}
    assert enc["JobBookmarksEncryption"] == {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key_arn}
    conn = glue.get_connection(Name="dt-warehouse")["Connection"]["ConnectionProperties"]
    assert conn["SECRET_ID"] == "dt/connections/warehouse" and "PASSWORD" not in conn

    triggers = _triggers(glue)
    assert set(triggers) == {"dt-start", "dt-run-silver.events", "dt-run-gold.daily"}
    assert {t["WorkflowName"] for t in triggers.values()} == {"dt"}
    start = triggers["dt-start"]
    assert (start["Type"], start["Schedule"]) == ("SCHEDULED", "cron(0 7 * * ? *)")
    assert start["Actions"] == [{"JobName": "dt", "Arguments": {"--spec": "bronze.events"}}]
    gold = triggers["dt-run-gold.daily"]
    assert gold["Type"] == "CONDITIONAL"
    assert gold["Actions"] == [{"JobName": "dt", "Arguments": {"--spec": "gold.daily"}}]
    assert gold["Description"] == "runs gold.daily after bronze.events, silver.events succeeded"
    assert gold["Predicate"]["Conditions"] == [{"LogicalOperator": "EQUALS", "JobName": "dt", "State": "SUCCEEDED"}]


def test_second_deploy_changes_nothing(deploy_project, aws):
    root = deploy_project()
    _deploy(root, aws)
    before = _triggers(aws["glue"])
    lines: list[str] = []
    outcome = _deploy(root, aws, lines)
    assert outcome.stack == "unchanged"
    assert outcome.uploaded == 0
    assert outcome.counts() == {"create": 0, "update": 0, "delete": 0, "unchanged": 8}
    assert "stack dt-platform: no changes" in lines
    assert lines[-1] == "glue: 0 created, 0 updated, 0 deleted, 8 unchanged"
    assert _triggers(aws["glue"]) == before


def test_changed_schedule_updates_its_trigger(deploy_project, aws):
    _deploy(deploy_project(), aws)
    outcome = _deploy(deploy_project(schedule="cron(30 5 ? * MON-FRI *)"), aws)
    changed = [(c.action, c.name, c.fields) for c in outcome.changes if c.action != "unchanged"]
    # the schedule, the start trigger's description, and the project archive (new spec text)
    assert ("update", "dt-start", ["Schedule", "Description"]) in changed
    assert [c for c in changed if c[1] != "dt-start"] == [("update", "dt", ["DefaultArguments"])]
    assert _triggers(aws["glue"])["dt-start"]["Schedule"] == "cron(30 5 ? * MON-FRI *)"
    assert outcome.stack == "unchanged"


def test_removed_spec_removes_its_trigger(deploy_project, aws):
    _deploy(deploy_project(), aws)
    outcome = _deploy(deploy_project(with_gold=False), aws)
    assert [(c.action, c.name) for c in outcome.changes if c.action == "delete"] == [("delete", "dt-run-gold.daily")]
    assert set(_triggers(aws["glue"])) == {"dt-start", "dt-run-silver.events"}
    assert [j["Name"] for j in aws["glue"].get_jobs()["Jobs"]] == ["dt"]


def test_warehouse_connection_secret_made_from_the_generated_password(deploy_project, aws):
    sm = aws["secretsmanager"]
    sm.create_secret(Name="dt/redshift_password", SecretString="s3cret-from-stack")
    sm.create_secret(Name="dt/connections/source", SecretString='{"username": "u", "password": "p"}')
    lines: list[str] = []
    outcome = _deploy(deploy_project(), aws, lines)
    assert outcome.missing_secrets == []
    value = sm.get_secret_value(SecretId="dt/connections/warehouse")["SecretString"]
    assert value == '{"username": "etl", "password": "s3cret-from-stack"}'
    assert not any("s3cret" in line for line in lines)


def test_example_ids_are_refused(deploy_project, aws, monkeypatch):
    monkeypatch.delenv("DT_VPC")
    with pytest.raises(UsageError, match="example ids \\(vpc_id\\)"):
        _deploy(deploy_project(), aws)


def test_dry_run_calls_no_aws(deploy_project, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: a call would fail
    root = deploy_project()
    ws = Workspace.open(root, "aws", [])
    lines: list[str] = []
    outcome = deploy(ws.project, ws.graph, dry_run=True, say=lines.append)
    assert outcome.template == root / "build" / "deploy" / "platform.template.json"
    assert outcome.template.is_file()
    assert outcome.counts()["create"] == 8
    assert lines[1].startswith("glue plan (dry run: AWS not called")
    assert "dt-start  — starts bronze.events on cron(0 7 * * ? *)" in lines[7]
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
