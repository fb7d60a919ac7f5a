"""Security controls laid over the platform template: access logs, endpoint policy, Redshift, retention.

Applied after the base resources exist (``apply_controls``), so the base template stays a plain
list of what the platform is and this module says how it is guarded:

- every bucket sends S3 server access logs to ``AccessLogsBucket``; that bucket is encrypted
  with SSE-S3, because S3 log delivery cannot write to a bucket whose default encryption is
  SSE-KMS (Amazon S3 User Guide, "Enabling Amazon S3 server access logging": "the destination
  bucket ... can use SSE-S3 ... SSE-KMS is not supported"), and its policy lets only the S3
  logging service of this account write, only from the project's buckets;
- the S3 gateway endpoint of the database subnets reaches only the project's buckets and the
  AWS-owned buckets the jobs and the dashboards need (``AWS_OWNED_BUCKETS``, with sources);
- Redshift requires TLS (``require_ssl``); its admin password is generated into its own secret
  (used only by the rotation function), and the ETL connects as its own user with its own
  generated secret (``infra/template_rotation.py`` creates and rotates both users);
- the data key, the card HMAC key, the Redshift namespace and the source database survive a
  stack deletion or replacement (Retain / Snapshot).
"""

from __future__ import annotations

import json
from typing import Any

from infra.target import Target
from infra.template_iam import KEY_ARN, sub
from infra.template_meta import skip
from infra.template_rotation import admin_user, check_rotation, exempt_from_rotation

ACCESS_LOGS = "AccessLogsBucket"
# AWS-owned buckets read through the S3 gateway endpoint (read-only, objects only):
AWS_OWNED_BUCKETS = {
    # Amazon ECR stores image layers here; Fargate tasks in private subnets pull through the S3
    # gateway endpoint (Amazon ECR User Guide, "Amazon ECR interface VPC endpoints (AWS
    # PrivateLink)", section "Minimum Amazon S3 bucket permissions for Amazon ECR").
    "EcrImageLayers": "arn:aws:s3:::prod-${AWS::Region}-starport-layer-bucket/*",
    # AWS Glue's own library and bootstrap assets for its job runtimes (AWS Glue Developer
    # Guide, development endpoints / interactive sessions: s3://aws-glue-jes-prod-<region>-assets).
    "GlueAssets": "arn:aws:s3:::aws-glue-jes-prod-${AWS::Region}-assets/*",
}
PROJECT_BUCKET_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
                          "s3:GetBucketLocation", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
                          "s3:ListBucketMultipartUploads"]
RETAINED = ("DataKey", "CardHmacKeySecret", "RedshiftNamespace")


def project_bucket_logicals(template: dict[str, Any]) -> list[str]:
    """The project's data buckets (every bucket except the access-log bucket itself)."""
    return sorted(k for k, v in template["Resources"].items()
                  if v["Type"] == "AWS::S3::Bucket" and k != ACCESS_LOGS)


def _access_logs_bucket(target: Target) -> dict[str, Any]:
    bucket: dict[str, Any] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": target.bucket("access-logs"),
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [
                {"Id": "expire-access-logs", "Status": "Enabled", "ExpirationInDays": 365,
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]},
        },
    }
    skip(bucket, "CKV_AWS_18", "this is the access-log destination; logging it into itself would loop")
    return bucket


def _access_logs_policy(target: Target, sources: list[str]) -> dict[str, Any]:
    arn = {"Fn::GetAtt": [ACCESS_LOGS, "Arn"]}
    objects = {"Fn::Join": ["", [arn, "/*"]]}
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": {"Ref": ACCESS_LOGS}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "S3LogDeliveryFromProjectBuckets", "Effect": "Allow",
             "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": {"Fn::Join": ["", [arn, f"/{target.prefix}/*"]]},
             "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                           "ArnLike": {"aws:SourceArn": [{"Fn::GetAtt": [s, "Arn"]} for s in sources]}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ]}},
    }


def _endpoint_policy(target: Target, logicals: list[str]) -> dict[str, Any]:
    buckets = [{"Fn::GetAtt": [b, "Arn"]} for b in logicals]
    objects = [{"Fn::Join": ["", [{"Fn::GetAtt": [b, "Arn"]}, "/*"]]} for b in logicals]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ProjectBuckets", "Effect": "Allow", "Principal": "*", "Action": PROJECT_BUCKET_ACTIONS,
         "Resource": buckets + objects},
        *({"Sid": sid, "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": [sub(arn)]}
          for sid, arn in AWS_OWNED_BUCKETS.items()),
    ]}


def _redshift(resources: dict[str, Any], target: Target) -> None:
    namespace = resources["RedshiftNamespace"]
    props = namespace["Properties"]
    props["AdminUsername"] = admin_user(target)
    props["AdminUserPassword"] = {"Fn::Sub": "{{resolve:secretsmanager:${RedshiftAdminSecret}:SecretString:password}}"}
    resources["RedshiftAdminSecret"] = {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Name": target.secret_name("redshift_admin"), "KmsKeyId": KEY_ARN,
        "Description": "Redshift namespace admin: used only by the rotation function that manages the users",
        "GenerateSecretString": {"SecretStringTemplate": json.dumps({"username": admin_user(target)}),
                                 "GenerateStringKey": "password", "PasswordLength": 64,
                                 "ExcludePunctuation": True, "RequireEachIncludedType": True}}}
    namespace["DeletionPolicy"] = namespace["UpdateReplacePolicy"] = "Retain"
    workgroup = resources["RedshiftWorkgroup"]["Properties"]
    params = [p for p in workgroup.get("ConfigParameters", []) if p["ParameterKey"] != "require_ssl"]
    workgroup["ConfigParameters"] = sorted(params + [{"ParameterKey": "require_ssl", "ParameterValue": "true"}],
                                           key=lambda p: p["ParameterKey"])


def _key_for_log_groups(key: dict[str, Any], target: Target) -> None:
    """Let CloudWatch Logs encrypt the stack's own log groups (rotation function, dashboards, image build)."""
    groups = [f"arn:aws:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{name}"
              for name in (f"/aws/lambda/{target.prefix}-*", f"/ecs/{target.prefix}-*", f"/aws/codebuild/{target.prefix}-*")]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "StackLogGroups"]
    statements.append({
        "Sid": "StackLogGroups", "Effect": "Allow", "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": "*", "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [sub(g) for g in groups]}}})


def apply_controls(template: dict[str, Any], target: Target) -> None:
    """Add access logging, the endpoint policy, Redshift TLS/own-user and retention to ``template``."""
    resources = template["Resources"]
    logicals = project_bucket_logicals(template)
    for logical in logicals:
        resources[logical]["Properties"]["LoggingConfiguration"] = {
            "DestinationBucketName": {"Ref": ACCESS_LOGS}, "LogFilePrefix": f"{target.prefix}/{logical}/"}
    resources[ACCESS_LOGS] = _access_logs_bucket(target)
    resources[f"{ACCESS_LOGS}Policy"] = _access_logs_policy(target, logicals)
    resources["S3GatewayEndpoint"]["Properties"]["PolicyDocument"] = _endpoint_policy(target, logicals)
    if "RedshiftNamespace" in resources:
        _redshift(resources, target)
    for logical in RETAINED:
        if logical in resources:
            resources[logical]["DeletionPolicy"] = resources[logical]["UpdateReplacePolicy"] = "Retain"
    _key_for_log_groups(resources["DataKey"], target)
    exempt_from_rotation(resources)
    check_rotation(template)
    template["Outputs"][ACCESS_LOGS] = {"Description": "S3 server access logs of every project bucket",
                                        "Value": {"Ref": ACCESS_LOGS}}
