"""The dashboards image's build context: what infra/Dockerfile installs, zipped reproducibly.

Layout (the Dockerfile's ``COPY`` lines): ``infra/Dockerfile``; ``wheels/`` with the Glue job's
engine wheel (the same bytes the job runs), the dashboards add-on wheel and one wheel per
dependency (``infra/wheels.py``: pinned, downloaded on the deploying machine); ``project/`` with
medallion.yaml, the specs and vocabulary.yaml (the pages' shared definitions). Uploaded next to the job's artefacts, where the CodeBuild project
reads it; a machine with a Docker daemon can build the same context locally.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from infra.artefacts import build_wheel, project_archive
from infra.glue_plan import wheel_name
from infra.target import Target
from infra.template_image import CONTEXT_FILE, DASHBOARD_FILES, DOCKERFILE
from infra.wheels import dashboards_wheel, dashboards_wheel_name


def context_entries(target: Target, dependency_wheels: list[Path]) -> dict[str, bytes]:
    """Every file of the build context, by its path in the context."""
    root = target.project.root
    entries = {"infra/Dockerfile": DOCKERFILE.read_bytes(),
               f"wheels/{wheel_name()}": build_wheel(root),
               f"wheels/{dashboards_wheel_name()}": dashboards_wheel(root)}
    entries.update({f"wheels/{w.name}": w.read_bytes() for w in dependency_wheels})
    with zipfile.ZipFile(io.BytesIO(project_archive(target))) as archive:
        entries.update({f"project/{n}": archive.read(n) for n in archive.namelist()})
    entries.update({f"project/{n}": (root / n).read_bytes() for n in DASHBOARD_FILES if (root / n).is_file()})
    return entries


def build_context(target: Target, dependency_wheels: list[Path]) -> bytes:
    """The context as a zip whose bytes depend only on its files (CodeBuild's S3 source)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(context_entries(target, dependency_wheels).items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def upload_context(s3: Any, target: Target, context: bytes, key_arn: str) -> str:
    """Put the context where the build project reads it (SSE-KMS); returns its ``s3://`` URI."""
    bucket, key = target.bucket("artefacts"), f"{target.artefact_prefix}/{CONTEXT_FILE}"
    s3.put_object(Bucket=bucket, Key=key, Body=context, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn,
                  BucketKeyEnabled=True)
    return f"s3://{bucket}/{key}"


def start_build(codebuild: Any, target: Target, tag: str) -> str:
    """Start the in-account image build for ``tag``; returns the build id (the buildspec skips a tag
    the repository already holds)."""
    started = codebuild.start_build(projectName=f"{target.prefix}-dashboards-image",
                                    environmentVariablesOverride=[{"name": "IMAGE_TAG", "value": tag,
                                                                   "type": "PLAINTEXT"}])
    return started["build"]["id"]
