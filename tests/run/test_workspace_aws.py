"""The aws profile's workspace: S3 lake, S3 run store, S3 lock and Secrets Manager, wired by config."""

import json
import socket

import boto3
import pytest
from moto import mock_aws

from engine.io.s3lake import S3Lake
from engine.io.secretsmanager import SecretsManagerProvider
from engine.run.workspace import Workspace
from engine.spec.project import load_project

AWS_CONFIG = """\
name: p
variables: {}
profiles:
  aws:
    lake: {kind: s3, bucket: medallion-lake, prefix: lake}
    warehouse: {kind: duckdb, path: w.db}
    secrets: {kind: aws_secrets_manager, prefix: medallion/}
    keep_versions: 3
"""


def open_aws(make_project):
    root = make_project({}, config=AWS_CONFIG)
    return Workspace(load_project(root, "aws", env={}), [])


def keys(s3):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="medallion-lake").get("Contents", []))


def test_aws_profile_builds_s3_implementations_without_calling_aws(make_project):
    ws = open_aws(make_project)  # no mock: building them must not touch the network
    assert isinstance(ws.lake, S3Lake) and ws.lake.keep_versions == 3
    assert str(ws.lake.root) == "s3://medallion-lake/lake"
    assert str(ws.store.folder) == "s3://medallion-lake/lake/_runs"
    assert ws.lock("r").path == "s3://medallion-lake/lake/_lock.json"
    assert isinstance(ws.secrets, SecretsManagerProvider) and ws.secrets.prefix == "medallion/"


def test_lock_store_and_secrets_live_in_aws(make_project):
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="medallion-lake")
        boto3.client("secretsmanager").create_secret(Name="medallion/card_hmac_key", SecretString="k3y")
        ws = open_aws(make_project)
        from engine.run.record import RunRecord

        with ws.lock("20261125T031500123Z-a1b2c3"):
            held = json.loads(s3.get_object(Bucket="medallion-lake", Key="lake/_lock.json")["Body"].read())
            assert held["run_id"] == "20261125T031500123Z-a1b2c3" and held["host"] == socket.gethostname()
            ws.store.save(RunRecord(run_id="20261125T031500123Z-a1b2c3", project="p", profile="aws"))
        assert keys(s3) == ["lake/_runs/20261125T031500123Z-a1b2c3.json"]
        assert [r.run_id for r in ws.store.list()] == ["20261125T031500123Z-a1b2c3"]
        assert ws.secrets.get("card_hmac_key") == "k3y"


@pytest.fixture()
def moto_server(monkeypatch):
    """A moto server on loopback, reached through AWS_ENDPOINT_URL as any boto3 client would."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    yield
    server.stop()


def test_aws_endpoint_url_is_honoured(make_project, moto_server):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="medallion-lake")
    lake = open_aws(make_project).lake
    pending = lake.begin("bronze.a")
    s3.put_object(Bucket="medallion-lake", Key="lake/bronze/a/v000001/part-0.parquet", Body=b"x")
    lake.commit(pending, rows=1, columns=[], partition_by=[], run_id="r")
    assert lake.current("bronze.a").path == "s3://medallion-lake/lake/bronze/a/v000001"
    assert "lake/bronze/a/_current.json" in keys(s3)
