"""The dashboards image: its ECR repository and the CodeBuild project that builds it in the account.

The image is built from ``infra/Dockerfile`` and a build context the deploy uploads to the
artefacts bucket (the Glue job's engine wheel, the dashboards wheel, their dependency wheels,
the project's config and specs). Its tag is the digest of that context, so an unchanged project
keeps its image and tags never move (the repository refuses to overwrite a tag). CodeBuild
builds it where the deploying machine has no Docker daemon.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from infra.target import Target
from infra.template_iam import KEY_ARN, sub
from infra.template_meta import skip

REPOSITORY = "DashboardsRepository"
DOCKERFILE = Path(__file__).with_name("Dockerfile")
CONTEXT_FILE = "dashboards-image-context.zip"
BUILDSPEC = """version: 0.2
phases:
  pre_build:
    commands:
      - aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin ${REPOSITORY_URI%%/*}
      - if aws ecr describe-images --repository-name ${REPOSITORY_URI#*/} --image-ids imageTag=$IMAGE_TAG >/dev/null 2>&1; then echo "image $IMAGE_TAG exists"; exit 0; fi
  build:
    commands:
      - docker build --pull -f infra/Dockerfile -t $REPOSITORY_URI:$IMAGE_TAG .
  post_build:
    commands:
      - docker push $REPOSITORY_URI:$IMAGE_TAG
"""


def image_tag(target: Target) -> str:
    """The image tag: digest of the Dockerfile and of what the image installs (content-addressed:
    the wheels' bytes, the pinned dependency list, the project's config and specs)."""
    from infra.artefacts import build_wheel, project_archive
    from infra.wheels import dashboards_wheel, image_requirements

    root = target.project.root
    digest = hashlib.sha256()
    pins = "\n".join(image_requirements()).encode()
    for part in (DOCKERFILE.read_bytes(), build_wheel(root), dashboards_wheel(root), project_archive(target), pins):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def image_uri(target: Target) -> dict[str, Any]:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`` of the current build."""
    return {"Fn::Join": ["", [{"Fn::GetAtt": [REPOSITORY, "RepositoryUri"]}, f":{image_tag(target)}"]]}


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
                            {"Name": "REPOSITORY_URI", "Value": {"Fn::GetAtt": [REPOSITORY, "RepositoryUri"]}},
                            {"Name": "IMAGE_TAG", "Value": image_tag(target)}]},
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
               "DashboardsImageTag": {"Description": "tag of the image this template runs", "Value": image_tag(target)}}
    return resources, outputs
