"""`medallion deploy --dry-run` puts the Drive Lambda, its schedule and its role in the template:
least privilege (cfn-lint: tests/infra/test_template.py, checkov:
tests/infra/test_controls*.py, both on this same template), code key addressed by content, headers from the specs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import SpecError, SpecErrors, UsageError
from engine.spec.project import load_project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    out = tmp_path_factory.mktemp("drive") / "platform.template.json"
    assert main(["deploy", "--profile", "aws", "--dry-run", "--out", str(out), "--project-dir", str(ROOT)]) == 0
    return out


def test_dry_run_template_has_the_function_its_schedule_and_role(template):
    resources = json.loads(template.read_text())["Resources"]
    fn = resources["DriveFunction"]["Properties"]
    assert fn["Runtime"] == "python3.11" and fn["Handler"] == "infra.drive.handler.handler"
    assert fn["Code"]["S3Bucket"] == "medallion-lake-artefacts"
    assert fn["Code"]["S3Key"].startswith("medallion/artefacts/drive-lambda-") and fn["Code"]["S3Key"].endswith(".zip")
    assert fn["ReservedConcurrentExecutions"] == 1 and fn["KmsKeyArn"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    env = fn["Environment"]["Variables"]
    assert env["RAW_BUCKET"] == "medallion-lake-raw" and env["DRIVE_SECRET_ID"] == "medallion/drive/service-account"
    # from pipelines/bronze/*.yaml read steps (file name -> declared columns), written out by hand
    headers = json.loads(env["EXPECTED_HEADERS"])
    assert sorted(headers) == ["date_dim.csv", "order_item_options.csv", "order_items.csv"]
    assert headers["order_item_options.csv"] == ["ORDER_ID", "LINEITEM_ID", "OPTION_GROUP_NAME", "OPTION_NAME",
                                                 "OPTION_PRICE", "OPTION_QUANTITY"]
    rule = resources["DriveSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "cron(30 6 * * ? *)"  # medallion.yaml profiles.aws.deploy.drive
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["DriveFunction", "Arn"]}
    permission = resources["DriveSchedulePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["DriveSchedule", "Arn"]}


def test_role_is_least_privilege(template):
    role = json.loads(template.read_text())["Resources"]["DriveFunctionRole"]["Properties"]
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    for s in statements.values():
        assert s["Effect"] == "Allow"
        assert all(not a.endswith(":*") and a != "*" for a in s["Action"]), s
    assert statements["WriteDrivePrefix"]["Resource"] == "arn:aws:s3:::medallion-lake-raw/drive/*"
    assert statements["ListDrivePrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["drive/*"]}}
    assert statements["ReadServiceAccountKey"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert statements["StartPipeline"]["Action"] == ["states:StartExecution"]
    # X-Ray cannot be scoped to a resource: the only "*"
    assert [sid for sid, s in statements.items() if s["Resource"] == "*"] == ["Tracing"]


def test_no_drive_block_no_function(tmp_path):
    text = (ROOT / "medallion.yaml").read_text()
    start = text.index("      drive:\n")
    end = text.index("schedule: cron(30 6", start)
    end = text.index("\n", end) + 1
    (tmp_path / "medallion.yaml").write_text(text[:start] + text[end:])
    from infra.target import target_for
    from infra.template_drive import drive_resources
    assert drive_resources(target_for(load_project(tmp_path, "aws"))) == {}


@pytest.mark.parametrize("schedule, message", [
    ("cron(30 6 * * *)", "has 5 field(s); AWS cron needs 6"),
    ("rate(0 minutes)", "is not an EventBridge rate"),
    ("every day", "is not an AWS cron expression"),
])
def test_bad_schedule_is_refused_with_its_line(tmp_path, schedule, message):
    text = (ROOT / "medallion.yaml").read_text().replace("schedule: cron(30 6 * * ? *)", f"schedule: {schedule}")
    (tmp_path / "medallion.yaml").write_text(text)
    with pytest.raises((SpecError, SpecErrors, UsageError)) as info:
        load_project(tmp_path, "aws")
    assert message in str(info.value) and "medallion.yaml" in str(info.value)


@pytest.mark.slow
def test_first_deploy_stages_the_code_then_makes_the_function(tmp_path, monkeypatch):
    """moto: the first deploy makes the stack without the function, uploads the real zip (pip-built
    for Lambda's platform), then adds the function; a second deploy changes nothing."""
    import io
    import zipfile

    import boto3
    from moto import mock_aws

    from infra.target import target_for
    from infra.template import build_template
    from infra.template_drive import code_key, deploy_platform

    shutil.copy(ROOT / "medallion.yaml", tmp_path / "medallion.yaml")
    for folder in ("pipelines", "marts"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    lines: list[str] = []
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
        env = {"MEDALLION_VPC_ID": vpc, "MEDALLION_DB_ROUTE_TABLE_IDS": rtb, "MEDALLION_DB_SUBNET_IDS":
               subnet["SubnetId"], "MEDALLION_DB_SECURITY_GROUP_IDS": sg,
               # this test is about the Drive function: no hosted dashboards, the source database is yours
               "MEDALLION_DASHBOARDS": "false", "MEDALLION_RDS_CREATE": "false"}
        target = target_for(load_project(tmp_path, "aws", env=env))
        template = build_template(target)
        aws = {n: boto3.client(n, region_name="us-east-1") for n in ("cloudformation", "s3", "lambda", "events")}
        assert deploy_platform(aws, target, template, lines.append, poll_seconds=0) == "updated"
        assert any("first deploy without the Drive function" in line for line in lines)
        body = aws["s3"].get_object(Bucket="medallion-lake-artefacts", Key=code_key(target))["Body"].read()
        names = zipfile.ZipFile(io.BytesIO(body)).namelist()
        assert "infra/drive/handler.py" in names and "google/oauth2/service_account.py" in names
        assert any(n.startswith("cryptography/hazmat/bindings/_rust") for n in names)
        fn = aws["lambda"].get_function(FunctionName="medallion-drive-ingest")["Configuration"]
        assert fn["Runtime"] == "python3.11" and fn["Handler"] == "infra.drive.handler.handler"
        rule = aws["events"].describe_rule(Name="medallion-drive-ingest-schedule")
        assert rule["ScheduleExpression"] == "cron(30 6 * * ? *)"
        lines.clear()
        assert deploy_platform(aws, target, template, lines.append, poll_seconds=0) == "unchanged"
        assert any("unchanged artefact" in line for line in lines)


def test_the_job_reads_where_the_lambda_writes(template):
    """The Glue job's raw_dir is the Lambda's newest-copy prefix, so Drive files reach the run."""
    resources = json.loads(template.read_text())["Resources"]
    env = resources["DriveFunction"]["Properties"]["Environment"]["Variables"]
    project = load_project(ROOT, "aws", env={})
    assert project.profile.deploy.job_vars["raw_dir"] == f"s3://{env['RAW_BUCKET']}/{env['RAW_PREFIX']}/latest"
