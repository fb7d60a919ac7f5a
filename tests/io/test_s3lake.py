"""Atomic commits on S3 (moto): the pointer object switches only after a version is complete.

Spark has no S3 connector here, so the tests write a version's data files with boto3, as Spark
on Glue would, and exercise the metadata protocol: claims, manifest, pointer, prune, rollback.
"""

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from engine.errors import RunError, UsageError
from engine.io.lake import LocalLake
from engine.io.s3lake import S3Lake

BUCKET = "medallion-lake"


@pytest.fixture()
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(s3, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def body(s3, key):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def write_version(s3, pending, text="x"):
    """What Spark on Glue does: put the data files under the pending version's prefix."""
    assert pending.path.startswith(f"s3://{BUCKET}/")
    s3.put_object(Bucket=BUCKET, Key=pending.path.removeprefix(f"s3://{BUCKET}/") + "/part-0.parquet",
                  Body=text.encode())


def commit(lake, s3, table, text="x", run_id="r"):
    pending = lake.begin(table)
    write_version(s3, pending, text)
    return lake.commit(pending, rows=len(text), columns=[], partition_by=[], run_id=run_id)


def test_commit_writes_manifest_then_pointer(s3):
    lake = S3Lake(BUCKET, "lake", keep_versions=2)
    assert lake.current("silver.t") is None
    first = lake.begin("silver.t")
    assert (first.version, first.path) == (1, "s3://medallion-lake/lake/silver/t/v000001")
    write_version(s3, first)
    rec = lake.commit(first, rows=3, columns=[{"name": "a", "type": "int"}], partition_by=[], run_id="r1")
    pointer = json.loads(body(s3, "lake/silver/t/_current.json"))
    assert pointer["version"] == 1 and pointer["rows"] == 3 and pointer["run_id"] == "r1"
    assert pointer["path"] == "silver/t/v000001"  # relative to the lake prefix: a copied lake reads its own
    assert rec.path == lake.current("silver.t").path == "s3://medallion-lake/lake/silver/t/v000001"
    assert json.loads(body(s3, "lake/silver/t/v000001/_manifest.json")) == pointer
    # the claim is gone once the manifest says the version is committed
    assert keys(s3) == ["lake/silver/t/_current.json", "lake/silver/t/v000001/_manifest.json",
                        "lake/silver/t/v000001/part-0.parquet"]


def test_same_json_as_the_local_lake(s3, tmp_path):
    local, remote = LocalLake(tmp_path), S3Lake(BUCKET, "lake")
    p = local.begin("gold.m")
    p.path.mkdir(parents=True)
    (p.path / "part-0.parquet").write_text("x")
    a = local.commit(p, rows=1, columns=[{"name": "a", "type": "int"}], partition_by=["a"], run_id="r")
    b = remote.commit(_written(remote, s3, "gold.m"), rows=1, columns=[{"name": "a", "type": "int"}], partition_by=["a"], run_id="r")
    on_disk = json.loads((tmp_path / "gold/m/_current.json").read_text())
    on_s3 = json.loads(body(s3, "lake/gold/m/_current.json"))
    assert set(on_disk) == set(on_s3) == {"table", "version", "path", "rows", "columns", "partition_by",
                                          "committed_at", "run_id", "watermark", "companions", "owner",
                                          # what incremental specs read back (issue 23): inputs read,
                                          # logic fingerprint, row digest, change since the previous version,
                                          # and the source files a spec that reads files has ingested
                                          "inputs", "fingerprint", "digest", "change", "files"}
    assert {k: v for k, v in on_s3.items() if k != "committed_at"} == \
           {k: v for k, v in on_disk.items() if k != "committed_at"}  # relative paths: the same everywhere
    assert (a.version, b.version) == (1, 1)


def _written(lake, s3, table):
    pending = lake.begin(table)
    write_version(s3, pending)
    return pending


def test_readers_see_only_the_committed_version(s3):
    lake = S3Lake(BUCKET, "lake")
    commit(lake, s3, "gold.m", "one", run_id="r1")
    pending = lake.begin("gold.m")
    write_version(s3, pending, "two-half-written")
    current = lake.current("gold.m")
    assert current.version == 1 and current.run_id == "r1"
    # a reader lists what the pointer names: version 1's files, never the pending version's
    assert keys(s3, "lake/gold/m/v000001/") == ["lake/gold/m/v000001/_manifest.json",
                                                "lake/gold/m/v000001/part-0.parquet"]
    assert body(s3, "lake/gold/m/v000001/part-0.parquet") == "one"
    assert "lake/gold/m/v000002/part-0.parquet" in keys(s3)  # written, but not visible
    lake.commit(pending, rows=16, columns=[], partition_by=[], run_id="r2")
    assert lake.current("gold.m").version == 2 and lake.current("gold.m").rows == 16


def test_abort_removes_the_version_and_its_claim(s3):
    lake = S3Lake(BUCKET, "lake")
    commit(lake, s3, "gold.m")
    pending = lake.begin("gold.m")
    write_version(s3, pending, "half")
    assert "lake/gold/m/_claims/v000002.json" in keys(s3)
    lake.abort(pending)
    assert keys(s3, "lake/gold/m/v000002") == [] and keys(s3, "lake/gold/m/_claims") == []
    assert lake.current("gold.m").version == 1
    assert lake.begin("gold.m").version == 2


def test_commit_without_written_files_fails(s3):
    lake = S3Lake(BUCKET, "lake")
    with pytest.raises(RunError, match="s3://medallion-lake/lake/bronze/y/v000001 was not written"):
        lake.commit(lake.begin("bronze.y"), rows=0, columns=[], partition_by=[], run_id="r")
    with pytest.raises(RunError, match=r"no committed version in s3://medallion-lake/lake; run its spec first"):
        lake.require("bronze.y")


def test_rollback_moves_the_pointer_back_and_forth(s3):
    lake = S3Lake(BUCKET, "lake", keep_versions=5)
    for text in ("a", "bb", "ccc"):
        commit(lake, s3, "gold.m", text)
    assert lake.rollback("gold.m").version == 2
    assert json.loads(body(s3, "lake/gold/m/_current.json"))["rows"] == 2
    assert lake.rollback("gold.m", 1).rows == 1
    assert lake.rollback("gold.m", 3).version == 3
    with pytest.raises(UsageError, match=r"gold.m has no version 7 \(kept: 1, 2, 3\)"):
        lake.rollback("gold.m", 7)
    lake.rollback("gold.m", 1)
    with pytest.raises(UsageError, match=r"no version before 1 to roll back to \(kept: 1, 2, 3\)"):
        lake.rollback("gold.m")
    # after a rollback, the next write still gets a fresh number
    assert commit(lake, s3, "gold.m").version == 4


def test_prune_keeps_the_last_versions(s3):
    lake = S3Lake(BUCKET, "lake", keep_versions=2)
    for _ in range(4):
        commit(lake, s3, "bronze.x")
    assert lake.versions("bronze.x") == [3, 4]
    assert keys(s3, "lake/bronze/x/v000001") == [] and keys(s3, "lake/bronze/x/v000002") == []
    assert [t.table for t in lake.tables()] == ["bronze.x"]


def test_two_writers_cannot_both_publish(s3):
    a, b = S3Lake(BUCKET, "lake"), S3Lake(BUCKET, "lake")
    commit(a, s3, "silver.t", run_id="r0")
    wa, wb = a.begin("silver.t"), b.begin("silver.t")
    assert (wa.version, wb.version) == (2, 3)  # the claim keeps their files apart
    write_version(s3, wa, "from-a")
    write_version(s3, wb, "from-b")
    a.commit(wa, rows=6, columns=[], partition_by=[], run_id="ra")
    with pytest.raises(RunError, match=r"another writer moved its pointer meanwhile \(now version 2, run ra\)"):
        b.commit(wb, rows=6, columns=[], partition_by=[], run_id="rb")
    assert b.current("silver.t").run_id == "ra"
    assert body(s3, "lake/silver/t/v000002/part-0.parquet") == "from-a"
    b.abort(wb)
    assert b.versions("silver.t") == [1, 2]


def test_two_first_commits_cannot_both_publish(s3):
    a, b = S3Lake(BUCKET, "lake"), S3Lake(BUCKET, "lake")
    wa, wb = a.begin("bronze.n"), b.begin("bronze.n")
    write_version(s3, wa)
    write_version(s3, wb)
    b.commit(wb, rows=1, columns=[], partition_by=[], run_id="rb")
    with pytest.raises(RunError, match=r"now version 2, run rb"):
        a.commit(wa, rows=1, columns=[], partition_by=[], run_id="ra")


def test_a_crashed_writers_version_is_reused_once_its_claim_is_stale(s3):
    lake = S3Lake(BUCKET, "lake", stale_after_seconds=3600)
    commit(lake, s3, "silver.t")
    crashed = lake.begin("silver.t")
    write_version(s3, crashed, "partial")
    claim = json.loads(body(s3, "lake/silver/t/_claims/v000002.json"))
    other = lake.begin("silver.t")
    assert other.version == 3  # a live claim (this process) is skipped, not deleted
    lake.abort(other)
    claim.update(host="glue-worker-9", since_epoch=claim["since_epoch"] - 7200)  # two hours ago, elsewhere
    s3.put_object(Bucket=BUCKET, Key="lake/silver/t/_claims/v000002.json", Body=json.dumps(claim).encode())
    again = lake.begin("silver.t")
    assert again.version == 2
    assert keys(s3, "lake/silver/t/v000002") == []  # the partial files were removed


def test_kms_key_encrypts_every_object(s3):
    lake = S3Lake(BUCKET, "lake", kms_key="alias/medallion")
    commit(lake, s3, "gold.m")
    head = s3.head_object(Bucket=BUCKET, Key="lake/gold/m/_current.json")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == "alias/medallion"


def test_version_bytes_sizes_shuffles_on_s3_and_locally(s3, tmp_path):
    # the data file holds 10 bytes; the manifest is part of the version too
    lake = S3Lake(BUCKET, "lake")
    rec = commit(lake, s3, "silver.t", text="0123456789")
    manifest = len(body(s3, "lake/silver/t/v000001/_manifest.json").encode())
    assert lake.version_bytes(rec) == 10 + manifest
    local = LocalLake(tmp_path / "lake")
    pending = local.begin("silver.t")
    Path(pending.path).mkdir(parents=True, exist_ok=True)
    (Path(pending.path) / "part-0.parquet").write_bytes(b"0123456789")
    rec = local.commit(pending, rows=10, columns=[], partition_by=[], run_id="r")
    manifest = (Path(rec.path) / "_manifest.json").stat().st_size
    assert local.version_bytes(rec) == 10 + manifest


def test_a_lake_copied_to_another_prefix_reads_its_own_objects(s3):
    lake = S3Lake(BUCKET, "lake")
    pending = lake.begin("silver.t")
    write_version(s3, pending)
    lake.commit(pending, rows=1, columns=[], partition_by=[], run_id="r1")
    for key in keys(s3):
        s3.copy_object(Bucket=BUCKET, Key="copy/" + key.removeprefix("lake/"),
                       CopySource={"Bucket": BUCKET, "Key": key})
    copy = S3Lake(BUCKET, "copy")
    assert copy.require("silver.t").path == "s3://medallion-lake/copy/silver/t/v000001"
    assert [t.path for t in copy.tables()] == ["s3://medallion-lake/copy/silver/t/v000001"]
