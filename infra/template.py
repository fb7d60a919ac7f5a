"""The platform stack as a CloudFormation template, built from the deploy settings.

Long-lived resources only: the KMS key everything is encrypted with, the four buckets, the
roles, the S3 gateway endpoint of the database subnets, the generated secrets, Redshift
Serverless, and the failure alerts. The template is plain data (a dict written as JSON), so
tests can assert on encryption and policies without parsing YAML tags.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from infra.target import Target
from infra.template_controls import apply_controls
from infra.template_drive import drive_resources
from infra.template_hosting import hosting_part
from infra.template_iam import KEY_ARN, job_role, redshift_role, sub
from infra.template_image import image_sections
from infra.template_network import endpoints_part
from infra.template_orchestration import orchestration_part
from infra.template_rds import TRANSFORM, rds_part
from infra.template_rotation import rotation_part

BUCKETS = {"raw": "RawBucket", "lake": "LakeBucket", "artefacts": "ArtefactsBucket", "logs": "LogsBucket"}
ABORTED_STATES = ["TIMED_OUT", "ABORTED"]


def _key(target: Target) -> dict[str, Any]:
    account_root = sub("arn:aws:iam::${AWS::AccountId}:root")
    use = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    return {
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": f"{target.prefix}: lake, artefacts, logs, secrets, Redshift, alerts",
            "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AccountAdministersThroughIam", "Effect": "Allow", "Principal": {"AWS": account_root},
                 "Action": "kms:*", "Resource": "*"},
                {"Sid": "GlueJobLogs", "Effect": "Allow",
                 "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")}, "Action": use, "Resource": "*",
                 "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                           sub("arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*")}}},
                {"Sid": "EventBridgeToEncryptedTopic", "Effect": "Allow",
                 "Principal": {"Service": "events.amazonaws.com"},
                 "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
            ]},
        },
    }


def _bucket(target: Target, kind: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [{"Id": "expire-old-versions", "Status": "Enabled",
                                    "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]
    if kind == "logs":
        rules.append({"Id": "expire-logs", "Status": "Enabled", "ExpirationInDays": 90})
    return {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": target.bucket(kind),
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
                "BucketKeyEnabled": True}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": rules},
        },
    }


def _bucket_policy(logical: str) -> dict[str, Any]:
    bucket_arn = {"Fn::GetAtt": [logical, "Arn"]}
    objects = {"Fn::Join": ["", [bucket_arn, "/*"]]}
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": {"Ref": logical}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [bucket_arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DenyOtherEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": objects,
             "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
        ]}},
    }


def _secret(target: Target, name: str, description: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Name": target.secret_name(name), "Description": description, "KmsKeyId": KEY_ARN,
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True,
                                     "RequireEachIncludedType": True},
        },
    }


def _redshift(target: Target) -> dict[str, Any]:
    cfg = target.config
    wh = target.warehouse
    user = wh.user if wh else "medallion_etl"
    database = wh.database if wh else "analytics"
    return {
        "RedshiftNamespace": {"Type": "AWS::RedshiftServerless::Namespace", "Properties": {
            "NamespaceName": target.prefix, "DbName": database, "AdminUsername": user,
            "AdminUserPassword": {"Fn::Sub": "{{resolve:secretsmanager:${RedshiftPasswordSecret}}}"},
            "KmsKeyId": {"Ref": "DataKey"},
            "IamRoles": [{"Fn::GetAtt": ["RedshiftRole", "Arn"]}],
            "DefaultIamRoleArn": {"Fn::GetAtt": ["RedshiftRole", "Arn"]},
            "LogExports": ["userlog", "connectionlog", "useractivitylog"]}},
        "RedshiftWorkgroup": {"Type": "AWS::RedshiftServerless::Workgroup", "Properties": {
            "WorkgroupName": target.prefix, "NamespaceName": {"Ref": "RedshiftNamespace"},
            "BaseCapacity": cfg.redshift_base_capacity, "EnhancedVpcRouting": True,
            "PubliclyAccessible": False, "SubnetIds": list(cfg.subnet_ids),
            "SecurityGroupIds": list(cfg.security_group_ids)}},
    }


def _alerts(target: Target) -> dict[str, Any]:
    """The alerts topic. The state machine publishes ONE message per failed pipeline run (naming
    the failed spec, its error and the reload command); the rule below is the backstop for runs
    that never reach that state (timed out or stopped by hand)."""
    topic: dict[str, Any] = {"TopicName": f"{target.prefix}-alerts", "KmsMasterKeyId": {"Ref": "DataKey"}}
    if target.config.alarm_email:
        topic["Subscription"] = [{"Protocol": "email", "Endpoint": target.config.alarm_email}]
    machine = sub(f"arn:aws:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{target.state_machine_name}")
    return {
        "AlertsTopic": {"Type": "AWS::SNS::Topic", "Properties": topic},
        "AlertsTopicPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "AlertsTopic"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "AbortedPipelineRunsFromEventBridge", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
                "Resource": {"Ref": "AlertsTopic"},
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["PipelineAbortedRule", "Arn"]}}}}]}}},
        "PipelineAbortedRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Name": f"{target.prefix}-pipeline-aborted",
            "Description": "A pipeline run timed out or was stopped before it could send its own alert",
            "State": "ENABLED",
            "EventPattern": {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                             "detail": {"stateMachineArn": [machine], "status": ABORTED_STATES}},
            "Targets": [{"Id": "alerts-topic", "Arn": {"Ref": "AlertsTopic"}}]}},
    }


def _platform(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """The core platform: key, buckets, roles, endpoint, secrets, Redshift, alerts topic."""
    cfg = target.config
    resources: dict[str, Any] = {"DataKey": _key(target), "DataKeyAlias": {
        "Type": "AWS::KMS::Alias",
        "Properties": {"AliasName": f"alias/{target.prefix}", "TargetKeyId": {"Ref": "DataKey"}}}}
    for kind, logical in BUCKETS.items():
        resources[logical] = _bucket(target, kind)
        resources[f"{logical}Policy"] = _bucket_policy(logical)
    resources["JobRole"] = job_role(target)
    resources["RedshiftRole"] = redshift_role(target)
    resources["S3GatewayEndpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "VpcId": cfg.vpc_id, "VpcEndpointType": "Gateway",
        "ServiceName": sub("com.amazonaws.${AWS::Region}.s3"), "RouteTableIds": list(cfg.route_table_ids)}}
    resources["CardHmacKeySecret"] = _secret(target, "card_hmac_key", "HMAC key that tokenises card numbers")
    resources["RedshiftPasswordSecret"] = _secret(target, "redshift_password", "Redshift password of the ETL user")
    resources.update(_redshift(target))
    resources.update(_alerts(target))
    resources.update(drive_resources(target))  # the Drive ingestion Lambda, when deploy.drive is set
    outputs = {
        "KeyArn": {"Description": "the data key", "Value": KEY_ARN},
        "JobRoleArn": {"Description": "role of the Glue job", "Value": {"Fn::GetAtt": ["JobRole", "Arn"]}},
        "RedshiftRoleArn": {"Description": "role Redshift COPYs with",
                            "Value": {"Fn::GetAtt": ["RedshiftRole", "Arn"]}},
        "AlertsTopicArn": {"Description": "failed pipeline runs are sent here", "Value": {"Ref": "AlertsTopic"}},
        **{logical: {"Description": f"the {kind} bucket", "Value": {"Ref": logical}}
           for kind, logical in BUCKETS.items()},
    }
    return resources, outputs


# Each part adds resources and outputs to the one stack. Another module plugs in by appending
# its ``part(target) -> (resources, outputs)`` here (one import, one entry); logical ids must
# not collide (build_template refuses duplicates). The controls pass runs over the whole result.
Part = Callable[[Target], tuple[dict[str, Any], dict[str, Any]]]
PARTS: list[Part] = [_platform, orchestration_part, rotation_part, rds_part, endpoints_part, hosting_part]


def build_template(target: Target) -> dict[str, Any]:
    """The platform stack for ``target``; deterministic, so an unchanged project changes nothing."""
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for part in PARTS:
        more, more_outputs = part(target)
        clash = (set(more) & set(resources)) | (set(more_outputs) & set(outputs))
        if clash:
            raise ValueError(f"template parts define {', '.join(sorted(clash))} twice")
        resources.update(more)
        outputs.update(more_outputs)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{target.project.name}: medallion platform (encrypted lake, Glue role, Redshift, alerts)",
        **image_sections(resources),  # the image tag parameter the deploy sets (template_image.py)
        "Resources": resources,
        "Outputs": outputs,
    }
    if any(r.get("Properties", {}).get("HostedRotationLambda") for r in resources.values()):
        template["Transform"] = TRANSFORM  # the source database's hosted rotation function (template_rds.py)
    apply_controls(template, target)
    return template


def template_body(template: dict[str, Any]) -> str:
    """The template as stable JSON text (sorted keys), so equal templates compare equal."""
    return json.dumps(template, indent=2, sort_keys=True) + "\n"


def write_template(template: dict[str, Any], path: Path) -> Path:
    """Write the template where cfn-lint and reviewers can read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template_body(template), encoding="utf-8")
    return path
