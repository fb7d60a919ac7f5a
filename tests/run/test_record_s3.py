"""Run records on an S3 prefix (moto): the same JSON as the local ``_runs`` folder."""

import json

import boto3
import pytest
from moto import mock_aws

from engine.io.s3lake import S3Store
from engine.run.record import RunRecord, RunStore, SpecRecord

BUCKET = "medallion-lake"


@pytest.fixture()
def s3():
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def record(run_id, status="ok"):
    return RunRecord(run_id=run_id, project="p", profile="aws", selection=["bronze.a"], status=status,
                     started_at="2026-11-25T03:15:00+00:00",
                     specs=[SpecRecord(spec="bronze.a", layer="bronze", status=status, attempts=2, rows_out=7)])


def test_round_trip_list_and_missing(s3):
    store = RunStore(S3Store(BUCKET, "lake/_runs"))
    assert store.list() == [] and store.load("nope") is None
    where = store.save(record("20261125T031500123Z-bbbbbb", "failed"))
    store.save(record("20261124T031500123Z-aaaaaa"))
    assert where == "s3://medallion-lake/lake/_runs/20261125T031500123Z-bbbbbb.json"
    loaded = store.load("20261125T031500123Z-bbbbbb")
    assert loaded.status == "failed" and loaded.spec("bronze.a").attempts == 2
    assert loaded.spec("bronze.a").rows_out == 7
    assert [r.run_id for r in store.list()] == ["20261124T031500123Z-aaaaaa", "20261125T031500123Z-bbbbbb"]
    store.save(loaded.model_copy(update={"status": "ok"}))  # overwrite in place
    assert store.load("20261125T031500123Z-bbbbbb").status == "ok" and len(store.list()) == 2


def test_artefacts_are_kept_apart_from_runs(s3):
    store = RunStore(S3Store(BUCKET, "lake/_runs"))
    assert store.load_artefact("clv_fit") is None
    store.save_artefact("clv_fit", {"r": 0.25, "converged": True})
    store.save_artefact("clv_fit", {"r": 0.5, "converged": True})
    assert store.load_artefact("clv_fit") == {"r": 0.5, "converged": True}
    assert store.list() == []  # an artefact is not a run
    assert "lake/_runs/_artefacts/clv_fit.json" in [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]


def test_same_bytes_as_the_local_store(s3, tmp_path):
    rec = record("20261125T031500123Z-cccccc")
    RunStore(tmp_path / "_runs").save(rec)
    RunStore(S3Store(BUCKET, "lake/_runs")).save(rec)
    on_disk = (tmp_path / "_runs" / "20261125T031500123Z-cccccc.json").read_bytes()
    on_s3 = s3.get_object(Bucket=BUCKET, Key="lake/_runs/20261125T031500123Z-cccccc.json")["Body"].read()
    assert on_disk == on_s3 and json.loads(on_s3)["specs"][0]["rows_out"] == 7
