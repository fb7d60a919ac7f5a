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
    assert set(schedules) == {"RedshiftPasswordSecret", "DashboardsPasswordSecret", "RedshiftAdminSecret",
                              "SourceDbSecret"}
    for schedule in (v for k, v in schedules.items() if k != "SourceDbSecret"):
        assert schedule["RotationLambdaARN"] == _arn("RotationFunction")
        assert schedule["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}
        assert schedule["RotateImmediatelyOnUpdate"] is True  # the first rotation creates the user
    hmac = res["CardHmacKeySecret"]["Metadata"]
    assert hmac["medallion"]["rotation"].startswith("none: a new HMAC key gives every card a new token")
    rotation = res["SourceDbSecretRotation"]  # the source secret: AWS's hosted rotation function, in the subnets
    assert rotation["Properties"]["SecretId"] == {"Ref": "SourceDbSecret"}
    assert rotation["Properties"]["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}
    assert rotation["Properties"]["HostedRotationLambda"]["RotationType"] == "PostgreSQLSingleUser"
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
    # the master secret: generated by Secrets Manager, resolved by CloudFormation, never in the template
    assert db["MasterUsername"] == {"Fn::Sub": "{{resolve:secretsmanager:${SourceDbSecret}:SecretString:username}}"}
    assert db["MasterUserPassword"] == {"Fn::Sub": "{{resolve:secretsmanager:${SourceDbSecret}:SecretString:password}}"}
    secret = res["SourceDbSecret"]["Properties"]
    assert secret["KmsKeyId"] == KEY_ARN and "SecretString" not in secret
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "password"
    assert res["SourceDbSecretAttachment"]["Properties"] == {
        "SecretId": {"Ref": "SourceDbSecret"}, "TargetId": {"Ref": "SourceDb"}, "TargetType": "AWS::RDS::DBInstance"}
    hosted = res["SourceDbSecretRotation"]["Properties"]["HostedRotationLambda"]
    assert hosted["VpcSubnetIds"] == "subnet-00000000000000000" and hosted["VpcSecurityGroupIds"] == "sg-00000000000000000"
    assert hosted["KmsKeyArn"] == KEY_ARN
    assert res["SourceDbSecretRotation"]["DependsOn"] == ["SourceDbSecretAttachment"]
    assert template["Transform"] == "AWS::SecretsManager-2020-07-23"  # expands HostedRotationLambda
    assert db["DeletionProtection"] is True and db["BackupRetentionPeriod"] == 7
    assert db["DBName"] == "restaurant"
    assert db["DBParameterGroupName"] == {"Ref": "SourceDbParameterGroup"}
    params = res["SourceDbParameterGroup"]["Properties"]
    assert params["Family"] == "postgres17" and params["Parameters"]["rds.force_ssl"] == "1"
    assert template["Outputs"]["SourceDbSecretArn"]["Value"] == {"Ref": "SourceDbSecret"}


def test_one_source_secret_for_profile_connection_stack_and_role(template):
    """The secret the engine reads, the Glue connection names, the stack makes and the role may read: one."""
    from infra.glue_plan import Environment, desired

    project = load_project(ROOT, "aws", env={})
    target = target_for(project)
    # by hand from medallion.yaml: source.password is ${secret:rds_source.password}, prefix medallion/
    assert project.profile.source.password == "${secret:rds_source.password}"
    assert target.source_secret == "rds_source"
    secret = template["Resources"]["SourceDbSecret"]["Properties"]
    assert secret["Name"] == "medallion/rds_source"
    template_user = json.loads(secret["GenerateSecretString"]["SecretStringTemplate"])["username"]
    assert template_user == project.profile.source.user == "medallion_etl"
    [connection] = [r for r in desired(target, Environment("k", "r")) if r.name == "medallion-source"]
    assert connection.body["ConnectionProperties"]["SECRET_ID"] == "medallion/rds_source"
    statements = {s["Sid"]: s for s in template["Resources"]["JobRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
    [pattern] = statements["ReadProjectSecrets"]["Resource"]
    assert fnmatch.fnmatch("arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:medallion/rds_source-AbCdEf",
                           pattern["Fn::Sub"])


def test_a_second_name_for_the_source_secret_is_refused(tmp_path):
    text = (ROOT / "medallion.yaml").read_text(encoding="utf-8")
    deploy_source = '        create: "${env:MEDALLION_RDS_CREATE:-true}"'
    assert text.count(deploy_source) == 1
    (tmp_path / "medallion.yaml").write_text(
        text.replace(deploy_source, deploy_source + "\n        secret: connections/source"), encoding="utf-8")
    with pytest.raises(UsageError, match="deploy.source.secret is 'connections/source' but source.password reads "
                                         "the secret 'rds_source'; one database, one secret"):
        target_for(load_project(tmp_path, "aws", env={}))


def test_redshift_copies_from_the_published_layers_of_the_lake(template):
    role = template["Resources"]["RedshiftRole"]["Properties"]
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    # by hand: lake bucket medallion-lake, lake prefix "lake", staging prefix "redshift-staging"
    assert statements["ReadStagingAndCommittedVersions"]["Resource"] == [
        "arn:aws:s3:::medallion-lake/redshift-staging/*", "arn:aws:s3:::medallion-lake/lake/silver/*",
        "arn:aws:s3:::medallion-lake/lake/gold/*", "arn:aws:s3:::medallion-lake/lake/quarantine/*"]
    assert statements["ReadStagingAndCommittedVersions"]["Action"] == ["s3:GetObject"]
    assert statements["ListCopyPrefixes"]["Condition"] == {"StringLike": {"s3:prefix": [
        "redshift-staging/*", "lake/silver/*", "lake/gold/*", "lake/quarantine/*"]}}
    assert statements["DecryptLakeObjects"]["Resource"] == [KEY_ARN]
    text = json.dumps(role)
    assert "lake/bronze" not in text and "s3:PutObject" not in text  # raw card numbers stay unreadable


def test_job_role_may_register_only_the_projects_catalog_tables(template):
    role = template["Resources"]["JobRole"]["Properties"]
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    catalog = statements["RegisterLakeVersionsInCatalog"]
    # every Glue call engine/io/catalog.py makes (get/create/update table, create database, partitions)
    assert set(catalog["Action"]) >= {"glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:CreateDatabase",
                                      "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchDeletePartition"}
    assert all(a.startswith("glue:") and "*" not in a for a in catalog["Action"])
    assert [r["Fn::Sub"] for r in catalog["Resource"]] == [
        "arn:aws:glue:${AWS::Region}:${AWS::AccountId}:catalog",
        "arn:aws:glue:${AWS::Region}:${AWS::AccountId}:database/medallion_*",
        "arn:aws:glue:${AWS::Region}:${AWS::AccountId}:table/medallion_*/*"]
    for statement in role["Policies"][0]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement["Sid"]


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
        "/aws/lambda/medallion-rotate-redshift-user", "/ecs/medallion-dashboards", "/aws/codebuild/medallion-dashboards-image",
        "/aws/lambda/medallion-drive-ingest"}  # the Drive ingestion function (infra/template_drive.py)
    for group in groups:
        assert group["KmsKeyId"] == KEY_ARN
        arn = "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:" + group["LogGroupName"]
        assert any(fnmatch.fnmatch(arn, p) for p in patterns), group["LogGroupName"]
