"""What the Glue job runs: the engine wheel, the project (config + specs), the job script and the
wheels of the engine's dependencies that Glue lacks.

Each artefact is built reproducibly (same source, same bytes) and uploaded to the artefact
bucket under a content-addressed key (``<prefix>/artefacts/<sha256[:16]>/<file>``), encrypted
with the data key, with its SHA-256 in the object's metadata. A key is never overwritten: what
runs now keeps its files while a new build uploads beside it, and the state machine switches
to the new build only at the end of a deploy. An artefact already there is not uploaded again,
so a repeated deploy changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib.metadata import requires, version
from pathlib import Path
from typing import Any, Callable, Sequence

from botocore.exceptions import ClientError

from infra.glue_plan import wheel_name
from infra.target import Target
from engine.plan.graph import discover
from engine.spec.project import CONFIG_FILE

SCRIPT = Path(__file__).with_name("glue_script.py")


@dataclass
class Artefact:
    """One file to upload: its name, the SHA-256 of its bytes, and the bytes."""

    file_name: str
    digest: str
    content: bytes


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A zip whose bytes depend only on its entries (fixed timestamps, sorted names)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(root: Path) -> bytes:
    """A pure-Python wheel of the ``engine`` package, built in-process and reproducibly.

    Why not ``pip wheel``: it needs build tools (and often the network) on the deploying
    machine, and its zip timestamps change every build, so an unchanged engine would look new.
    Only ``engine`` ships: the Glue job runs specs, not the CLI plugins.
    """
    dist = f"medallion-{version('medallion')}"
    entries = [(str(p.relative_to(root)), p.read_bytes()) for p in sorted((root / "engine").rglob("*"))
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    deps = "".join(f"Requires-Dist: {r}\n" for r in requires("medallion") or [] if ";" not in r)
    entries.append((f"{dist}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: medallion\nVersion: {version('medallion')}\n{deps}".encode()))
    entries.append((f"{dist}.dist-info/WHEEL",
                    b"Wheel-Version: 1.0\nGenerator: medallion-deploy\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    # the ``medallion`` command, as pyproject.toml declares it: what the dashboards image's CMD runs
    entries.append((f"{dist}.dist-info/entry_points.txt", b"[console_scripts]\nmedallion = engine.cli:entry\n"))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in sorted(entries))
    entries.append((f"{dist}.dist-info/RECORD", (record + f"{dist}.dist-info/RECORD,,\n").encode()))
    return _zip(entries)


def project_archive(target: Target) -> bytes:
    """medallion.yaml and every spec of the profile, zipped byte-for-byte reproducibly."""
    root = target.project.root
    files = sorted({root / CONFIG_FILE, *discover(root, target.project.spec_dirs)})
    return _zip([(str(p.relative_to(root)), p.read_bytes()) for p in files])


def artefacts(target: Target, dependency_wheels: Sequence[Path] = ()) -> list[Artefact]:
    """The artefacts of a deployment, each with the digest of its bytes: engine wheel, project
    archive, job script, then the dependency wheels (``infra/wheels.py``) in the order given."""
    items = [(wheel_name(), build_wheel(target.project.root)), ("project.zip", project_archive(target)),
             ("glue_job.py", SCRIPT.read_bytes())]
    items += [(path.name, path.read_bytes()) for path in dependency_wheels]
    return [Artefact(name, hashlib.sha256(data).hexdigest(), data) for name, data in items]


def dependency_uris(target: Target, items: list[Artefact]) -> list[str]:
    """``s3://`` addresses of the uploaded dependency wheels (every wheel but the engine's)."""
    return [target.artefact_uri(a.file_name, a.digest) for a in items
            if a.file_name.endswith(".whl") and a.file_name != wheel_name()]


def build_digest(items: list[Artefact]) -> str:
    """One short digest of all artefacts: the job's ``--medallion-build`` argument."""
    return hashlib.sha256("".join(a.digest for a in items).encode()).hexdigest()[:16]


def upload(s3: Any, target: Target, items: list[Artefact], key_arn: str, say: Callable[[str], None]) -> int:
    """Upload changed artefacts (SSE-KMS with the data key); returns how many were uploaded."""
    bucket = target.bucket("artefacts")
    uploaded = 0
    for item in items:
        key = target.artefact_key(item.file_name, item.digest)
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            if head.get("Metadata", {}).get("sha256") == item.digest:
                say(f"unchanged artefact s3://{bucket}/{key}")
                continue
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        s3.put_object(Bucket=bucket, Key=key, Body=item.content, ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key_arn, BucketKeyEnabled=True, Metadata={"sha256": item.digest})
        say(f"uploaded  artefact s3://{bucket}/{key}")
        uploaded += 1
    return uploaded
