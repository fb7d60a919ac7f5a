"""Issue 24: the dashboards image on a deploy (infra/image_build.py), rehearsed on moto.

What moto runs for real: CloudFormation (a stack of the template's own ECR repository, ECS
cluster, task definition and service, with the template's ``DashboardsImageTag`` parameter and
condition; moto's CloudFormation cannot create the rest of the hosting part, e.g. the Redshift
workgroup the task's environment names, so references to those become placeholders), ECR, S3,
KMS and CodeBuild's API. What moto cannot do is run a build: its ``StartBuild`` records the
build (``list_builds_for_project``, ``batch_get_builds`` reports it SUCCEEDED) but ignores the
environment override and pushes nothing. So the test reads the override from the request the
client sent (botocore's ``provide-client-params`` event) and plays CodeBuild's push: when the
build starts it checks the context CodeBuild would read from S3 and puts the image's manifest
into moto's ECR under the tag, as the buildspec's ``docker push`` would. No Docker daemon runs
here either: the local-build path is checked with a stand-in ``docker`` on PATH that records
its commands.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from engine.errors import RunError
from engine.spec.project import load_project
from infra.image_build import build_locally, docker_daemon, ensure_dashboards_image
from infra.stack import deploy_stack
from infra.target import target_for
from infra.template import build_template, template_body
from infra.template_image import BUILDSPEC, CONTEXT_FILE, image_tag
from infra.wheels import build_wheel_bytes

HOSTING = """\
      hosting:
        certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abc
        domain_name: dash.corp.test
        alb_subnet_ids: subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb
        desired_count: 2
"""
KEPT = ("DashboardsRepository", "DashboardsCluster", "DashboardsTask", "DashboardsService")
STACK = "dt-platform"


def _placeholders(node, kept):
    """The node with every reference to a resource outside ``kept`` replaced by a literal."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] not in kept and not node["Ref"].startswith("AWS::") \
                and node["Ref"] != "DashboardsImageTag":
            return f"placeholder-{node['Ref']}"
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] not in kept:
            return f"arn:aws:iam::123456789012:role/placeholder-{node['Fn::GetAtt'][0]}"
        return {k: _placeholders(v, kept) for k, v in node.items()}
    if isinstance(node, list):
        return [_placeholders(v, kept) for v in node]
    return node


def moto_stack(template):
    """The template's image parameter, condition and the four resources moto's CloudFormation can make."""
    resources = {}
    for name in KEPT:
        resource = dict(template["Resources"][name])
        resource.pop("DependsOn", None)
        resources[name] = _placeholders(resource, KEPT)
    return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": template["Parameters"],
            "Conditions": template["Conditions"], "Resources": resources}


def _wheel(folder: Path) -> list[Path]:
    """The dependency wheels, here one small wheel (the real deploy downloads the pinned set)."""
    path = folder / "alpha-1.0-py3-none-any.whl"
    path.write_bytes(build_wheel_bytes("alpha", "1.0", {"alpha/__init__.py": b""}, []))
    return [path]


class CodeBuildPlayer:
    """Records each StartBuild request and, as the buildspec would, pushes the image to ECR."""

    def __init__(self, codebuild, ecr, s3, push: bool = True):
        self.ecr, self.s3, self.push = ecr, s3, push
        self.requests: list[dict] = []
        self.contexts: list[set[str]] = []
        codebuild.meta.events.register("provide-client-params.codebuild.StartBuild", self._request)
        codebuild.meta.events.register("after-call.codebuild.StartBuild", self._build)

    def _request(self, params, **_):
        self.requests.append(json.loads(json.dumps(params)))

    def _build(self, **_):
        source = self.project["source"]["location"]  # what the build reads: bucket/key of the context
        bucket, key = source.split("/", 1)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            self.contexts.append(set(archive.namelist()))
        tag = {v["name"]: v["value"] for v in self.requests[-1]["environmentVariablesOverride"]}["IMAGE_TAG"]
        if self.push:
            manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "config": {"digest": "sha256:" + hashlib.sha256(body).hexdigest()}, "layers": []}
            self.ecr.put_image(repositoryName="dt-dashboards", imageManifest=json.dumps(manifest), imageTag=tag)


@pytest.fixture()
def account(deploy_project, monkeypatch):
    """moto with the sub-stack deployed as a first deploy would leave it, and the build project."""
    root = deploy_project()
    (root / "medallion.yaml").write_text((root / "medallion.yaml").read_text() + HOSTING, encoding="utf-8")
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        for name, value in {"DT_VPC": vpc, "DT_RTB": ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"],
                            "DT_SUBNET": "subnet-0a1b2c3d4e5f60718", "DT_SG": "sg-0a1b2c3d4e5f60718"}.items():
            monkeypatch.setenv(name, value)
        target = target_for(load_project(root, "aws"))
        template = build_template(target)
        aws = {name: boto3.client(name, region_name="us-east-1")
               for name in ("cloudformation", "s3", "ecr", "codebuild", "ecs", "kms")}
        lines: list[str] = []
        assert deploy_stack(aws["cloudformation"], STACK, template_body(moto_stack(template)), lines.append,
                            poll_seconds=0) == "created"
        aws["s3"].create_bucket(Bucket=target.bucket("artefacts"))
        key = aws["kms"].create_key()["KeyMetadata"]["Arn"]
        project = template["Resources"]["DashboardsImageBuild"]["Properties"]  # moto's CloudFormation lacks it
        aws["codebuild"].create_project(
            name=project["Name"], source={"type": "S3", "location": project["Source"]["Location"],
                                          "buildspec": project["Source"]["BuildSpec"]},
            artifacts={"type": "NO_ARTIFACTS"}, serviceRole="arn:aws:iam::123456789012:role/dt-dashboards-build",
            environment={"type": "LINUX_CONTAINER", "image": project["Environment"]["Image"],
                         "computeType": project["Environment"]["ComputeType"], "privilegedMode": True})
        yield {"aws": aws, "target": target, "template": template, "key": key, "lines": lines, "root": root}


def _service(aws):
    """(desired count, image) of the service as moto holds it. moto rehearses the first revision
    only: on a stack update it updates resources in name order without following ``Ref`` and
    re-registers a task definition with its container definitions dropped, so after the switch
    only the parameter and the desired count are read from moto; that the task definition's image
    is ``<repository>:<DashboardsImageTag>`` is asserted on the template (test_hosting.py)."""
    arn = aws["ecs"].list_services(cluster="dt-dashboards")["serviceArns"][0]
    service = aws["ecs"].describe_services(cluster="dt-dashboards", services=[arn])["services"][0]
    task = aws["ecs"].describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    return service["desiredCount"], task["containerDefinitions"][0]["image"]


def _parameter(aws):
    stack = aws["cloudformation"].describe_stacks(StackName=STACK)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["DashboardsImageTag"]


def test_first_deploy_runs_no_task_until_the_image_is_built_then_switches(account):
    aws, target = account["aws"], account["target"]
    uri = aws["ecr"].describe_repositories()["repositories"][0]["repositoryUri"]
    assert _parameter(aws) == "none"
    assert _service(aws) == (0, f"{uri}:none")  # the stack made the service, but no task pulls a missing image

    player = CodeBuildPlayer(aws["codebuild"], aws["ecr"], aws["s3"])
    player.project = aws["codebuild"].batch_get_projects(names=["dt-dashboards-image"])["projects"][0]
    lines: list[str] = []
    outcome = ensure_dashboards_image(aws, target, account["key"], lines.append, poll_seconds=0,
                                      dependency_wheels=_wheel, local_docker=False)
    tag = image_tag(target)
    assert (outcome.tag, outcome.built_by, outcome.switched) == (tag, "codebuild", True)
    # the call CodeBuild got: the stack's project, the image tag as the override the buildspec reads
    assert player.requests == [{"projectName": "dt-dashboards-image", "environmentVariablesOverride": [
        {"name": "IMAGE_TAG", "value": tag, "type": "PLAINTEXT"}]}]
    assert aws["codebuild"].list_builds_for_project(projectName="dt-dashboards-image")["ids"] == [outcome.build_id]
    # the context it read: the Dockerfile, the engine and dashboards wheels, the dependency wheel, the project
    assert {"infra/Dockerfile", "wheels/medallion-0.1.0-py3-none-any.whl", "wheels/alpha-1.0-py3-none-any.whl",
            "wheels/medallion_dashboards-0.1.0-py3-none-any.whl", "project/medallion.yaml"} <= player.contexts[0]
    head = aws["s3"].head_object(Bucket="test-lake-artefacts", Key=f"dt/artefacts/{CONTEXT_FILE}")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == account["key"]
    # only then the switch: the parameter, the desired count of the settings, the image by its tag
    assert _parameter(aws) == tag
    assert _service(aws)[0] == 2
    assert any(line.startswith("stack dt-platform: change set medallion-") for line in lines)
    assert lines[-1] == f"dashboards: now running image {tag} (2 task(s) behind https://dash.corp.test)"

    # the next deploy of the same project: the tag is in ECR, nothing is built or switched
    again: list[str] = []
    second = ensure_dashboards_image(aws, target, account["key"], again.append, poll_seconds=0,
                                     dependency_wheels=_wheel, local_docker=False)
    assert (second.built_by, second.switched) == ("already in ECR", False)
    assert len(player.requests) == 1 and again[0] == f"image     {uri}:{tag} already in ECR: nothing to build"

    # a later stack update (a changed template) keeps the running image: the parameter is kept
    changed = moto_stack(account["template"])
    changed["Description"] = "a later deploy"
    assert deploy_stack(aws["cloudformation"], STACK, template_body(changed), again.append, poll_seconds=0) == "updated"
    assert _parameter(aws) == tag and _service(aws)[0] == 2


def test_a_build_that_pushed_nothing_leaves_the_service_as_it_was(account):
    aws = account["aws"]
    player = CodeBuildPlayer(aws["codebuild"], aws["ecr"], aws["s3"], push=False)
    player.project = aws["codebuild"].batch_get_projects(names=["dt-dashboards-image"])["projects"][0]
    with pytest.raises(RunError, match=r"the image build finished but .*dt-dashboards:[0-9a-f]{16} is not in ECR; "
                                       "the service keeps its current image"):
        ensure_dashboards_image(aws, account["target"], account["key"], lambda line: None, poll_seconds=0,
                                dependency_wheels=_wheel, local_docker=False)
    assert _parameter(aws) == "none" and _service(aws)[0] == 0


def test_a_failed_build_names_its_log_and_keeps_the_service(account):
    aws = account["aws"]
    player = CodeBuildPlayer(aws["codebuild"], aws["ecr"], aws["s3"], push=False)
    player.project = aws["codebuild"].batch_get_projects(names=["dt-dashboards-image"])["projects"][0]

    def failed(parsed, **_):  # what CodeBuild answers for a build whose docker build failed
        for build in parsed.get("builds", []):
            build["buildStatus"] = "FAILED"
            build["phases"] = [{"phaseType": "BUILD", "phaseStatus": "FAILED",
                                "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR",
                                              "message": "Error while executing command: docker build. Reason: exit status 1"}]}]

    aws["codebuild"].meta.events.register("after-call.codebuild.BatchGetBuilds", failed)
    with pytest.raises(RunError, match=r"ended FAILED \(BUILD: Error while executing command: docker build.*\); "
                                       r"its log is in CloudWatch, /aws/codebuild/dt-dashboards-image"):
        ensure_dashboards_image(aws, account["target"], account["key"], lambda line: None, poll_seconds=0,
                                dependency_wheels=_wheel, local_docker=False)
    assert _parameter(aws) == "none"


def test_without_dashboards_the_step_does_nothing(deploy_project):
    target = target_for(load_project(deploy_project(), "aws"))
    assert ensure_dashboards_image({}, target, "arn:key", lambda line: None) is None  # no AWS client made


def test_the_daemon_probe_agrees_with_docker_itself():
    """Here the docker CLI may exist without a daemon: the probe must say what `docker version` says."""
    import shutil

    if shutil.which("docker") is None:
        assert docker_daemon() is False
        return
    done = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    assert docker_daemon() is (done.returncode == 0 and bool(done.stdout.strip()))


def test_local_build_logs_in_builds_the_context_and_pushes(account, tmp_path, monkeypatch):
    """A stand-in docker (no daemon runs here) records what the deploy asks of it."""
    record = tmp_path / "docker.log"
    stand_in = tmp_path / "bin" / "docker"
    stand_in.parent.mkdir()
    stand_in.write_text(f'#!/bin/sh\necho "$*" >> {record}\n'
                        f'case "$1" in login) cat >> {record}; echo >> {record};; build) ls >> {record};; esac\n')
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}")
    aws = account["aws"]
    uri = aws["ecr"].describe_repositories()["repositories"][0]["repositoryUri"]
    context = io.BytesIO()
    with zipfile.ZipFile(context, "w") as archive:
        archive.writestr("infra/Dockerfile", "FROM scratch\n")
        archive.writestr("wheels/a.whl", b"")
    build_locally(aws["ecr"], uri, "0123456789abcdef", context.getvalue(), lambda line: None)
    token = aws["ecr"].get_authorization_token()["authorizationData"][0]["authorizationToken"]
    import base64

    password = base64.b64decode(token).decode().split(":", 1)[1]
    registry = uri.split("/")[0]
    assert record.read_text().splitlines() == [
        f"login --username AWS --password-stdin {registry}", password,
        f"build --pull -f infra/Dockerfile -t {uri}:0123456789abcdef .", "infra", "wheels",
        f"push {uri}:0123456789abcdef"]


def test_the_buildspec_is_valid_yaml_and_shell():
    spec = yaml.safe_load(BUILDSPEC)
    assert spec["version"] == 0.2 and spec["env"]["shell"] == "bash"
    for phase in ("pre_build", "build"):
        assert spec["phases"][phase]["on-failure"] == "ABORT"  # a failed login or build never pushes
        for command in spec["phases"][phase]["commands"]:
            checked = subprocess.run(["bash", "-n"], input=command, capture_output=True, text=True)
            assert checked.returncode == 0, (command, checked.stderr)
    missing = subprocess.run(["bash", "-c", spec["phases"]["pre_build"]["commands"][0]], capture_output=True,
                             text=True, env={"PATH": os.environ["PATH"]})
    assert missing.returncode == 1 and "start the build with IMAGE_TAG" in missing.stdout
