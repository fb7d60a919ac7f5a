"""The IAM roles of the platform stack, each allowed only what its work needs.

The Glue job role may read and write the lake, read the raw and artefact buckets, write its
temporary files and logs, use the one KMS key, read the project's secrets and attach to the
database subnets, and register committed versions in the project's Glue databases. No
statement allows every action, or any action of a whole service; actions
that AWS cannot scope to a resource (EC2 describes, metric data) are the only ones on ``*``.
"""

from __future__ import annotations

from typing import Any

from infra.target import Target

KEY_ARN = {"Fn::GetAtt": ["DataKey", "Arn"]}


def sub(text: str) -> dict[str, str]:
    """``Fn::Sub`` for account/region-qualified ARNs."""
    return {"Fn::Sub": text}


def _bucket_arns(target: Target, kind: str, prefix: str = "*") -> list[str]:
    name = target.bucket(kind)
    return [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/{prefix}"]


def _allow(sid: str, actions: list[str], resources: Any, condition: dict | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def job_policy(target: Target) -> dict[str, Any]:
    """What one Glue run of one spec needs, and nothing more."""
    lake = target.bucket("lake")
    statements = [
        _allow("ListProjectBuckets", ["s3:ListBucket", "s3:GetBucketLocation"],
               [f"arn:aws:s3:::{target.bucket(k)}" for k in ("raw", "lake", "artefacts", "logs")]),
        _allow("ReadRaw", ["s3:GetObject"], [f"arn:aws:s3:::{target.bucket('raw')}/*"]),
        _allow("ReadWriteLake", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [f"arn:aws:s3:::{lake}/*"]),
        _allow("ReadArtefacts", ["s3:GetObject"],
               [f"arn:aws:s3:::{target.bucket('artefacts')}/{target.artefact_prefix}/*"]),
        _allow("WriteTempAndLogs", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
               [f"arn:aws:s3:::{target.bucket('artefacts')}/{target.prefix}/tmp/*",
                f"arn:aws:s3:::{target.bucket('logs')}/{target.prefix}/*"]),
        _allow("UseDataKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], [KEY_ARN]),
        _allow("ReadProjectSecrets", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
               [sub("arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                    + target.secret_name("") + "*")]),
        _allow("WriteJobLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                "logs:AssociateKmsKey"],
               [sub("arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*")]),
        _allow("ReadOwnConnections", ["glue:GetConnection", "glue:GetConnections"],
               [sub("arn:aws:glue:${AWS::Region}:${AWS::AccountId}:catalog"),
                sub("arn:aws:glue:${AWS::Region}:${AWS::AccountId}:connection/" + target.prefix + "-*")]),
        _allow("AttachToDatabaseSubnets", ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                                           "ec2:CreateTags", "ec2:DeleteTags"],
               [sub("arn:aws:ec2:${AWS::Region}:${AWS::AccountId}:network-interface/*"),
                sub("arn:aws:ec2:${AWS::Region}:${AWS::AccountId}:subnet/*"),
                sub("arn:aws:ec2:${AWS::Region}:${AWS::AccountId}:security-group/*")]),
        _allow("DescribeNetwork", ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups",
                                   "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute",
                                   "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables"], "*"),
        _allow("PublishJobMetrics", ["cloudwatch:PutMetricData"], "*",
               {"StringEquals": {"cloudwatch:namespace": "Glue"}}),
    ]
    catalog = catalog_statement(target)
    if catalog is not None:
        statements.append(catalog)
    return {"Version": "2012-10-17", "Statement": statements}


CATALOG_ACTIONS = ["glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable",
                   "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchDeletePartition"]


def catalog_statement(target: Target) -> dict[str, Any] | None:
    """What the catalog registration (engine/io/catalog.py) calls, on the project's databases only.

    Glue authorises a table call on the catalog, the database and the table; a database call on
    the catalog and the database. So: the account's catalog, ``<prefix>*`` databases and their
    tables — never another project's.
    """
    catalog = target.project.profile.catalog
    if catalog is None:
        return None
    base = "arn:aws:glue:${AWS::Region}:${AWS::AccountId}:"
    prefix = catalog.database_prefix
    return _allow("RegisterLakeVersionsInCatalog", CATALOG_ACTIONS,
                  [sub(base + "catalog"), sub(f"{base}database/{prefix}*"), sub(f"{base}table/{prefix}*/*")])


def job_role(target: Target) -> dict[str, Any]:
    """The role the one Glue job runs as (trusted by Glue in this account only)."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": target.job_role_name,
            "Description": "Runs one medallion spec per Glue job run",
            "AssumeRolePolicyDocument": _trust("glue.amazonaws.com"),
            "Policies": [{"PolicyName": "run-specs", "PolicyDocument": job_policy(target)}],
        },
    }


PUBLISHED_LAYERS = ("silver", "gold", "quarantine")  # what the warehouse publishes (engine/io/sqltypes.py)


def redshift_read_prefixes(target: Target) -> list[str]:
    """Key prefixes Redshift COPYs from: its staging prefix (manifests, a laptop's uploads) and the
    committed versions of the published layers on the lake — COPY reads those objects directly
    (docs/design.md), so no data passes through the job. Bronze (raw card numbers) is not among them."""
    staging = target.warehouse.staging_prefix if target.warehouse else "redshift-staging"
    lake = target.lake.prefix.strip("/")
    return [f"{staging}/"] + [f"{lake}/{layer}/" if lake else f"{layer}/" for layer in PUBLISHED_LAYERS]


def redshift_role(target: Target) -> dict[str, Any]:
    """The role Redshift assumes to COPY Parquet from the lake bucket (read only, published layers only)."""
    bucket = target.bucket("lake")
    prefixes = redshift_read_prefixes(target)
    policy = {"Version": "2012-10-17", "Statement": [
        _allow("ListCopyPrefixes", ["s3:ListBucket"], [f"arn:aws:s3:::{bucket}"],
               {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}),
        _allow("LocateBucket", ["s3:GetBucketLocation"], [f"arn:aws:s3:::{bucket}"]),
        _allow("ReadStagingAndCommittedVersions", ["s3:GetObject"], [f"arn:aws:s3:::{bucket}/{p}*" for p in prefixes]),
        _allow("DecryptLakeObjects", ["kms:Decrypt", "kms:DescribeKey"], [KEY_ARN]),
    ]}
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": f"{target.prefix}-redshift-copy",
            "Description": "Lets Redshift Serverless COPY Parquet from the lake's published layers",
            "AssumeRolePolicyDocument": _trust("redshift.amazonaws.com"),
            "Policies": [{"PolicyName": "copy-from-staging", "PolicyDocument": policy}],
        },
    }


def _trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}
