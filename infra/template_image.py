"""The dashboards image: its ECR repository and the CodeBuild project that builds it in the account.

The image is built from ``infra/Dockerfile`` and a build context the deploy uploads to the
artefacts bucket (the Glue job's engine wheel, the dashboards wheel, their dependency wheels,
the project's config and specs). Its tag is the digest of that context, so an unchanged project
keeps its image and tags never move (the repository refuses to overwrite a tag). CodeBuild
builds it where the deploying machine has no Docker daemon.

Which image the service runs is the stack parameter ``DashboardsImageTag``, not a value baked
into the template: it is ``none`` until ``medallion deploy`` has the image in ECR
(infra/image_build.py), and while it is ``none`` the service's desired count is 0, so a first
deploy never leaves ECS retrying tasks whose image does not exist yet. Later stack updates keep
the parameter's value (infra/stack.py), so the running image stays until the next one is pushed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from infra.target import Target
from infra.template_iam import KEY_ARN, sub
from infra.template_meta import skip

REPOSITORY = "DashboardsRepository"
TAG_PARAMETER = "DashboardsImageTag"
NO_IMAGE = "none"
PUSHED = "DashboardsImagePushed"
DOCKERFILE = Path(__file__).with_name("Dockerfile")
CONTEXT_FILE = "dashboards-image-context.zip"
# project files the dashboards read besides medallion.yaml and the specs (the Glue job needs neither)
DASHBOARD_FILES = ("vocabulary.yaml",)
BUILDSPEC = """version: 0.2
env:
  shell: bash
phases:
  pre_build:
    on-failure: ABORT
    commands:
      - test -n "$IMAGE_TAG" || { echo "start the build with IMAGE_TAG (medallion deploy does)"; exit 1; }
      - aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin ${REPOSITORY_URI%%/*}
  build:
    on-failure: ABORT
    commands:
      - |
        if aws ecr describe-images --repository-name ${REPOSITORY_URI#*/} --image-ids imageTag=$IMAGE_TAG >/dev/null 2>&1; then
          echo "image $IMAGE_TAG is already in the repository (tags are immutable)"
        else
          docker build --pull -f infra/Dockerfile -t $REPOSITORY_URI:$IMAGE_TAG . && docker push $REPOSITORY_URI:$IMAGE_TAG
        fi
"""


def image_tag(target: Target) -> str:
    """The image tag: digest of the Dockerfile and of what the image installs (content-addressed:
    the wheels' bytes, the pinned dependency list, the project's config and specs)."""
    from infra.artefacts import build_wheel, project_archive
    from infra.wheels import dashboards_wheel, image_requirements

    root = target.project.root
    digest = hashlib.sha256()
    pins = "\n".join(image_requirements()).encode()
    extra = [(root / name).read_bytes() for name in DASHBOARD_FILES if (root / name).is_file()]
    for part in (DOCKERFILE.read_bytes(), build_wheel(root), dashboards_wheel(root), project_archive(target), pins,
                 *extra):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def image_uri() -> dict[str, Any]:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<DashboardsImageTag>``: the image the service runs."""
    return {"Fn::Join": ["", [{"Fn::GetAtt": [REPOSITORY, "RepositoryUri"]}, ":", {"Ref": TAG_PARAMETER}]]}


def image_sections(resources: dict[str, Any]) -> dict[str, Any]:
    """The template's ``Parameters`` and ``Conditions`` of the image (none without the dashboards)."""
    if REPOSITORY not in resources:
        return {}
    return {"Parameters": {TAG_PARAMETER: {
                "Type": "String", "Default": NO_IMAGE, "AllowedPattern": f"^({NO_IMAGE}|[0-9a-f]{{16}})$",
                "Description": "tag of the dashboards image the service runs; set by medallion deploy once "
                               f"the image is in ECR ({NO_IMAGE}: not built yet, the service runs no task)"}},
            "Conditions": {PUSHED: {"Fn::Not": [{"Fn::Equals": [{"Ref": TAG_PARAMETER}, NO_IMAGE]}]}}}


def _build_role(target: Target) -> dict[str, Any]:
    group = sub(f"arn:aws:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/codebuild/{target.prefix}-dashboards-image:*")
    context = f"arn:aws:s3:::{target.bucket('artefacts')}/{target.artefact_prefix}/*"
    statements = [
        {"Sid": "EcrSignIn", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "PushImage", "Effect": "Allow", "Resource": [{"Fn::GetAtt": [REPOSITORY, "Arn"]}],
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages",
                    "ecr:GetDownloadUrlForLayer"]},
        {"Sid": "ReadBuildContext", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
         "Resource": [context]},
        {"Sid": "WriteBuildLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [group]},
        {"Sid": "UseDataKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
         "Resource": [KEY_ARN]},
    ]
    return {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": f"{target.prefix}-dashboards-build", "Description": "Builds and pushes the dashboards image",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]},
        "Policies": [{"PolicyName": "build-image", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}}


def image_part(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """Repository (scan on push, immutable tags, KMS), build project, its role and its log group."""
    repository = {"Type": "AWS::ECR::Repository", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                  "Properties": {
        "RepositoryName": f"{target.prefix}-dashboards",
        "ImageScanningConfiguration": {"ScanOnPush": True}, "ImageTagMutability": "IMMUTABLE",
        "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": KEY_ARN},
        "LifecyclePolicy": {"LifecyclePolicyText": (
            '{"rules":[{"rulePriority":1,"description":"keep the last 20 images","selection":'
            '{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":20},"action":{"type":"expire"}}]}')}}}
    project: dict[str, Any] = {"Type": "AWS::CodeBuild::Project", "Properties": {
        "Name": f"{target.prefix}-dashboards-image", "Description": "Builds infra/Dockerfile into the ECR repository",
        "ServiceRole": {"Fn::GetAtt": ["DashboardsBuildRole", "Arn"]}, "EncryptionKey": KEY_ARN,
        "Source": {"Type": "S3", "Location": f"{target.bucket('artefacts')}/{target.artefact_prefix}/{CONTEXT_FILE}",
                   "BuildSpec": BUILDSPEC},
        "Artifacts": {"Type": "NO_ARTIFACTS"},
        "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL",
                        "Image": "aws/codebuild/standard:7.0", "PrivilegedMode": True,
                        "EnvironmentVariables": [
                            {"Name": "REPOSITORY_URI", "Value": {"Fn::GetAtt": [REPOSITORY, "RepositoryUri"]}}]},
        "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": "DashboardsBuildLogGroup"}}},
        "TimeoutInMinutes": 30}}
    skip(project, "CKV_AWS_316", "docker build needs privileged mode; the project builds only infra/Dockerfile "
                                 "from the deploy's own context and is started by the deploy alone")
    resources = {
        REPOSITORY: repository,
        "DashboardsBuildRole": _build_role(target),
        "DashboardsBuildLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                                    "UpdateReplacePolicy": "Retain", "Properties": {
            "LogGroupName": f"/aws/codebuild/{target.prefix}-dashboards-image", "RetentionInDays": 365,
            "KmsKeyId": KEY_ARN}},
        "DashboardsImageBuild": project,
    }
    outputs = {"DashboardsRepositoryUri": {"Description": "the dashboards image repository",
                                           "Value": {"Fn::GetAtt": [REPOSITORY, "RepositoryUri"]}},
               TAG_PARAMETER: {"Description": "tag of the image the service runs (none: not built yet)",
                               "Value": {"Ref": TAG_PARAMETER}}}
    return resources, outputs
