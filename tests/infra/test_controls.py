"""Issue 16's controls, each asserted on the generated template of the real aws profile.

Expected values are written out by hand from the issue and the AWS documentation cited in the
modules (not recomputed by the code under test).
"""

from __future__ import annotations

import copy
import fnmatch
import json
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.spec.project import load_project
from infra.target import target_for
from infra.template import build_template
from infra.template_iam import KEY_ARN
from infra.template_rotation import check_rotation

ROOT = Path(__file__).resolve().parents[2]
DATA_BUCKETS = ["ArtefactsBucket", "LakeBucket", "LogsBucket", "RawBucket"]


@pytest.fixture(scope="module")
def template():
    return build_template(target_for(load_project(ROOT, "aws", env={})))


def _of_type(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _arn(logical):
    return {"Fn::GetAtt": [logical, "Arn"]}


def test_every_bucket_logs_to_an_encrypted_access_log_bucket(template):
    res = template["Resources"]
    for logical in DATA_BUCKETS:
        assert res[logical]["Properties"]["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": "AccessLogsBucket"}, "LogFilePrefix": f"medallion/{logical}/"}
    logs = res["AccessLogsBucket"]
    props = logs["Properties"]
    assert props["BucketName"] == "medallion-lake-access-logs"
    # S3 log delivery supports SSE-S3 destinations only (Amazon S3 User Guide)
    assert props["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert logs["DeletionPolicy"] == logs["UpdateReplacePolicy"] == "Retain"
    assert "LoggingConfiguration" not in props
    assert logs["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_18"
    policy = res["AccessLogsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "AccessLogsBucket"}
    delivery, tls = policy["PolicyDocument"]["Statement"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                     "ArnLike": {"aws:SourceArn": [_arn(b) for b in DATA_BUCKETS]}}
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_gateway_endpoint_reaches_only_project_and_named_aws_buckets(template):
    policy = template["Resources"]["S3GatewayEndpoint"]["Properties"]["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"ProjectBuckets", "EcrImageLayers", "GlueAssets"}
    project = by_sid["ProjectBuckets"]
    assert project["Resource"] == [_arn(b) for b in DATA_BUCKETS] + [
        {"Fn::Join": ["", [_arn(b), "/*"]]} for b in DATA_BUCKETS]
    assert "s3:*" not in project["Action"] and "s3:DeleteBucket" not in project["Action"]
    assert by_sid["EcrImageLayers"]["Resource"] == [
        {"Fn::Sub": "arn:aws:s3:::prod-${AWS::Region}-starport-layer-bucket/*"}]
    assert by_sid["GlueAssets"]["Resource"] == [{"Fn::Sub": "arn:aws:s3:::aws-glue-jes-prod-${AWS::Region}-assets/*"}]
    for sid in ("EcrImageLayers", "GlueAssets"):
        assert by_sid[sid]["Action"] == ["s3:GetObject"]
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in policy["Statement"])


def test_redshift_requires_tls(template):
    workgroup = template["Resources"]["RedshiftWorkgroup"]["Properties"]
    assert {"ParameterKey": "require_ssl", "ParameterValue": "true"} in workgroup["ConfigParameters"]
    assert workgroup["PubliclyAccessible"] is False


def test_etl_connects_as_its_own_user_not_the_admin(template):
    res = template["Resources"]
    namespace = res["RedshiftNamespace"]["Properties"]
    assert namespace["AdminUsername"] == "medallion_admin"
    assert namespace["AdminUserPassword"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${RedshiftAdminSecret}:SecretString:password}}"}
    assert "RedshiftPasswordSecret" not in json.dumps(namespace)
    admin = res["RedshiftAdminSecret"]["Properties"]["GenerateSecretString"]
    assert json.loads(admin["SecretStringTemplate"]) == {"username": "medallion_admin"}
    env = res["RotationFunction"]["Properties"]["Environment"]["Variables"]
    users = json.loads(env["USERS"])
    assert users["medallion/redshift_password"] == {
        "name": "medallion_etl", "grants": ["GRANT CREATE ON DATABASE analytics TO medallion_etl"],
        "mirror": "medallion/connections/warehouse"}
    assert users["medallion/redshift_dashboards_password"] == {"name": "medallion_dashboards", "grants": []}
    assert env["ADMIN_SECRET_ARN"] == {"Ref": "RedshiftAdminSecret"}
    # the warehouse the aws profile connects with is the ETL user, never the admin
    assert load_project(ROOT, "aws", env={}).profile.warehouse.user == "medallion_etl"


def test_every_owned_secret_rotates_or_says_why_not(template):
    res = template["Resources"]
    schedules = {v["Properties"]["SecretId"]["Ref"]: v["Properties"]
                 for v in _of_type(template, "AWS::SecretsManager::RotationSchedule").values()}
    assert set(schedules) == {"RedshiftPasswordSecret", "DashboardsPasswordSecret", "RedshiftAdminSecret"}
    for schedule in schedules.values():
        assert schedule["RotationLambdaARN"] == _arn("RotationFunction")
        assert schedule["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}
        assert schedule["RotateImmediatelyOnUpdate"] is True  # the first rotation creates the user
    hmac = res["CardHmacKeySecret"]["Metadata"]
    assert hmac["medallion"]["rotation"].startswith("none: a new HMAC key gives every card a new token")
    assert res["SourceDb"]["Properties"]["ManageMasterUserPassword"] is True  # RDS rotates it itself
    permission = res["RotationFunctionPermission"]["Properties"]
    assert permission["Principal"] == "secretsmanager.amazonaws.com"


def test_a_secret_without_rotation_is_refused(template):
    broken = copy.deepcopy(template)
    broken["Resources"]["ApiKeySecret"] = {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "x"}}
    with pytest.raises(UsageError, match="^secret ApiKeySecret has no rotation schedule"):
        check_rotation(broken)


def test_key_secret_warehouse_and_source_survive_stack_deletion(template):
    res = template["Resources"]
    for logical in ("DataKey", "CardHmacKeySecret", "RedshiftNamespace"):
        assert (res[logical]["DeletionPolicy"], res[logical]["UpdateReplacePolicy"]) == ("Retain", "Retain"), logical
    assert (res["SourceDb"]["DeletionPolicy"], res["SourceDb"]["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")


def test_interface_endpoints_on_the_database_subnets(template):
    endpoints = {v["Properties"]["ServiceName"]["Fn::Sub"]: v["Properties"]
                 for v in _of_type(template, "AWS::EC2::VPCEndpoint").values()
                 if v["Properties"]["VpcEndpointType"] == "Interface"}
    assert set(endpoints) == {f"com.amazonaws.${{AWS::Region}}.{s}" for s in
                              ("secretsmanager", "kms", "logs", "glue", "sts", "states", "ecr.api", "ecr.dkr")}
    for props in endpoints.values():
        assert props["SubnetIds"] == ["subnet-00000000000000000"]
        assert props["VpcId"] == "vpc-00000000000000000"
        assert props["PrivateDnsEnabled"] is True
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": ["EndpointSecurityGroup", "GroupId"]},
                                             "sg-00000000000000000"]
        (statement,) = props["PolicyDocument"]["Statement"]
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}


def test_source_database(template):
    res = template["Resources"]
    db = res["SourceDb"]["Properties"]
    assert db["Engine"] == "postgres" and db["EngineVersion"].startswith("17.")
    assert db["StorageEncrypted"] is True and db["KmsKeyId"] == KEY_ARN
    assert db["PubliclyAccessible"] is False
    assert db["DBSubnetGroupName"] == {"Ref": "SourceDbSubnetGroup"}
    assert res["SourceDbSubnetGroup"]["Properties"]["SubnetIds"] == ["subnet-00000000000000000"]
    assert db["VPCSecurityGroups"] == ["sg-00000000000000000"]
    assert db["ManageMasterUserPassword"] is True and db["MasterUserSecret"] == {"KmsKeyId": KEY_ARN}
    assert "MasterUserPassword" not in db
    assert db["DeletionProtection"] is True and db["BackupRetentionPeriod"] == 7
    assert db["DBName"] == "restaurant"
    assert db["DBParameterGroupName"] == {"Ref": "SourceDbParameterGroup"}
    params = res["SourceDbParameterGroup"]["Properties"]
    assert params["Family"] == "postgres17" and params["Parameters"]["rds.force_ssl"] == "1"
    assert template["Outputs"]["SourceDbSecretArn"]["Value"] == {"Fn::GetAtt": ["SourceDb", "MasterUserSecret.SecretArn"]}


def test_no_source_database_when_you_run_your_own():
    template = build_template(target_for(load_project(ROOT, "aws", env={"MEDALLION_RDS_CREATE": "false"})))
    assert not [k for k in template["Resources"] if k.startswith("SourceDb")]
    assert "SourceDbEndpoint" not in template["Outputs"]


def test_key_policy_lets_cloudwatch_encrypt_every_log_group(template):
    statements = template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    patterns = []
    for s in statements:
        arns = s.get("Condition", {}).get("ArnLike", {}).get("kms:EncryptionContext:aws:logs:arn", [])
        patterns += [a["Fn::Sub"] for a in (arns if isinstance(arns, list) else [arns])]
    groups = [v["Properties"] for v in _of_type(template, "AWS::Logs::LogGroup").values()]
    assert {g["LogGroupName"] for g in groups} == {
        "/aws/lambda/medallion-rotate-redshift-user", "/ecs/medallion-dashboards", "/aws/codebuild/medallion-dashboards-image"}
    for group in groups:
        assert group["KmsKeyId"] == KEY_ARN
        arn = "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + group["LogGroupName"]
        assert any(fnmatch.fnmatch(arn, p) for p in patterns), group["LogGroupName"]
