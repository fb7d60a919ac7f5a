"""The Drive ingestion function in the platform stack: Lambda, its role, schedule and dead letters.

Present only when the profile's ``deploy.drive`` is set. The function's code is a
content-addressed artefact: its key carries the digest of its sources and pinned requirements,
so a changed handler is a changed template (CloudFormation updates the function) and an
unchanged one changes nothing. Its role may read the one secret, write only under the Drive
prefix of the raw bucket, use the one key, publish to the alerts topic and start the one state
machine; nothing else.

The expected CSV headers are derived from the bronze specs (a ``read`` step's file name and
declared columns), so a file whose header does not match what bronze reads is refused before
it reaches the raw bucket.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from botocore.exceptions import ClientError

from infra.target import Target
from infra.template_iam import KEY_ARN, sub
from infra.template_orchestration import state_machine_arn  # the pipeline's state machine (h15)
from engine.errors import RunError, UsageError
from engine.plan.graph import load_all
from engine.run.preflight import glob_alternatives

DRIVE_DIR = Path(__file__).with_name("drive")
REQUIREMENTS = DRIVE_DIR / "requirements.txt"
RUNTIME = "python3.11"
# Lambda's python3.11 runs on Amazon Linux 2 (glibc 2.26): wheels must be manylinux2014 or older
PLATFORM = ["--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.11",
            "--only-binary=:all:"]


def expected_headers(target: Target) -> dict[str, list[str]]:
    """File name -> the columns its bronze spec reads (from ``read`` steps with declared columns).

    When the deployed profile's bronze reads the source database instead (the files are loaded
    into RDS first), the headers come from the default profile's file-reading bronze specs: the
    same files, the same columns.
    """
    from engine.spec.project import load_project

    project = target.project
    out = _headers(project)
    if not out:
        out = _headers(load_project(project.root, env={}))
    return dict(sorted(out.items()))


def _headers(project: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for loaded in load_all(project.root, project.spec_dirs, project.variables):
        if loaded.spec.layer != "bronze":
            continue
        for step in loaded.spec.steps:
            if step.type == "read" and getattr(step, "columns", None):
                # a path with {a,b} names the file and a folder of daily files: Drive delivers the file
                for one in glob_alternatives(str(step.path)):
                    name = PurePosixPath(one).name
                    if not any(ch in name for ch in "*?[{}"):
                        out[name] = list(step.columns)
    return out


def _sources() -> list[tuple[str, bytes]]:
    files = [Path(__file__).with_name("__init__.py"), *sorted(DRIVE_DIR.glob("*.py")), REQUIREMENTS]
    return [(str(p.relative_to(DRIVE_DIR.parent.parent)), p.read_bytes()) for p in files]


def code_digest() -> str:
    """Digest of what the zip is built from (handler sources + pinned requirements)."""
    h = hashlib.sha256()
    for name, data in _sources():
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def code_key(target: Target) -> str:
    """The zip's key in the artefacts bucket: changes exactly when its sources change."""
    return f"{target.artefact_prefix}/drive-lambda-{code_digest()[:16]}.zip"


def build_zip(pip: list[str] | None = None, find_links: Path | None = None) -> bytes:
    """The function's zip: infra/drive/ plus its requirements installed for the Lambda platform.

    pip resolves the pinned wheels for manylinux2014 x86_64 (not this machine's), so the
    cryptography build google-auth signs with loads on Lambda's Amazon Linux 2. With
    ``find_links`` (an operator's wheelhouse) pip reads only that folder.
    """
    index = ["--no-index", "--find-links", str(find_links)] if find_links is not None else []
    with tempfile.TemporaryDirectory(prefix="drive-zip-") as tmp:
        site = Path(tmp) / "site"
        done = subprocess.run([*(pip or [sys.executable, "-m", "pip"]), "install", "--quiet", "--no-compile",
                               "--target", str(site), *PLATFORM, *index, "-r", str(REQUIREMENTS)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip install failed"])[-1]
            raise UsageError(f"could not build the Drive function's zip ({last}); the deploying machine must "
                             "reach the package index, or give --wheelhouse")
        entries = [(str(p.relative_to(site)), p.read_bytes()) for p in sorted(site.rglob("*"))
                   if p.is_file() and "__pycache__" not in p.parts]
        entries += [(n, d) for n, d in _sources() if n.endswith(".py")]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def function_name(target: Target) -> str:
    return f"{target.prefix}-drive-ingest"


def _role(target: Target) -> dict[str, Any]:
    drive = target.config.drive
    assert drive is not None
    raw = target.bucket("raw")
    name = function_name(target)
    statements = [
        {"Sid": "OwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": sub(f"arn:aws:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{name}:*")},
        {"Sid": "ListDrivePrefix", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{raw}",
         "Condition": {"StringLike": {"s3:prefix": [f"{drive.prefix}/*"]}}},
        {"Sid": "WriteDrivePrefix", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{raw}/{drive.prefix}/*"},
        {"Sid": "UseDataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
         "Resource": KEY_ARN},
        {"Sid": "ReadServiceAccountKey", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": sub("arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
                         f"{target.secret_name(drive.secret)}-??????")},
        {"Sid": "Alert", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": {"Ref": "AlertsTopic"}},
        {"Sid": "StartPipeline", "Effect": "Allow", "Action": ["states:StartExecution"],
         "Resource": state_machine_arn(target)},
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": ["sqs:SendMessage"],
         "Resource": {"Fn::GetAtt": ["DriveDeadLetterQueue", "Arn"]}},
        {"Sid": "Tracing", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
         "Resource": "*"},
    ]
    return {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": name,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "drive-ingest", "PolicyDocument": {"Version": "2012-10-17",
                                                                       "Statement": statements}}]}}


def drive_resources(target: Target) -> dict[str, Any]:
    """The function, its role, log group, schedule, invoke permission and dead-letter queue ({} if unset)."""
    drive = target.config.drive
    if drive is None:
        return {}
    name = function_name(target)
    environment = {
        "DRIVE_FOLDER_ID": drive.folder_id, "RAW_BUCKET": target.bucket("raw"), "RAW_PREFIX": drive.prefix,
        "DRIVE_SECRET_ID": target.secret_name(drive.secret), "KMS_KEY_ID": KEY_ARN,
        "STATE_MACHINE_ARN": state_machine_arn(target), "ALERTS_TOPIC_ARN": {"Ref": "AlertsTopic"},
        "EXPECTED_HEADERS": json.dumps(expected_headers(target), separators=(",", ":")),
    }
    skip = [{"id": "CKV_AWS_117", "comment": "Drive is on the internet; outside a VPC the function needs no NAT "
                                             "gateway, and its role reaches only S3, KMS, SNS, Step Functions"}]
    return {
        "DriveDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": f"{name}-dead-letters", "KmsMasterKeyId": {"Ref": "DataKey"},
            "MessageRetentionPeriod": 1209600}},
        "DriveFunctionRole": _role(target),
        "DriveFunctionLogs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                              "UpdateReplacePolicy": "Retain",  # the key admits /aws/lambda/<prefix>-* groups
                              "Properties": {"LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": 90,
                                             "KmsKeyId": KEY_ARN}},
        "DriveFunction": {"Type": "AWS::Lambda::Function", "DependsOn": ["DriveFunctionLogs"],
                          "Metadata": {"checkov": {"skip": skip}},
                          "Properties": {
            "FunctionName": name, "Description": f"copies changed files of Drive folder {drive.folder_id} "
                                                 "to the raw bucket and starts the pipeline",
            "Runtime": RUNTIME, "Handler": "infra.drive.handler.handler", "Architectures": ["x86_64"],
            "Code": {"S3Bucket": target.bucket("artefacts"), "S3Key": code_key(target)},
            "Role": {"Fn::GetAtt": ["DriveFunctionRole", "Arn"]},
            "Timeout": drive.timeout_seconds, "MemorySize": drive.memory_mb,
            "ReservedConcurrentExecutions": 1,  # two runs must never copy the same folder at once
            "Environment": {"Variables": environment}, "KmsKeyArn": KEY_ARN,
            "TracingConfig": {"Mode": "Active"},
            "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": ["DriveDeadLetterQueue", "Arn"]}}}},
        "DriveSchedule": {"Type": "AWS::Events::Rule", "Properties": {
            "Name": f"{name}-schedule", "Description": "runs the Drive ingestion", "State": "ENABLED",
            "ScheduleExpression": drive.schedule,
            "Targets": [{"Id": "drive-ingest", "Arn": {"Fn::GetAtt": ["DriveFunction", "Arn"]},
                         "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}}]}},
        "DriveSchedulePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": "DriveFunction"}, "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": ["DriveSchedule", "Arn"]}}},
    }


def drive_code(target: Target, say: Callable[[str], None], folder: Path | None = None,
               wheelhouse: Path | None = None) -> bytes:
    """The zip for the current sources, built once per digest (``<folder>/drive-lambda-<digest>.zip``;
    default folder build/deploy, the deploy passes the template's folder)."""
    cache = (folder or target.project.path("build/deploy")) / f"drive-lambda-{code_digest()[:16]}.zip"
    if not cache.is_file():
        say("building  Drive function zip (pip, manylinux2014 x86_64, CPython 3.11)")
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(build_zip(find_links=wheelhouse))
    return cache.read_bytes()


def stage_code(s3: Any, target: Target, say: Callable[[str], None], code: bytes | None = None) -> bool:
    """Put the function's zip in the artefacts bucket; False when that bucket does not exist yet."""
    bucket, key = target.bucket("artefacts"), code_key(target)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    try:
        s3.head_object(Bucket=bucket, Key=key)
        say(f"unchanged artefact s3://{bucket}/{key}")
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=code if code is not None else drive_code(target, say),
                  ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=f"alias/{target.prefix}", BucketKeyEnabled=True, Metadata={"sha256": code_digest()})
    say(f"uploaded  artefact s3://{bucket}/{key}")
    return True


def without_drive(template: dict[str, Any]) -> dict[str, Any]:
    """The template minus the Drive resources (the first deploy, before the code bucket exists)."""
    out = dict(template)
    out["Resources"] = {k: v for k, v in template["Resources"].items() if not k.startswith("Drive")}
    return out


def deploy_platform(aws: dict[str, Any], target: Target, template: dict[str, Any], say: Callable[[str], None],
                    *, poll_seconds: float = 10, code: bytes | None = None) -> str:
    """Deploy the platform stack, with the function's code in place before the function is made.

    The code lives in the stack's own artefacts bucket, so the very first deploy runs twice:
    once without the Drive resources (making the bucket and the key), then, with the zip
    uploaded, the whole template. Later deploys upload a changed zip first, then update. A
    template too large to send inline goes through the same bucket (``infra/stack.py``).
    """
    from infra.stack import deploy_template

    name = target.config.stack_name
    if "DriveFunction" in template["Resources"] and not stage_code(aws["s3"], target, say, code):
        say(f"stack {name}: first deploy without the Drive function (its code bucket comes with this stack)")
        deploy_template(aws, target, without_drive(template), say, poll_seconds=poll_seconds)
        if not stage_code(aws["s3"], target, say, code):
            raise RunError(f"the stack made no bucket {target.bucket('artefacts')}; check the stack's events")
    return deploy_template(aws, target, template, say, poll_seconds=poll_seconds)
