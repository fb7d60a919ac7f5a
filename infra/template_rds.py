"""The source PostgreSQL database (RDS) of the brief's flow: raw CSVs → RDS → Glue → bronze.

Encrypted with the data key, never public, in the database subnets, TLS enforced by its
parameter group (``rds.force_ssl``), deletion protection, seven days of backups, and a final
snapshot when the stack deletes or replaces it. It joins the database security groups of the
deploy settings: the groups the Glue connections use, whose self-referencing rule (an AWS Glue
requirement) lets the jobs, and only what shares the group, reach port 5432.

Its master secret is managed by the stack and Secrets Manager: generated (nobody types it),
encrypted with the data key, attached to the instance (host, port, dbname added) and rotated
every 30 days by AWS's hosted PostgreSQL single-user rotation function, which runs in the
database subnets and reaches Secrets Manager through the interface endpoint. It is the ONE
source secret: named as the profile's ``source.password`` names it (``medallion/rds_source``,
field ``password``), read by the engine, by the Glue connection (``SECRET_ID``) and covered by
the job role's project-secrets statement. Why not RDS's own ``ManageMasterUserPassword``: RDS
names that secret itself (``rds!db-…``), outside the project's prefix, so neither the profile
nor the Glue connection could name it before it exists (docs/design.md). The master user is
the profile's ``source.user``: the source database is the pipeline's own copy of the raw files,
and the ETL (source load, bronze) is its only client.

Created only when ``deploy.source.create`` is true (the aws profile's default); otherwise the
source database is one you run, named by ``deploy.source.host``, and the secret is yours to create.
"""

from __future__ import annotations

import json
from typing import Any

from infra.target import Target
from infra.template_iam import KEY_ARN, sub

ENGINE_VERSION = "17.6"
FAMILY = "postgres17"
INSTANCE_CLASS = "db.t4g.medium"
STORAGE_GB = 50
BACKUP_DAYS = 7
ROTATION_DAYS = 30
TRANSFORM = "AWS::SecretsManager-2020-07-23"  # expands HostedRotationLambda into AWS's rotation function


def _monitoring_role(target: Target) -> dict[str, Any]:
    """Enhanced Monitoring's role: what AWS's AmazonRDSEnhancedMonitoringRole allows, inline."""
    groups = "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:RDS*"
    return {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": f"{target.prefix}-rds-monitoring",
        "Description": "Lets RDS Enhanced Monitoring write OS metrics of the source database",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "monitoring.rds.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]},
        "Policies": [{"PolicyName": "enhanced-monitoring", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Sid": "OsMetricsLogGroup", "Effect": "Allow",
             "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"], "Resource": [sub(groups)]},
            {"Sid": "OsMetricsStreams", "Effect": "Allow",
             "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
             "Resource": [sub(groups + ":log-stream:*")]}]}}]}}


def rds_resources(target: Target) -> dict[str, Any]:
    """Subnet group, parameter group, monitoring role and the instance."""
    cfg = target.config
    database = cfg.source.database if cfg.source else "source"
    instance: dict[str, Any] = {
        "Type": "AWS::RDS::DBInstance",
        "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot",
        "Properties": {
            "DBInstanceIdentifier": f"{target.prefix}-source",
            "Engine": "postgres", "EngineVersion": ENGINE_VERSION, "DBInstanceClass": INSTANCE_CLASS,
            "DBName": database, "Port": "5432",
            "AllocatedStorage": str(STORAGE_GB), "MaxAllocatedStorage": STORAGE_GB * 4, "StorageType": "gp3",
            "StorageEncrypted": True, "KmsKeyId": KEY_ARN,
            "MasterUsername": {"Fn::Sub": "{{resolve:secretsmanager:${SourceDbSecret}:SecretString:username}}"},
            "MasterUserPassword": {"Fn::Sub": "{{resolve:secretsmanager:${SourceDbSecret}:SecretString:password}}"},
            "PubliclyAccessible": False, "MultiAZ": True,
            "DBSubnetGroupName": {"Ref": "SourceDbSubnetGroup"},
            "VPCSecurityGroups": list(cfg.security_group_ids),
            "DBParameterGroupName": {"Ref": "SourceDbParameterGroup"},
            "DeletionProtection": True, "BackupRetentionPeriod": BACKUP_DAYS, "CopyTagsToSnapshot": True,
            "AutoMinorVersionUpgrade": True, "EnableIAMDatabaseAuthentication": True,
            "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
            "EnablePerformanceInsights": True, "PerformanceInsightsKMSKeyId": KEY_ARN,
            "PerformanceInsightsRetentionPeriod": 7,
            "MonitoringInterval": 60, "MonitoringRoleArn": {"Fn::GetAtt": ["SourceDbMonitoringRole", "Arn"]},
        },
    }
    return {
        **source_secret_resources(target),
        "SourceDbSubnetGroup": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
            "DBSubnetGroupDescription": f"{target.prefix}: the database subnets",
            "SubnetIds": list(cfg.subnet_ids)}},
        "SourceDbParameterGroup": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
            "Description": f"{target.prefix}: TLS only, connections logged", "Family": FAMILY,
            "Parameters": {"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1"}}},
        "SourceDbMonitoringRole": _monitoring_role(target),
        "SourceDb": instance,
    }


def master_user(target: Target) -> str:
    """The master user of the stack's source database: the user the profile's source connects as."""
    source = target.project.profile.source
    return source.user if source is not None else "medallion_etl"


def source_secret_resources(target: Target) -> dict[str, Any]:
    """The source secret, its attachment to the instance and its rotation (hosted, in the subnets)."""
    cfg = target.config
    return {
        "SourceDbSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Name": target.secret_name(target.source_secret), "KmsKeyId": KEY_ARN,
            "Description": "Master credentials of the source PostgreSQL (the ETL's login); rotated every "
                           f"{ROTATION_DAYS} days",
            "GenerateSecretString": {"SecretStringTemplate": json.dumps({"username": master_user(target)}),
                                     "GenerateStringKey": "password", "PasswordLength": 40,
                                     "ExcludePunctuation": True, "RequireEachIncludedType": True}}},
        "SourceDbSecretAttachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
            "SecretId": {"Ref": "SourceDbSecret"}, "TargetId": {"Ref": "SourceDb"},
            "TargetType": "AWS::RDS::DBInstance"}},
        "SourceDbSecretRotation": {
            "Type": "AWS::SecretsManager::RotationSchedule", "DependsOn": ["SourceDbSecretAttachment"],
            "Properties": {
                "SecretId": {"Ref": "SourceDbSecret"},
                "HostedRotationLambda": {
                    "RotationType": "PostgreSQLSingleUser", "RotationLambdaName": f"{target.prefix}-rotate-source-db",
                    "KmsKeyArn": KEY_ARN, "VpcSubnetIds": ",".join(cfg.subnet_ids),
                    "VpcSecurityGroupIds": ",".join(cfg.security_group_ids), "ExcludeCharacters": "\"@/\\'"},
                "RotationRules": {"ScheduleExpression": f"rate({ROTATION_DAYS} days)"}}},
    }


def rds_part(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """The source database and its outputs (endpoint, managed master secret), when the stack owns it."""
    source = target.config.source
    if source is None or not source.create:
        return {}, {}
    outputs = {
        "SourceDbEndpoint": {"Description": "host of the source PostgreSQL",
                             "Value": {"Fn::GetAtt": ["SourceDb", "Endpoint.Address"]}},
        "SourceDbSecretArn": {"Description": "credentials of the source database (generated and rotated by "
                                             "Secrets Manager; the profile's source secret)",
                              "Value": {"Ref": "SourceDbSecret"}}}
    return rds_resources(target), outputs

