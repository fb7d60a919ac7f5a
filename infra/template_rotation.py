"""Rotation of every secret the stack owns, and the check that none is left unrotated.

- The Redshift ETL user's and the dashboards reader's passwords rotate every 30 days through
  ``RotationFunction`` (source: ``infra/rotate_redshift_user.py``, inlined), which also creates
  each user on its first run (``RotateImmediatelyOnUpdate``), so the ETL never connects as the
  namespace admin and nobody ever types a warehouse password.
- The Redshift admin's JSON secret (the Data API signs in with it) rotates the same way; the RDS
  source secret rotates through AWS's hosted PostgreSQL rotation function (``template_rds.py``).
- The card HMAC key is deliberately not rotated: a new key gives every card a new token, so
  silver and gold history would stop joining. It is exempted by name, with that reason, in its
  Metadata; rotating it is a re-tokenisation (docs/design.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from infra.target import Target
from infra.template_meta import skip
from infra.template_iam import KEY_ARN, sub

FUNCTION_SOURCE = Path(__file__).with_name("rotate_redshift_user.py")
ROTATION_DAYS = 30
READER_SECRET = "redshift_dashboards_password"
NOT_ROTATED = {"CardHmacKeySecret": "a new HMAC key gives every card a new token: silver and gold history "
                                    "would stop joining; rotating it is a planned re-tokenisation"}
ADMIN_SECRET = {"Ref": "RedshiftAdminSecret"}
ROTATED = ["RedshiftPasswordSecret", "DashboardsPasswordSecret", "RedshiftAdminSecret"]


def admin_user(target: Target) -> str:
    """The namespace admin: used only by the rotation function that creates the ETL users."""
    return target.prefix.replace("-", "_") + "_admin"


def reader_user(target: Target) -> str:
    """The dashboards' read-only warehouse user (SELECT on gold is granted by the publish step)."""
    return target.prefix.replace("-", "_") + "_dashboards"


def _users(target: Target) -> dict[str, Any]:
    wh = target.warehouse
    database = wh.database if wh else "analytics"
    etl = wh.user if wh else "medallion_etl"
    return {
        target.secret_name("redshift_password"): {
            "name": etl, "grants": [f"GRANT CREATE ON DATABASE {database} TO {etl}"],
            "mirror": target.secret_name("connections/warehouse")},
        target.secret_name(READER_SECRET): {"name": reader_user(target), "grants": []},
        target.secret_name("redshift_admin"): {"name": admin_user(target), "grants": [], "json": True},
    }


def _role(target: Target, secrets: list[str]) -> dict[str, Any]:
    workgroup = sub("arn:aws:redshift-serverless:${AWS::Region}:${AWS::AccountId}:workgroup/*")
    group = sub("arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/"
                f"{target.prefix}-rotate-redshift-user:*")
    statements = [
        {"Sid": "RotateOwnSecrets", "Effect": "Allow", "Resource": [{"Ref": s} for s in secrets],
         "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]},
        {"Sid": "RefreshConnectionMirror", "Effect": "Allow", "Action": ["secretsmanager:PutSecretValue"],
         "Resource": [sub("arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                          + target.secret_name("connections/warehouse") + "-*")]},
        {"Sid": "GeneratePasswords", "Effect": "Allow", "Action": ["secretsmanager:GetRandomPassword"],
         "Resource": "*"},
        {"Sid": "UseDataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
         "Resource": [KEY_ARN]},
        {"Sid": "RunUserStatements", "Effect": "Allow", "Action": ["redshift-data:ExecuteStatement"],
         "Resource": [workgroup]},
        {"Sid": "ReadOwnStatements", "Effect": "Allow",
         "Action": ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult"], "Resource": "*"},
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [group]},
    ]
    return {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": f"{target.prefix}-rotate-redshift-user",
        "Description": "Rotates the Redshift ETL and dashboards passwords",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]},
        "Policies": [{"PolicyName": "rotate", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}}


def _function(target: Target) -> dict[str, Any]:
    wh = target.warehouse
    function: dict[str, Any] = {"Type": "AWS::Lambda::Function", "DependsOn": ["RotationFunctionLogGroup"],
                                "Properties": {
        "FunctionName": f"{target.prefix}-rotate-redshift-user",
        "Description": "Secrets Manager rotation of Redshift user passwords (Data API)",
        "Runtime": "python3.12", "Handler": "index.handler", "Timeout": 300, "MemorySize": 256,
        "Role": {"Fn::GetAtt": ["RotationFunctionRole", "Arn"]},
        "Code": {"ZipFile": FUNCTION_SOURCE.read_text(encoding="utf-8")},
        "KmsKeyArn": KEY_ARN, "TracingConfig": {"Mode": "Active"},
        "Environment": {"Variables": {
            "WORKGROUP": target.prefix, "DATABASE": wh.database if wh else "analytics",
            "ADMIN_SECRET_ARN": ADMIN_SECRET, "USERS": json.dumps(_users(target), sort_keys=True)}}}}
    skip(function, "CKV_AWS_116", "invoked synchronously by Secrets Manager, which retries and records a failed "
                                  "rotation on the secret; a dead-letter queue would hold nothing")
    skip(function, "CKV_AWS_117", "calls only the Redshift Data API and Secrets Manager; no resource in the VPC")
    skip(function, "CKV_AWS_115", "reserved concurrency would fail in accounts at the minimum unreserved "
                                  "concurrency; rotations are rare and serialised per secret")
    return function


def rotation_part(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reader secret, the rotation function and one schedule per rotated Redshift secret."""
    resources: dict[str, Any] = {"DashboardsPasswordSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Name": target.secret_name(READER_SECRET), "KmsKeyId": KEY_ARN,
        "Description": "Redshift password of the dashboards' read-only user",
        "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True, "RequireEachIncludedType": True}}}}
    resources["RotationFunctionRole"] = _role(target, ROTATED)
    resources["RotationFunctionLogGroup"] = {
        "Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {"LogGroupName": f"/aws/lambda/{target.prefix}-rotate-redshift-user",
                       "RetentionInDays": 365, "KmsKeyId": KEY_ARN}}
    resources["RotationFunction"] = _function(target)
    resources["RotationFunctionPermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "FunctionName": {"Fn::GetAtt": ["RotationFunction", "Arn"]}, "Action": "lambda:InvokeFunction",
        "Principal": "secretsmanager.amazonaws.com", "SourceAccount": {"Ref": "AWS::AccountId"}}}
    for logical in ROTATED:
        resources[f"{logical}Rotation"] = {
            "Type": "AWS::SecretsManager::RotationSchedule",
            "DependsOn": ["RotationFunctionPermission", "RedshiftWorkgroup"],
            "Properties": {"SecretId": {"Ref": logical}, "RotationLambdaARN": {"Fn::GetAtt": ["RotationFunction", "Arn"]},
                           "RotationRules": {"ScheduleExpression": f"rate({ROTATION_DAYS} days)"},
                           "RotateImmediatelyOnUpdate": True}}
    outputs = {"DashboardsPasswordSecretArn": {"Description": "password of the dashboards' read-only Redshift user",
                                               "Value": {"Ref": "DashboardsPasswordSecret"}}}
    return resources, outputs


def exempt_from_rotation(resources: dict[str, Any]) -> None:
    """Write the reason each deliberately unrotated secret is not rotated into its Metadata."""
    for logical, reason in NOT_ROTATED.items():
        if logical in resources:
            resources[logical].setdefault("Metadata", {})["medallion"] = {"rotation": f"none: {reason}"}
            skip(resources[logical], "CKV2_AWS_57", reason)


def unrotated_secrets(template: dict[str, Any]) -> list[str]:
    """Secrets of the template with neither a rotation schedule nor a written reason not to rotate."""
    resources = template["Resources"]
    scheduled = {r["Properties"]["SecretId"]["Ref"] for r in resources.values()
                 if r["Type"] == "AWS::SecretsManager::RotationSchedule"}
    return sorted(k for k, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"
                  and k not in scheduled and "rotation" not in r.get("Metadata", {}).get("medallion", {}))


def check_rotation(template: dict[str, Any]) -> None:
    """Refuse a template holding a secret without rotation (one line naming the secret)."""
    missing = unrotated_secrets(template)
    if missing:
        raise UsageError(f"secret {missing[0]} has no rotation schedule; add a RotationSchedule for it in "
                         "infra/template_rotation.py, or a Metadata medallion.rotation reason")
