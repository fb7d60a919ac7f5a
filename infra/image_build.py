"""The dashboards image on a deploy: built once per content, pushed to ECR, then the service runs it.

Why a step of its own, after the stack and the artefacts: the ECR repository and the CodeBuild
project are resources of the stack, so the image can only be built once the stack exists. A
first deploy therefore creates the service with the stack parameter ``DashboardsImageTag`` at
``none`` (desired count 0: ECS never retries tasks whose image does not exist), then this step
builds the image, waits until its tag is in ECR, and only then sets the parameter to the tag;
CloudFormation then rolls the service onto it with its desired count. Later stack updates keep
the parameter's value (infra/stack.py), so the running image keeps serving while the next one
builds, and an unchanged project, whose tag is already in ECR, builds and switches nothing.

Where the image is built: with ``docker`` and a daemon answering on the deploying machine, it is
built and pushed from there (``docker build -f infra/Dockerfile`` on the context
infra/image.py writes); without one, the context goes to the artefacts bucket and the stack's
CodeBuild project builds it in the account (its buildspec: infra/template_image.py).
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from engine.errors import RunError
from infra.image import build_context, start_build, upload_context
from infra.stack import update_parameters
from infra.target import Target
from infra.template_image import CONTEXT_FILE, TAG_PARAMETER, image_tag

FINISHED = {"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"}
BUILD_TIMEOUT_SECONDS = 40 * 60  # the project's own timeout is 30 minutes; queueing comes on top
Wheels = Callable[[Path], list[Path]]


@dataclass
class ImageOutcome:
    """What the step did: the tag, how it came to be in ECR, whether the service was switched."""

    tag: str
    built_by: str  # "already in ECR", "docker" or "codebuild"
    build_id: str | None = None
    switched: bool = False


def docker_daemon(run: Callable[..., Any] = subprocess.run) -> bool:
    """True when a ``docker`` command is installed and its daemon answers (a CLI alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True,
                   timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def repository(ecr: Any, target: Target) -> tuple[str, str]:
    """(name, URI) of the stack's dashboards repository."""
    name = f"{target.prefix}-dashboards"
    try:
        found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        raise RunError(f"the stack made no ECR repository {name}; check the stack's events") from None
    return name, found["repositoryUri"]


def has_image(ecr: Any, name: str, tag: str) -> bool:
    """Whether the repository holds ``tag``."""
    try:
        return bool(ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])["imageDetails"])
    except ecr.exceptions.ImageNotFoundException:
        return False


def _default_wheels(dest: Path) -> list[Path]:
    from infra.wheels import download_wheels, image_requirements

    return download_wheels(image_requirements(), dest)  # Linux x86_64, CPython 3.11: python:3.11-slim


def _docker(args: list[str], say: Callable[[str], None], stdin: str | None = None,
            cwd: Path | None = None) -> None:
    done = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise RunError(f"docker {args[0]} failed: {last}")
    say(f"  docker {args[0]}: done")


def build_locally(ecr: Any, uri: str, tag: str, context: bytes, say: Callable[[str], None]) -> None:
    """Build infra/Dockerfile on the context with the local daemon and push ``uri:tag``."""
    token = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry = uri.split("/", 1)[0]
    with tempfile.TemporaryDirectory(prefix="medallion-image-") as folder:
        with zipfile.ZipFile(io.BytesIO(context)) as archive:
            archive.extractall(folder)
        _docker(["login", "--username", user, "--password-stdin", registry], say, stdin=password)
        _docker(["build", "--pull", "-f", "infra/Dockerfile", "-t", f"{uri}:{tag}", "."], say, cwd=Path(folder))
        _docker(["push", f"{uri}:{tag}"], say)


def build_in_account(codebuild: Any, s3: Any, target: Target, tag: str, context: bytes, key_arn: str,
                     say: Callable[[str], None], *, poll_seconds: float,
                     timeout_seconds: float = BUILD_TIMEOUT_SECONDS) -> str:
    """Upload the context, start the stack's CodeBuild project for ``tag``, wait; returns the build id."""
    where = upload_context(s3, target, context, key_arn)
    build_id = start_build(codebuild, target, tag)
    say(f"image     building {tag} in CodeBuild ({build_id}) from {where}")
    deadline = time.monotonic() + timeout_seconds
    while True:
        build = codebuild.batch_get_builds(ids=[build_id])["builds"][0]
        status = build.get("buildStatus", "IN_PROGRESS")
        if status in FINISHED:
            break
        if time.monotonic() > deadline:
            raise RunError(f"the image build {build_id} is still {status} after {timeout_seconds / 60:.0f} min; "
                           "the service keeps its current image; deploy again when it has finished")
        time.sleep(poll_seconds)
    if status != "SUCCEEDED":
        failed = [f"{p.get('phaseType')}: {c.get('message', '')}".strip(": ") for p in build.get("phases", [])
                  if p.get("phaseStatus") not in (None, "SUCCEEDED") for c in p.get("contexts", []) or [{}]]
        raise RunError(f"the image build {build_id} ended {status}"
                       + (f" ({'; '.join(failed)})" if failed else "")
                       + f"; its log is in CloudWatch, /aws/codebuild/{target.prefix}-dashboards-image. "
                       "The service keeps its current image.")
    return build_id


def ensure_dashboards_image(aws: dict[str, Any], target: Target, key_arn: str, say: Callable[[str], None], *,
                            poll_seconds: float = 10, dependency_wheels: Wheels | None = None,
                            local_docker: bool | None = None) -> ImageOutcome | None:
    """Have the image of this project in ECR, then point the service at it (None: no dashboards).

    ``dependency_wheels(folder)`` fetches the pinned dependency wheels into ``folder`` (default:
    pip download, as for the Glue job); ``local_docker`` overrides the daemon probe.
    """
    hosting = target.config.hosting
    if hosting is None or not hosting.enabled:
        return None
    region = target.config.region
    ecr, codebuild = _client(aws, "ecr", region), _client(aws, "codebuild", region)
    name, uri = repository(ecr, target)
    tag = image_tag(target)
    outcome = ImageOutcome(tag, "already in ECR")
    if has_image(ecr, name, tag):
        say(f"image     {uri}:{tag} already in ECR: nothing to build")
    else:
        with tempfile.TemporaryDirectory(prefix="medallion-wheels-") as folder:
            wheels = (dependency_wheels or _default_wheels)(Path(folder))
            context = build_context(target, wheels)
        say(f"image     {uri}:{tag}: context {len(context) / 1e6:.1f} MB ({CONTEXT_FILE}), {len(wheels)} dependency wheels")
        if docker_daemon() if local_docker is None else local_docker:
            outcome.built_by = "docker"
            build_locally(ecr, uri, tag, context, say)
        else:
            outcome.built_by = "codebuild"
            outcome.build_id = build_in_account(codebuild, aws["s3"], target, tag, context, key_arn, say,
                                                poll_seconds=poll_seconds)
        if not has_image(ecr, name, tag):
            raise RunError(f"the image build finished but {uri}:{tag} is not in ECR; the service keeps its "
                           "current image")
    stack = target.config.stack_name
    switched = update_parameters(aws["cloudformation"], stack, {TAG_PARAMETER: tag}, say, poll_seconds=poll_seconds)
    outcome.switched = switched != "unchanged"
    say(f"dashboards: {'now running' if outcome.switched else 'running'} image {tag} "
        f"({hosting.desired_count} task(s) behind https://{hosting.domain_name})")
    return outcome


def _client(aws: dict[str, Any], service: str, region: str) -> Any:
    """The deploy's client for ``service`` when it has one, else one like them (same region, retries)."""
    if service not in aws:
        import boto3
        from botocore.config import Config

        aws[service] = boto3.client(service, region_name=region,
                                    config=Config(retries={"max_attempts": 8, "mode": "standard"}))
    return aws[service]
