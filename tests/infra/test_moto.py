"""The whole deploy against moto: stack, artefacts, Glue job, state machine + schedule, idempotence."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from moto import mock_aws

from botocore.exceptions import ClientError

from infra.deployer import clients, deploy, key_arn_of
from infra.stack import stack_status
from infra.wheels import glue_requirements
from engine.errors import SpecError, UsageError
from engine.run.workspace import Workspace


@pytest.fixture()
def aws(monkeypatch, wheelhouse):
    """A mocked account with a VPC and a database route table (what deploy settings name), and the
    test wheelhouse every deploy here takes its dependency wheels from (no network)."""
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
        yield {"vpc": vpc, "rtb": rtb, "wheelhouse": wheelhouse, **clients("us-east-1")}


def glue_wheel_names() -> list[str]:
    """The wheelhouse's files for the Glue job's pins (tests/infra/conftest.py names them so)."""
    return sorted(f"{n.replace('-', '_')}-{v}-py3-none-any.whl" for n, v in (p.split("==") for p in glue_requirements()))


def _deploy(root, aws, lines=None):
    ws = Workspace.open(root, "aws", [])
    out = [] if lines is None else lines
    return deploy(ws.project, ws.graph, dry_run=False, say=out.append, aws=aws, poll_seconds=0,
                  template_path=root / "build" / "platform.json", wheelhouse=aws.get("wheelhouse"))


def _machine(aws):
    arn = aws["stepfunctions"].list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return json.loads(aws["stepfunctions"].describe_state_machine(stateMachineArn=arn)["definition"])


def _archive_of(definition):
    return definition["States"]["build"]["Result"]["project_archive"]


def test_first_deploy_creates_everything(deploy_project, aws):
    root = deploy_project()
    lines: list[str] = []
    outcome = _deploy(root, aws, lines)
    assert outcome.stack == "created"
    assert outcome.uploaded == 3 + len(glue_requirements())  # engine wheel, archive, script + dependency wheels
    assert outcome.counts() == {"create": 4, "update": 0, "delete": 0, "unchanged": 0}
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
    # content-addressed: <prefix>/artefacts/<first 16 hex of the file's SHA-256>/<file>
    dependency_wheels = glue_wheel_names()
    assert sorted(o["Key"].split("/")[-1] for o in listed) == sorted([
        "glue_job.py", "medallion-0.1.0-py3-none-any.whl", "project.zip", *dependency_wheels])
    for obj in listed:
        digest = aws["s3"].head_object(Bucket="test-lake-artefacts", Key=obj["Key"])["Metadata"]["sha256"]
        assert obj["Key"].split("/")[2] == digest[:16]
    for obj in listed:
        head = aws["s3"].head_object(Bucket="test-lake-artefacts", Key=obj["Key"])
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn

    glue = aws["glue"]
    jobs = glue.get_jobs()["Jobs"]
    assert [j["Name"] for j in jobs] == ["dt"]
    job = jobs[0]
    assert job["GlueVersion"] == "5.1"
    assert job["Role"] == aws["iam"].get_role(RoleName="dt-glue-job")["Role"]["Arn"]
    assert job["Command"]["ScriptLocation"].endswith("/glue_job.py")
    assert job["MaxRetries"] == 0 and job["ExecutionProperty"] == {"MaxConcurrentRuns": 2}
    assert job["SecurityConfiguration"] == "dt-encryption"
    enc = glue.get_security_configuration(Name="dt-encryption")["SecurityConfiguration"]["EncryptionConfiguration"]
    assert enc["S3Encryption"][0] == {"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn}
    assert enc["CloudWatchEncryption"] == {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": key_arn}
    assert enc["JobBookmarksEncryption"] == {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": key_arn}
    # the dependency wheels: installed by Glue from their S3 keys only (no package index at job start)
    args = job["DefaultArguments"]
    assert args["--python-modules-installer-option"] == "--no-index"
    uris = args["--additional-python-modules"].split(",")
    assert sorted(u.rsplit("/", 1)[-1] for u in uris) == dependency_wheels
    for uri in uris:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        assert bucket == "test-lake-artefacts" and key.startswith("dt/artefacts/")
        assert aws["s3"].head_object(Bucket=bucket, Key=key)["Metadata"]["sha256"][:16] == key.split("/")[2]
    conn = glue.get_connection(Name="dt-warehouse")["Connection"]["ConnectionProperties"]
    assert conn["SECRET_ID"] == "dt/connections/warehouse" and "PASSWORD" not in conn

    # the state machine: one task chain per spec, the machine's role, the schedule from the root spec
    machines = aws["stepfunctions"].list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == ["dt"]
    described = aws["stepfunctions"].describe_state_machine(stateMachineArn=machines[0]["stateMachineArn"])
    assert described["roleArn"] == aws["iam"].get_role(RoleName="dt-orchestration")["Role"]["Arn"]
    definition = json.loads(described["definition"])
    starts = sorted(k for k in _all_states(definition) if k.endswith(" · start"))
    assert starts == ["bronze.events · start", "gold.daily · start", "silver.events · start"]
    schedule = aws["scheduler"].get_schedule(Name="dt-pipeline")
    assert schedule["ScheduleExpression"] == "cron(0 7 * * ? *)"
    assert schedule["Target"]["Arn"] == machines[0]["stateMachineArn"]
    assert schedule["Target"]["RoleArn"] == aws["iam"].get_role(RoleName="dt-scheduler")["Role"]["Arn"]
    assert _archive_of(definition) == f"s3://test-lake-artefacts/{next(o['Key'] for o in listed if o['Key'].endswith('project.zip'))}"
    # the wheels switch with the build: every job run the state machine starts names them
    assert definition["States"]["build"]["Result"]["additional_python_modules"] == ",".join(uris)
    assert definition["States"]["build"]["Result"]["python_modules_installer_option"] == "--no-index"
    assert outcome.wheels == uris


def _all_states(definition):
    for name, state in definition["States"].items():
        yield name
        for branch in state.get("Branches", []):
            yield from _all_states(branch)


def test_second_deploy_changes_nothing(deploy_project, aws):
    root = deploy_project()
    _deploy(root, aws)
    before = _machine(aws)
    lines: list[str] = []
    outcome = _deploy(root, aws, lines)
    assert outcome.stack == "unchanged"
    assert outcome.uploaded == 0
    assert outcome.counts() == {"create": 0, "update": 0, "delete": 0, "unchanged": 4}
    assert "stack dt-platform: no changes" in lines
    assert "glue: 0 created, 0 updated, 0 deleted, 4 unchanged" in lines
    assert "  unchanged state machine          dt" in lines
    assert "  unchanged schedule               dt-pipeline  (cron(0 7 * * ? *))" in lines
    assert _machine(aws) == before


def test_second_deploy_takes_the_wheels_from_its_cache(deploy_project, aws, tmp_path):
    root = deploy_project()
    _deploy(root, aws)
    cached = sorted(p.name for p in (root / "build" / "wheels").glob("*.whl"))
    assert cached == glue_wheel_names()
    # a wheelhouse that does not exist would fail any download: the cache alone serves the deploy
    outcome = _deploy(root, {**aws, "wheelhouse": tmp_path / "gone"})
    assert outcome.uploaded == 0 and outcome.stack == "unchanged"


def test_a_missing_wheel_stops_the_deploy_before_aws_is_touched(deploy_project, aws, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    first = glue_requirements()[0]
    name, _, ver = first.partition("==")
    left_out = f"{name.replace('-', '_')}-{ver}-py3-none-any.whl"
    for wheel in aws["wheelhouse"].glob("*.whl"):
        if wheel.name != left_out:
            (partial / wheel.name).write_bytes(wheel.read_bytes())
    assert not (partial / left_out).exists() and (aws["wheelhouse"] / left_out).exists()
    with pytest.raises(UsageError, match=f"could not download the job's dependency wheels .*{first}"):
        _deploy(deploy_project(), {**aws, "wheelhouse": partial})
    assert stack_status(aws["cloudformation"], "dt-platform") is None  # no stack, no bucket, no upload
    assert aws["s3"].list_buckets()["Buckets"] == []


def test_a_template_over_the_inline_limit_goes_through_the_artefacts_bucket(deploy_project, aws, monkeypatch):
    # CloudFormation takes at most 51,200 bytes inline; the real aws profile's template is larger
    monkeypatch.setattr("infra.stack.TEMPLATE_BODY_LIMIT", 4_000)
    root = deploy_project()
    lines: list[str] = []
    assert _deploy(root, aws, lines).stack == "created"
    assert "stack dt-platform: first deploy of the artefacts bucket and key only (the template is passed through it)" in lines
    staged = [line for line in lines if line.startswith("staged    template s3://test-lake-artefacts/dt/artefacts/")]
    assert len(staged) == 1
    cf = aws["cloudformation"]
    body = cf.get_template(StackName="dt-platform", TemplateStage="Original")["TemplateBody"]
    deployed = body if isinstance(body, dict) else json.loads(body)
    assert deployed == json.loads((root / "build" / "platform.json").read_text())  # the whole template, by URL
    assert cf.describe_stacks(StackName="dt-platform")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    again: list[str] = []
    assert _deploy(root, aws, again).stack == "unchanged"


def test_changed_schedule_updates_the_schedule_and_the_build(deploy_project, aws):
    _deploy(deploy_project(), aws)
    lines: list[str] = []
    outcome = _deploy(deploy_project(schedule="cron(30 5 ? * MON-FRI *)"), aws, lines)
    changed = [(c.action, c.name, c.fields) for c in outcome.changes if c.action != "unchanged"]
    assert changed == [("update", "dt", ["DefaultArguments"])]  # the new project archive
    assert "  update    schedule               dt-pipeline  (cron(30 5 ? * MON-FRI *))" in lines
    assert "  update    state machine          dt" in lines
    assert aws["scheduler"].get_schedule(Name="dt-pipeline")["ScheduleExpression"] == "cron(30 5 ? * MON-FRI *)"
    assert outcome.stack == "unchanged"


def test_removed_spec_leaves_the_state_machine(deploy_project, aws):
    _deploy(deploy_project(), aws)
    _deploy(deploy_project(with_gold=False), aws)
    assert not [k for k in _all_states(_machine(aws)) if k.startswith("gold.daily")]
    assert [j["Name"] for j in aws["glue"].get_jobs()["Jobs"]] == ["dt"]


class _FailingSwitch:
    """The Step Functions client of a deploy that dies at its last step (the switch)."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def update_state_machine(self, **_kwargs):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "UpdateStateMachine")


def test_failed_deploy_leaves_the_previous_build_in_force(deploy_project, aws):
    _deploy(deploy_project(), aws)
    before = _machine(aws)
    old_archive = _archive_of(before)
    with pytest.raises(ClientError, match="injected"):
        _deploy(deploy_project(schedule="cron(30 5 ? * MON-FRI *)"), {**aws, "stepfunctions": _FailingSwitch(
            aws["stepfunctions"])})
    assert _machine(aws) == before  # still the previous definition, naming the previous build
    bucket, _, key = old_archive.removeprefix("s3://").partition("/")
    assert aws["s3"].head_object(Bucket=bucket, Key=key)["Metadata"]["sha256"][:16] == key.split("/")[2]
    archives = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=bucket, Prefix="dt/artefacts/")["Contents"]
                if o["Key"].endswith("project.zip")]
    assert len(archives) == 2  # the new build was uploaded beside the one in force, not over it
    assert aws["scheduler"].get_schedule(Name="dt-pipeline")["ScheduleExpression"] == "cron(0 7 * * ? *)"
    # running the deploy again finishes it
    _deploy(deploy_project(schedule="cron(30 5 ? * MON-FRI *)"), aws)
    assert _archive_of(_machine(aws)) != old_archive


def test_bad_schedule_is_refused_before_aws_is_called(deploy_project, aws, monkeypatch):
    root = deploy_project()
    silver = root / "pipelines" / "silver_events.yaml"
    silver.write_text(silver.read_text() + "schedule: cron(0 8 * * ? *)\n", encoding="utf-8")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: a call would fail
    with pytest.raises(SpecError, match=r"pipelines/silver_events.yaml:6: silver.events has a schedule but reads "
                                        r"bronze.events"):
        _deploy(root, {})
    assert not (root / "build" / "platform.json").exists()


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


def test_a_missing_network_id_is_refused_before_aws_is_touched(deploy_project, aws, monkeypatch):
    monkeypatch.setenv("DT_VPC", "")
    with pytest.raises(UsageError, match=r"^deploy settings are empty or still hold medallion.yaml's example ids "
                                         r"\(vpc_id\); export MEDALLION_VPC_ID"):
        _deploy(deploy_project(), aws)
    assert stack_status(aws["cloudformation"], "dt-platform") is None


def test_dry_run_calls_no_aws(deploy_project, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: a call would fail
    root = deploy_project()
    ws = Workspace.open(root, "aws", [])
    lines: list[str] = []
    outcome = deploy(ws.project, ws.graph, dry_run=True, say=lines.append)
    assert outcome.template == root / "build" / "deploy" / "platform.template.json"
    assert outcome.template.is_file()
    assert outcome.counts()["create"] == 4
    assert lines[1].startswith("glue plan (dry run: AWS not called")
    [wheels] = [line for line in lines if line.startswith("wheels ")]
    assert f"{len(glue_requirements())} dependency wheels" in wheels and "--no-index" in wheels
    assert all(pin in wheels for pin in glue_requirements())
    assert not (root / "build" / "deploy" / "wheels").exists()  # a dry run downloads nothing
    assert lines[-2] == ("state machine dt: 3 Glue job runs per pipeline run, at most 2 at once: "
                         "bronze.events → silver.events → gold.daily")
    assert lines[-1] == "schedule dt-pipeline: cron(0 7 * * ? *)"
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"


def test_run_on_aws_starts_an_execution_from_the_operators_machine(deploy_project, aws, capsys):
    from engine.cli import main

    root = deploy_project()
    _deploy(root, aws)
    assert main(["run", "--profile", "aws", "--select", "silver.events+", "--project-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "started on AWS: pipeline run " in out and ": 2 spec(s)" in out
    arn = aws["stepfunctions"].list_state_machines()["stateMachines"][0]["stateMachineArn"]
    [execution] = aws["stepfunctions"].list_executions(stateMachineArn=arn)["executions"]
    started = json.loads(aws["stepfunctions"].describe_execution(executionArn=execution["executionArn"])["input"])
    assert started == {"run_id": execution["name"], "all": False,
                       "only": {"silver__events": True, "gold__daily": True}}
    # a reload of a run that is still executing is refused
    assert main(["run", "--resume", execution["name"], "--profile", "aws", "--project-dir", str(root)]) == 2
    assert "is still running on AWS" in capsys.readouterr().err
