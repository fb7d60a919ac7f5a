"""The source PostgreSQL database (RDS) of the brief's flow: raw CSVs → RDS → Glue → bronze.

Encrypted with the data key, never public, in the database subnets, TLS enforced by its
parameter group (``rds.force_ssl``), its master password generated, stored and rotated by RDS
itself (``ManageMasterUserPassword``: the password exists nowhere else), deletion protection,
seven days of backups, and a final snapshot when the stack deletes or replaces it. It joins the
database security groups of the deploy settings: the groups the Glue connections use, whose
self-referencing rule (an AWS Glue requirement) lets the jobs, and only what shares the group,
reach port 5432.

Created only when ``deploy.source.create`` is true (the aws profile's default); otherwise the
source database is one you run, named by ``deploy.source.host``.
"""

from __future__ import annotations

from typing import Any

from infra.target import Target
from infra.template_iam import KEY_ARN, sub

ENGINE_VERSION = "17.6"
FAMILY = "postgres17"
INSTANCE_CLASS = "db.t4g.medium"
STORAGE_GB = 50
BACKUP_DAYS = 7
MASTER_USER = "medallion_admin"


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
            "MasterUsername": MASTER_USER, "ManageMasterUserPassword": True,
            "MasterUserSecret": {"KmsKeyId": KEY_ARN},
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
        "SourceDbSubnetGroup": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
            "DBSubnetGroupDescription": f"{target.prefix}: the database subnets",
            "SubnetIds": list(cfg.subnet_ids)}},
        "SourceDbParameterGroup": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
            "Description": f"{target.prefix}: TLS only, connections logged", "Family": FAMILY,
            "Parameters": {"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1"}}},
        "SourceDbMonitoringRole": _monitoring_role(target),
        "SourceDb": instance,
    }


def rds_part(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """The source database and its outputs (endpoint, managed master secret), when the stack owns it."""
    source = target.config.source
    if source is None or not source.create:
        return {}, {}
    outputs = {
        "SourceDbEndpoint": {"Description": "host of the source PostgreSQL",
                             "Value": {"Fn::GetAtt": ["SourceDb", "Endpoint.Address"]}},
        "SourceDbSecretArn": {"Description": "master credentials of the source database (managed and rotated by RDS)",
                              "Value": {"Fn::GetAtt": ["SourceDb", "MasterUserSecret.SecretArn"]}}}
    return rds_resources(target), outputs

